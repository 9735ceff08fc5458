//! `rehabit demo`: a new clinic full of plausible data — an admin, a practitioner, clients in
//! several timezones with the built-in hip routines as homework, and weeks of session logs
//! (pain trending down, the left hip catching up with the right, missed days, one flagged
//! session). People use it to try the API; benchmarks use it with `--clients` to build large
//! data sets quickly.
//!
//! The rows are the ones the API would have written — homework items copied from the routine,
//! schedules and local dates in the client's timezone, the session handler's content hash, flags
//! by the same rule — but they go in with bulk inserts, in one transaction, and never touch
//! another clinic. The demo writes no outbox events: it is seed data, not changes an
//! integration should hear about.

pub mod generate;
pub mod measures;
pub mod report;

use crate::auth::{Role, password, queries as auth_queries};
use crate::clients::queries::NewClient;
use crate::clinics::queries as clinic_queries;
use crate::db::SYSTEM_CLINIC_ID;
use crate::db::schema::{
    assignment_items, assignments, clients, monitoring_episodes, monitoring_interactions, questionnaire_assignments,
    questionnaire_responses, session_entries, session_logs, session_measurements,
};
use crate::library::content::{HIP_MOBILITY, HIP_STRENGTHENING};
use crate::practitioners::queries::{NewMembership, insert_membership};
use crate::routines::queries as routine_queries;
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use generate::{ClientData, Homework, LOGINS, Routine, Setting};
use serde::Serialize;
use std::time::Instant;
use uuid::Uuid;

/// Every demo login's password. It is printed, and only ever guards demo data.
pub const PASSWORD: &str = "rehabit-demo-password";
/// The seed when `--seed` is not given: the same story every time.
pub const DEFAULT_SEED: u64 = 7301;
pub const MAX_CLIENTS: u32 = 100_000;
pub const MAX_WEEKS: u32 = 52;

const ADMIN_NAME: &str = "Ana Ruiz";
const PRACTITIONER_NAME: &str = "Pat Morgan";
/// Clients generated and inserted at a time: bounds memory whatever the clinic's size.
const BATCH: u32 = 100;
const _: () = assert!(BATCH >= LOGINS, "every client with a login is in the first batch");

/// What `rehabit demo` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub clients: u32,
    pub weeks: u32,
    pub seed: u64,
    pub json: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clients: 3,
            weeks: 6,
            seed: DEFAULT_SEED,
            json: false,
        }
    }
}

/// A staff login of the demo clinic.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    pub name: String,
    pub email: String,
    pub password: String,
}

/// A demo client with a login.
#[derive(Debug, Clone, Serialize)]
pub struct ClientLogin {
    pub client_id: Uuid,
    pub name: String,
    pub email: String,
    pub password: String,
    pub timezone: String,
}

/// Rows inserted, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub clinics: usize,
    pub users: usize,
    pub memberships: usize,
    pub clients: usize,
    pub assignments: usize,
    pub assignment_items: usize,
    pub session_logs: usize,
    pub session_entries: usize,
    pub session_measurements: usize,
    pub questionnaire_assignments: usize,
    pub questionnaire_responses: usize,
    pub monitoring_episodes: usize,
    pub monitoring_interactions: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.clinics
            + self.users
            + self.memberships
            + self.clients
            + self.assignments
            + self.assignment_items
            + self.session_logs
            + self.session_entries
            + self.session_measurements
            + self.questionnaire_assignments
            + self.questionnaire_responses
            + self.monitoring_episodes
            + self.monitoring_interactions
    }
}

/// What a demo run made.
#[derive(Debug, Clone)]
pub struct Report {
    pub clinic_id: Uuid,
    pub clinic_name: String,
    pub seed: u64,
    pub weeks: u32,
    pub admin: Login,
    pub practitioner: Login,
    /// The clients with logins (the first three).
    pub client_logins: Vec<ClientLogin>,
    /// Every client, in creation order.
    pub client_ids: Vec<Uuid>,
    pub counts: Counts,
    /// Occurrences due before today, how many have a log, and how many logs are flagged.
    pub scheduled: u64,
    pub done: u64,
    pub flagged: usize,
    pub elapsed_ms: u128,
}

/// A short random tag that makes the clinic's name and emails new on every run.
fn run_tag() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 6];
    if getrandom::fill(&mut bytes).is_err() {
        // Unique enough for demo data when the OS will not say.
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        bytes.copy_from_slice(&nanos.to_le_bytes()[..6]);
    }
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// A built-in routine with its items, as the database holds them.
async fn builtin(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Routine, String> {
    let missing = || "the built-in library is not installed: run `rehabit migrate` first".to_string();
    let view = routine_queries::find_visible(conn, SYSTEM_CLINIC_ID, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(missing)?;
    let items = routine_queries::items(conn, SYSTEM_CLINIC_ID, id)
        .await
        .map_err(|e| e.to_string())?;
    if items.is_empty() {
        return Err(missing());
    }
    Ok(Routine {
        id,
        name: view.routine.name,
        items,
    })
}

/// PostgreSQL takes at most 65535 bind parameters in one statement, and an inserted row binds
/// at most one per column: so a statement takes `MAX_BINDS / columns` rows.
const MAX_BINDS: usize = 65_535;

/// Columns of the tables the demo fills in bulk (`tests` checks them against the schema).
mod columns {
    pub const CLIENTS: usize = 11;
    pub const ASSIGNMENTS: usize = 17;
    pub const ASSIGNMENT_ITEMS: usize = 13;
    pub const SESSION_LOGS: usize = 22;
    pub const SESSION_ENTRIES: usize = 11;
    pub const SESSION_MEASUREMENTS: usize = 7;
    pub const QUESTIONNAIRE_ASSIGNMENTS: usize = 13;
    pub const QUESTIONNAIRE_RESPONSES: usize = 14;
    pub const MONITORING_EPISODES: usize = 8;
    pub const MONITORING_INTERACTIONS: usize = 11;
}

/// Inserts `rows` into `table` in as few statements as the bind limit allows; answers how many
/// rows went in.
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr, $columns:expr) => {{
        let mut inserted = 0usize;
        for chunk in $rows.chunks(MAX_BINDS / $columns) {
            inserted += diesel::insert_into($table).values(chunk).execute(&mut *$conn).await?;
        }
        inserted
    }};
}

/// A staff login: a user and an accepted membership.
async fn staff(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    role: Role,
    name: &str,
    email: &str,
    hash: &str,
) -> QueryResult<Uuid> {
    let user_id = auth_queries::insert_user(conn, email, Some(hash)).await?;
    let membership = insert_membership(
        conn,
        &NewMembership {
            id: Uuid::now_v7(),
            clinic_id,
            user_id,
            role,
            name,
            accepted_at: Some(Utc::now()),
            client_id: None,
            external_id: None,
        },
    )
    .await?;
    Ok(membership.id)
}

/// Inserts one batch of clients with their logins, homework and logs.
async fn insert_batch(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    batch: Vec<ClientData>,
    measures: Vec<measures::Measures>,
    hashes: &[String],
    now: DateTime<Utc>,
    counts: &mut Counts,
) -> QueryResult<Vec<ClientLogin>> {
    let new_clients: Vec<NewClient<'_>> = batch
        .iter()
        .map(|c| NewClient {
            id: c.id,
            clinic_id,
            name: &c.name,
            email: Some(&c.email),
            timezone: c.timezone,
            primary_practitioner_id: c.primary_practitioner_id,
            external_id: Some(&c.external_id),
        })
        .collect();
    counts.clients += insert_all!(conn, clients::table, new_clients, columns::CLIENTS);
    // Logins before the logs, which name the client's membership as who logged them.
    let mut logins = Vec::new();
    for (c, hash) in batch.iter().filter(|c| c.login.is_some()).zip(hashes) {
        let user_id = auth_queries::insert_user(conn, &c.email, Some(hash)).await?;
        insert_membership(
            conn,
            &NewMembership {
                id: c.login.unwrap_or_else(Uuid::now_v7),
                clinic_id,
                user_id,
                role: Role::Client,
                name: &c.name,
                accepted_at: Some(now),
                client_id: Some(c.id),
                external_id: None,
            },
        )
        .await?;
        counts.users += 1;
        counts.memberships += 1;
        logins.push(ClientLogin {
            client_id: c.id,
            name: c.name.clone(),
            email: c.email.clone(),
            password: PASSWORD.to_string(),
            timezone: c.timezone.to_string(),
        });
    }
    let (mut homework, mut items, mut sessions, mut entries, mut measurements) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in batch {
        homework.extend(c.assignments);
        items.extend(c.items);
        sessions.extend(c.sessions);
        entries.extend(c.entries);
        measurements.extend(c.measurements);
    }
    counts.assignments += insert_all!(conn, assignments::table, homework, columns::ASSIGNMENTS);
    counts.assignment_items += insert_all!(conn, assignment_items::table, items, columns::ASSIGNMENT_ITEMS);
    counts.session_logs += insert_all!(conn, session_logs::table, sessions, columns::SESSION_LOGS);
    counts.session_entries += insert_all!(conn, session_entries::table, entries, columns::SESSION_ENTRIES);
    counts.session_measurements += insert_all!(
        conn,
        session_measurements::table,
        measurements,
        columns::SESSION_MEASUREMENTS
    );
    let mut m = measures::Measures::default();
    for one in measures {
        m.questionnaire_assignments.extend(one.questionnaire_assignments);
        m.responses.extend(one.responses);
        m.episodes.extend(one.episodes);
        m.interactions.extend(one.interactions);
    }
    counts.questionnaire_assignments += insert_all!(
        conn,
        questionnaire_assignments::table,
        m.questionnaire_assignments,
        columns::QUESTIONNAIRE_ASSIGNMENTS
    );
    counts.questionnaire_responses += insert_all!(
        conn,
        questionnaire_responses::table,
        m.responses,
        columns::QUESTIONNAIRE_RESPONSES
    );
    counts.monitoring_episodes += insert_all!(
        conn,
        monitoring_episodes::table,
        m.episodes,
        columns::MONITORING_EPISODES
    );
    counts.monitoring_interactions += insert_all!(
        conn,
        monitoring_interactions::table,
        m.interactions,
        columns::MONITORING_INTERACTIONS
    );
    Ok(logins)
}

/// A bulk load leaves the planner's statistics behind until autovacuum catches up, minutes
/// later; until then PostgreSQL plans the new clinic's queries as if its tables were nearly
/// empty. Refreshing them costs well under a second even after a benchmark-sized load.
async fn refresh_statistics(conn: &mut AsyncPgConnection) {
    let tables = "clients, memberships, assignments, assignment_items, session_logs, session_entries, \
                  session_measurements, questionnaire_assignments, questionnaire_responses, \
                  monitoring_episodes, monitoring_interactions";
    if let Err(e) = diesel::sql_query(format!("ANALYZE {tables}")).execute(conn).await {
        tracing::warn!(error = %e, "could not refresh the planner's statistics after the demo");
    }
}

/// Fills a new demo clinic in the database `conn` is connected to (migrated, with the
/// built-in library installed), in one transaction.
pub async fn run(conn: &mut AsyncPgConnection, options: &Options) -> Result<Report, String> {
    let started = Instant::now();
    let now = Utc::now().trunc_subsecs(6);
    let homework: Vec<Homework> = generate::hip_program(
        builtin(conn, HIP_MOBILITY).await?,
        builtin(conn, HIP_STRENGTHENING).await?,
    );
    let tag = run_tag();
    let domain = format!("demo-{tag}.example");
    let clinic_name = format!("Rehabit demo clinic {tag}");
    let admin = Login {
        name: ADMIN_NAME.to_string(),
        email: format!("ana.ruiz@{domain}"),
        password: PASSWORD.to_string(),
    };
    let practitioner = Login {
        name: PRACTITIONER_NAME.to_string(),
        email: format!("pat.morgan@{domain}"),
        password: PASSWORD.to_string(),
    };
    // argon2 is slow on purpose, so only a few logins get one; hashed before the transaction.
    let mut hashes = Vec::new();
    for _ in 0..2 + options.clients.min(LOGINS) {
        hashes.push(
            password::hash(PASSWORD.to_string())
                .await
                .map_err(|e| format!("hashing the demo password failed: {e}"))?,
        );
    }

    let (clinic_id, client_logins, client_ids, counts, scheduled, done, flagged) = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let clinic = clinic_queries::insert(conn, &clinic_name).await?;
            let admin_id = staff(conn, clinic.id, Role::Admin, &admin.name, &admin.email, &hashes[0]).await?;
            let practitioner_id = staff(
                conn,
                clinic.id,
                Role::Practitioner,
                &practitioner.name,
                &practitioner.email,
                &hashes[1],
            )
            .await?;
            let mut counts = Counts {
                clinics: 1,
                users: 2,
                memberships: 2,
                ..Counts::default()
            };
            let staff_ids = [practitioner_id, admin_id];
            let setting = Setting {
                clinic_id: clinic.id,
                seed: options.seed,
                clients: options.clients,
                weeks: options.weeks,
                now,
                domain: &domain,
                homework: &homework,
                staff: &staff_ids,
            };
            let (mut logins, mut ids) = (Vec::new(), Vec::new());
            let (mut scheduled, mut done, mut flagged) = (0u64, 0u64, 0usize);
            let mut first = 0;
            while first < options.clients {
                let last = (first + BATCH).min(options.clients);
                let (batch, measured): (Vec<ClientData>, Vec<measures::Measures>) = {
                    let mut new_id = Uuid::now_v7;
                    (first..last)
                        .map(|i| {
                            let c = generate::client(&setting, i, &mut new_id);
                            let m = measures::measures(&setting, i, &c, &mut new_id);
                            (c, m)
                        })
                        .unzip()
                };
                for c in &batch {
                    ids.push(c.id);
                    scheduled += u64::from(c.scheduled);
                    done += u64::from(c.scheduled - c.missed);
                    flagged += c.sessions.iter().filter(|s| s.flagged).count();
                }
                logins.extend(insert_batch(conn, clinic.id, batch, measured, &hashes[2..], now, &mut counts).await?);
                first = last;
            }
            Ok((clinic.id, logins, ids, counts, scheduled, done, flagged))
        })
        .await
        .map_err(|e| format!("filling the demo clinic failed: {e}"))?;
    refresh_statistics(conn).await;

    Ok(Report {
        clinic_id,
        clinic_name,
        seed: options.seed,
        weeks: options.weeks,
        admin,
        practitioner,
        client_logins,
        client_ids,
        counts,
        scheduled,
        done,
        flagged,
        elapsed_ms: started.elapsed().as_millis(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::pg::Pg;

    #[test]
    fn tags_are_short_and_fit_in_an_email_domain() {
        let (a, b) = (run_tag(), run_tag());
        assert_eq!(a.len(), 6);
        assert_ne!(a, b);
        assert!(crate::values::Email::parse(&format!("ana@demo-{a}.example")).is_ok());
    }

    /// Columns of a table as diesel renders its full select list.
    fn count_columns<T>(name: &str, select: T) -> usize
    where
        T: diesel::query_builder::QueryFragment<Pg>,
    {
        diesel::debug_query::<Pg, _>(&select)
            .to_string()
            .matches(&format!("\"{name}\"."))
            .count()
    }

    #[test]
    fn chunk_sizes_know_every_column() {
        use crate::db::schema::*;
        assert_eq!(
            count_columns("clients", clients::table.select(clients::all_columns)),
            columns::CLIENTS
        );
        assert_eq!(
            count_columns("assignments", assignments::table.select(assignments::all_columns)),
            columns::ASSIGNMENTS
        );
        assert_eq!(
            count_columns(
                "assignment_items",
                assignment_items::table.select(assignment_items::all_columns)
            ),
            columns::ASSIGNMENT_ITEMS
        );
        assert_eq!(
            count_columns("session_logs", session_logs::table.select(session_logs::all_columns)),
            columns::SESSION_LOGS
        );
        assert_eq!(
            count_columns(
                "session_entries",
                session_entries::table.select(session_entries::all_columns)
            ),
            columns::SESSION_ENTRIES
        );
        assert_eq!(
            count_columns(
                "session_measurements",
                session_measurements::table.select(session_measurements::all_columns)
            ),
            columns::SESSION_MEASUREMENTS
        );
        assert_eq!(
            count_columns(
                "questionnaire_assignments",
                questionnaire_assignments::table.select(questionnaire_assignments::all_columns)
            ),
            columns::QUESTIONNAIRE_ASSIGNMENTS
        );
        assert_eq!(
            count_columns(
                "questionnaire_responses",
                questionnaire_responses::table.select(questionnaire_responses::all_columns)
            ),
            columns::QUESTIONNAIRE_RESPONSES
        );
        assert_eq!(
            count_columns(
                "monitoring_episodes",
                monitoring_episodes::table.select(monitoring_episodes::all_columns)
            ),
            columns::MONITORING_EPISODES
        );
        assert_eq!(
            count_columns(
                "monitoring_interactions",
                monitoring_interactions::table.select(monitoring_interactions::all_columns)
            ),
            columns::MONITORING_INTERACTIONS
        );
    }
}
