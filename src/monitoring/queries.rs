//! Monitoring episodes and interactions, and the client-entered data the ledger counts.

use crate::db::schema::{monitoring_episodes, monitoring_interactions, questionnaire_responses, session_logs};
use crate::monitoring::dto::{EpisodeResponse, InteractionKind, InteractionResponse};
use crate::monitoring::ledger::{Contact, DataPoint, local_date};
use crate::outcomes::dto::AnsweredBy;
use crate::sessions::dto::LoggedByRole;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = monitoring_episodes)]
pub struct EpisodeRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub client_id: Uuid,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EpisodeRow {
    pub fn new(clinic_id: Uuid, client_id: Uuid, start_date: NaiveDate, end_date: Option<NaiveDate>) -> Self {
        let now = Utc::now().trunc_subsecs(6);
        EpisodeRow {
            id: Uuid::now_v7(),
            clinic_id,
            client_id,
            start_date,
            end_date,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn to_response(&self) -> EpisodeResponse {
        EpisodeResponse {
            id: self.id,
            client_id: self.client_id,
            start_date: self.start_date,
            end_date: self.end_date,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = monitoring_interactions)]
pub struct InteractionRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub client_id: Uuid,
    pub kind: InteractionKind,
    pub minutes: i32,
    pub interactive: bool,
    pub occurred_at: DateTime<Utc>,
    pub recorded_by: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl InteractionRow {
    pub fn to_response(&self) -> InteractionResponse {
        InteractionResponse {
            id: self.id,
            client_id: self.client_id,
            kind: self.kind,
            minutes: self.minutes,
            interactive: self.interactive,
            occurred_at: self.occurred_at,
            recorded_by: self.recorded_by,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

pub async fn insert_episode(conn: &mut AsyncPgConnection, row: &EpisodeRow) -> QueryResult<()> {
    diesel::insert_into(monitoring_episodes::table)
        .values(row)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn find_episode(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
    lock: bool,
) -> QueryResult<Option<EpisodeRow>> {
    let q = monitoring_episodes::table
        .filter(monitoring_episodes::clinic_id.eq(clinic_id))
        .filter(monitoring_episodes::id.eq(id))
        .select(EpisodeRow::as_select());
    if lock {
        q.for_update().first(conn).await.optional()
    } else {
        q.first(conn).await.optional()
    }
}

/// Whether another episode of the client overlaps `[start, end]` (open ends run for ever).
pub async fn overlaps(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    except: Option<Uuid>,
    start: NaiveDate,
    end: Option<NaiveDate>,
) -> QueryResult<bool> {
    let mut q = monitoring_episodes::table
        .filter(monitoring_episodes::clinic_id.eq(clinic_id))
        .filter(monitoring_episodes::client_id.eq(client_id))
        .filter(
            monitoring_episodes::end_date
                .is_null()
                .or(monitoring_episodes::end_date.ge(start)),
        )
        .into_boxed();
    if let Some(end) = end {
        q = q.filter(monitoring_episodes::start_date.le(end));
    }
    if let Some(id) = except {
        q = q.filter(monitoring_episodes::id.ne(id));
    }
    diesel::select(diesel::dsl::exists(q.select(monitoring_episodes::id)))
        .get_result(conn)
        .await
}

pub async fn set_end(conn: &mut AsyncPgConnection, id: Uuid, end: Option<NaiveDate>) -> QueryResult<EpisodeRow> {
    diesel::update(monitoring_episodes::table.find(id))
        .set((
            monitoring_episodes::end_date.eq(end),
            monitoring_episodes::version.eq(monitoring_episodes::version + 1),
            monitoring_episodes::updated_at.eq(Utc::now().trunc_subsecs(6)),
        ))
        .returning(EpisodeRow::as_returning())
        .get_result(conn)
        .await
}

/// The episodes of these clients, oldest first.
pub async fn episodes_of(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    clients: &[Uuid],
) -> QueryResult<Vec<EpisodeRow>> {
    monitoring_episodes::table
        .filter(monitoring_episodes::clinic_id.eq(clinic_id))
        .filter(monitoring_episodes::client_id.eq_any(clients))
        .order((monitoring_episodes::start_date, monitoring_episodes::id))
        .select(EpisodeRow::as_select())
        .load(conn)
        .await
}

/// A page of the clinic's episodes by id, after `after`, starting before `before`.
pub async fn clinic_episodes(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    before: Option<NaiveDate>,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<EpisodeRow>> {
    let mut q = monitoring_episodes::table
        .filter(monitoring_episodes::clinic_id.eq(clinic_id))
        .order(monitoring_episodes::id)
        .limit(limit + 1)
        .select(EpisodeRow::as_select())
        .into_boxed();
    if let Some(b) = before {
        q = q.filter(monitoring_episodes::start_date.lt(b));
    }
    if let Some(a) = after {
        q = q.filter(monitoring_episodes::id.gt(a));
    }
    q.load(conn).await
}

pub async fn insert_interaction(conn: &mut AsyncPgConnection, row: &InteractionRow) -> QueryResult<()> {
    diesel::insert_into(monitoring_interactions::table)
        .values(row)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn find_interaction(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<InteractionRow>> {
    monitoring_interactions::table
        .filter(monitoring_interactions::clinic_id.eq(clinic_id))
        .filter(monitoring_interactions::id.eq(id))
        .select(InteractionRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Field corrections; `None` leaves a column as it is.
#[derive(AsChangeset, Default)]
#[diesel(table_name = monitoring_interactions)]
pub struct InteractionChanges {
    pub kind: Option<InteractionKind>,
    pub minutes: Option<i32>,
    pub interactive: Option<bool>,
    pub occurred_at: Option<DateTime<Utc>>,
}

pub async fn update_interaction(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &InteractionChanges,
) -> QueryResult<InteractionRow> {
    diesel::update(monitoring_interactions::table.find(id))
        .set((
            changes,
            monitoring_interactions::version.eq(monitoring_interactions::version + 1),
            monitoring_interactions::updated_at.eq(Utc::now().trunc_subsecs(6)),
        ))
        .returning(InteractionRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete_interaction(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(monitoring_interactions::table.find(id))
        .execute(conn)
        .await
}

/// The interactions of these clients, oldest first.
pub async fn interactions_of(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    clients: &[Uuid],
) -> QueryResult<Vec<InteractionRow>> {
    monitoring_interactions::table
        .filter(monitoring_interactions::clinic_id.eq(clinic_id))
        .filter(monitoring_interactions::client_id.eq_any(clients))
        .order((monitoring_interactions::occurred_at, monitoring_interactions::id))
        .select(InteractionRow::as_select())
        .load(conn)
        .await
}

/// What the ledgers of some clients are computed from.
#[derive(Debug, Default)]
pub struct LedgerInputs {
    pub data: HashMap<Uuid, Vec<DataPoint>>,
    pub contacts: HashMap<Uuid, Vec<Contact>>,
    /// The interactions, oldest first.
    pub interactions: Vec<InteractionRow>,
}

/// What the ledger of these clients (with their timezones) needs: each client's data points
/// (session logs the client logged, responses the client made) from `from` on, and contacts.
pub async fn ledger_inputs(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    clients: &HashMap<Uuid, Tz>,
    from: NaiveDate,
) -> QueryResult<LedgerInputs> {
    let ids: Vec<Uuid> = clients.keys().copied().collect();
    /// A client's log: `(client, local date, arrived, deleted)`.
    type LogDay = (Uuid, NaiveDate, DateTime<Utc>, Option<DateTime<Utc>>);
    let logs: Vec<LogDay> = session_logs::table
        .filter(session_logs::clinic_id.eq(clinic_id))
        .filter(session_logs::client_id.eq_any(&ids))
        .filter(session_logs::logged_by_role.eq(LoggedByRole::Client))
        .filter(session_logs::local_date.ge(from))
        .select((
            session_logs::client_id,
            session_logs::local_date,
            session_logs::created_at,
            session_logs::deleted_at,
        ))
        .load(conn)
        .await?;
    let answers: Vec<(Uuid, NaiveDate, DateTime<Utc>)> = questionnaire_responses::table
        .filter(questionnaire_responses::clinic_id.eq(clinic_id))
        .filter(questionnaire_responses::client_id.eq_any(&ids))
        .filter(questionnaire_responses::answered_by_role.eq(AnsweredBy::Client))
        .filter(questionnaire_responses::local_date.ge(from))
        .select((
            questionnaire_responses::client_id,
            questionnaire_responses::local_date,
            questionnaire_responses::created_at,
        ))
        .load(conn)
        .await?;
    let tz = |c: &Uuid| clients.get(c).copied().unwrap_or(Tz::UTC);
    let mut data: HashMap<Uuid, Vec<DataPoint>> = HashMap::new();
    for (c, date, created, deleted) in logs {
        data.entry(c).or_default().push(DataPoint {
            date,
            arrived: local_date(created, tz(&c)),
            deleted: deleted.map(|d| local_date(d, tz(&c))),
        });
    }
    for (c, date, created) in answers {
        data.entry(c).or_default().push(DataPoint {
            date,
            arrived: local_date(created, tz(&c)),
            deleted: None,
        });
    }
    let interactions = interactions_of(conn, clinic_id, &ids).await?;
    let mut contacts: HashMap<Uuid, Vec<Contact>> = HashMap::new();
    for i in &interactions {
        contacts.entry(i.client_id).or_default().push(Contact {
            date: local_date(i.occurred_at, tz(&i.client_id)),
            minutes: i.minutes,
            interactive: i.interactive,
        });
    }
    Ok(LedgerInputs {
        data,
        contacts,
        interactions,
    })
}
