//! The transactional outbox. Every write path that an integrator cares about calls [`emit`]
//! inside its own transaction; the event commits or rolls back with the change.
//!
//! Per clinic, `seq` numbers events in the order they became visible. `emit` writes an event
//! without a number, taking no lock any other writer waits for. [`sequence`] gives the numbers
//! after commit: under the clinic's counter row lock, it numbers every event it can see that has
//! none (each transaction's events together, in the order they were written), above every
//! number given before. An event is visible to
//! it only once its transaction has committed, so a number, once given, is never followed by a
//! smaller one, and a poller following `seq` never skips an event nor sees one twice, however
//! long a writer keeps its transaction open (its events are numbered when it commits). The feed
//! runs the sequencer before it reads; housekeeping runs it for every clinic, so events of
//! clinics nobody polls do not wait without bound.
//!
//! `emit` also records the audit event of the request making the change (`audit::record`) in
//! the same transaction. Webhooks follow the outbox on their own: a database trigger on
//! `events` queues a delivery for each subscribed endpoint in the event's transaction (the
//! webhooks migration `outbox_fan_out`), so the outbox knows nothing of them.

pub mod dto;
pub mod handlers;

use crate::auth::{Permission, Permissions};
use crate::db::schema::{event_counters, events};
use crate::error::ApiError;
use crate::text_enum;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

text_enum! {
    /// The kinds of event Rehabit emits.
    pub enum EventType {
        ClinicCreated => "clinic.created",
        PractitionerCreated => "practitioner.created",
        PractitionerUpdated => "practitioner.updated",
        ClientCreated => "client.created",
        ClientUpdated => "client.updated",
        ClientArchived => "client.archived",
        ClientRestored => "client.restored",
        /// The client's personal data was erased: `{client_id, external_id}`; delete your copies.
        ClientErased => "client.erased",
        ExerciseCreated => "exercise.created",
        ExerciseUpdated => "exercise.updated",
        ExerciseArchived => "exercise.archived",
        ExerciseDeleted => "exercise.deleted",
        RoutineCreated => "routine.created",
        RoutineUpdated => "routine.updated",
        RoutineDeleted => "routine.deleted",
        AssignmentCreated => "assignment.created",
        AssignmentUpdated => "assignment.updated",
        AssignmentStatusChanged => "assignment.status_changed",
        SessionLogged => "session.logged",
        SessionUpdated => "session.updated",
        SessionDeleted => "session.deleted",
        SessionFlagged => "session.flagged",
        /// A client completed a questionnaire (or staff entered it on their behalf).
        QuestionnaireCompleted => "questionnaire.completed",
        /// A slot's reminder time came and the slot is not done: `{client_id, assignment_id, date, slot}`.
        OccurrenceDue => "occurrence.due",
        /// The client's local day ended with the slot undone: `{client_id, assignment_id, date, slot}`.
        OccurrenceMissed => "occurrence.missed",
    }
}

impl EventType {
    /// The permission that reading this kind of event needs on top of `events:read`: the one
    /// that reads its resource (DESIGN.md, "Least privilege reaches every path to the data").
    /// `None`: `events:read` alone.
    pub fn read_permission(self) -> Option<Permission> {
        use EventType::*;
        match self {
            ClinicCreated => None,
            PractitionerCreated | PractitionerUpdated => Some(Permission::PractitionersRead),
            ClientCreated | ClientUpdated | ClientArchived | ClientRestored | ClientErased => {
                Some(Permission::ClientsRead)
            }
            ExerciseCreated | ExerciseUpdated | ExerciseArchived | ExerciseDeleted => Some(Permission::ExercisesRead),
            RoutineCreated | RoutineUpdated | RoutineDeleted => Some(Permission::RoutinesRead),
            AssignmentCreated | AssignmentUpdated | AssignmentStatusChanged | OccurrenceDue | OccurrenceMissed => {
                Some(Permission::AssignmentsRead)
            }
            SessionLogged | SessionUpdated | SessionDeleted | SessionFlagged => Some(Permission::SessionsRead),
            QuestionnaireCompleted => Some(Permission::OutcomesRead),
        }
    }

    /// Whether a caller may read events of this type (through the feed or a webhook).
    pub fn readable_by(self, permissions: Permissions) -> bool {
        permissions.contains(Permission::EventsRead) && self.read_permission().is_none_or(|p| permissions.contains(p))
    }

    /// 403 naming the first type of `types` the caller may not read, and what it needs.
    pub fn require_readable(types: &[EventType], permissions: Permissions, doing: &str) -> Result<(), ApiError> {
        match types.iter().find(|t| !t.readable_by(permissions)) {
            None => Ok(()),
            Some(t) => {
                let needs = match t.read_permission() {
                    Some(p) => format!("`events:read` and `{p}`"),
                    None => "`events:read`".to_string(),
                };
                Err(ApiError::forbidden(format!(
                    "{doing} `{t}` events needs {needs}, which the caller does not have."
                )))
            }
        }
    }
}

/// Records one event in the caller's transaction; `data` is the resource as the API shows it.
pub async fn emit<T: Serialize>(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    event_type: EventType,
    data: &T,
) -> QueryResult<Uuid> {
    let data = serde_json::to_value(data).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let id = Uuid::now_v7();
    diesel::insert_into(events::table)
        .values((
            events::clinic_id.eq(clinic_id),
            events::id.eq(id),
            events::event_type.eq(event_type.as_str()),
            events::data.eq(&data),
        ))
        .execute(conn)
        .await?;
    // The request that made this change is audited in the same transaction (see `audit`).
    crate::audit::note::event(event_type.as_str(), &data);
    crate::audit::record(conn).await?;
    Ok(id)
}

/// Numbers the clinic's committed events that have no feed position yet (see the module's
/// documentation); answers how many it numbered.
pub async fn sequence(conn: &mut AsyncPgConnection, clinic_id: Uuid) -> QueryResult<usize> {
    // Without the lock: a reader finding nothing waiting does not queue behind another.
    let waiting: bool = diesel::select(diesel::dsl::exists(
        events::table
            .filter(events::clinic_id.eq(clinic_id))
            .filter(events::seq.is_null()),
    ))
    .get_result(conn)
    .await?;
    if !waiting {
        return Ok(0);
    }
    // READ COMMITTED named, not assumed: the argument below needs a snapshot per statement.
    conn.build_transaction()
        .read_committed()
        .run(async move |conn| {
            // Takes the clinic's counter lock (held to commit). In READ COMMITTED the next
            // statement's snapshot is taken after the lock is held: it sees every event committed
            // so far and every number given by the sequencer that held the lock before.
            let last: i64 = diesel::insert_into(event_counters::table)
                .values((
                    event_counters::clinic_id.eq(clinic_id),
                    event_counters::last_seq.eq(0_i64),
                ))
                .on_conflict(event_counters::clinic_id)
                .do_update()
                .set(event_counters::last_seq.eq(event_counters::last_seq))
                .returning(event_counters::last_seq)
                .get_result(conn)
                .await?;
            let numbered = diesel::sql_query(SEQUENCE_SQL)
                .bind::<diesel::sql_types::Uuid, _>(clinic_id)
                .bind::<diesel::sql_types::BigInt, _>(last)
                .execute(conn)
                .await?;
            if numbered > 0 {
                let top = last + i64::try_from(numbered).unwrap_or(i64::MAX);
                diesel::update(event_counters::table.find(clinic_id))
                    .set(event_counters::last_seq.eq(top))
                    .execute(conn)
                    .await?;
            }
            Ok(numbered)
        })
        .await
}

/// Numbers a clinic's waiting events `$2 + 1, $2 + 2, ...`: each transaction's events together
/// and in the order it wrote them, transactions in the order of their first event. (Which of
/// two transactions that committed between the same two rounds committed first, PostgreSQL
/// does not say; either order keeps the feed's promise, since neither was visible before.)
/// `xmin` is the writing transaction while the event has no number (or an erasure that scrubbed
/// it since, which only moves it within its round).
const SEQUENCE_SQL: &str = "
WITH waiting AS (
    SELECT id, written, min(written) OVER (PARTITION BY xmin::text) AS first
    FROM events WHERE clinic_id = $1 AND seq IS NULL
), numbered AS (
    SELECT id, row_number() OVER (ORDER BY first, written) AS n FROM waiting
)
UPDATE events e SET seq = $2 + numbered.n FROM numbered WHERE e.id = numbered.id";

/// Runs the sequencer for every clinic with events waiting; answers how many it numbered.
pub async fn sequence_all(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let clinics: Vec<Uuid> = events::table
        .filter(events::seq.is_null())
        .select(events::clinic_id)
        .distinct()
        .load(conn)
        .await?;
    let mut numbered = 0;
    for clinic_id in clinics {
        numbered += sequence(conn, clinic_id).await?;
    }
    Ok(numbered)
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_events);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_read_with_its_resource() {
        let keys = |perms: &[Permission]| Permissions::of(perms);
        let sessions_only = keys(&[Permission::EventsRead, Permission::ClientsRead]);
        assert!(EventType::ClientCreated.readable_by(sessions_only));
        assert!(!EventType::SessionLogged.readable_by(sessions_only));
        assert!(EventType::ClinicCreated.readable_by(keys(&[Permission::EventsRead])));
        assert!(!EventType::ClinicCreated.readable_by(keys(&[Permission::ClientsRead])));
        for t in EventType::ALL {
            assert!(t.readable_by(crate::auth::Role::Admin.permissions()), "{t}");
            let area = t.as_str().split('.').next().unwrap_or("");
            if let Some(p) = t.read_permission() {
                assert!(
                    p.as_str().starts_with(area)
                        || area == "occurrence"
                        || (area == "questionnaire" && p == Permission::OutcomesRead),
                    "{t} read with {p}"
                );
            }
        }
    }
}
