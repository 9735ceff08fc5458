//! What a progress report reads besides assignments: pain and measurements of the live logs
//! of a range, one query each.

use crate::db::schema::{session_logs, session_measurements};
use crate::sessions::dto::{MeasurementKind, MeasurementSide};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// Pain of one live log.
#[derive(Debug, Clone, Queryable)]
pub struct PainRow {
    pub local_date: NaiveDate,
    pub pain_before: Option<i16>,
    pub pain_after: Option<i16>,
}

/// One measurement of a live log, with the log's time.
#[derive(Debug, Clone, Queryable)]
pub struct MeasurementRow {
    pub kind: MeasurementKind,
    pub side: MeasurementSide,
    pub value: f64,
    pub session_id: Uuid,
    pub local_date: NaiveDate,
    pub performed_at: DateTime<Utc>,
}

pub async fn pain(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<PainRow>> {
    session_logs::table
        .filter(session_logs::clinic_id.eq(clinic_id))
        .filter(session_logs::client_id.eq(client_id))
        .filter(session_logs::local_date.between(from, to))
        .filter(session_logs::deleted_at.is_null())
        .order((session_logs::performed_at, session_logs::id))
        .select((
            session_logs::local_date,
            session_logs::pain_before,
            session_logs::pain_after,
        ))
        .load(conn)
        .await
}

/// Measurements of the range, oldest first.
pub async fn measurements(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<MeasurementRow>> {
    session_measurements::table
        .inner_join(session_logs::table)
        .filter(session_measurements::clinic_id.eq(clinic_id))
        .filter(session_measurements::client_id.eq(client_id))
        .filter(session_logs::local_date.between(from, to))
        .filter(session_logs::deleted_at.is_null())
        .order((
            session_logs::performed_at,
            session_logs::id,
            session_measurements::position,
        ))
        .select((
            session_measurements::kind,
            session_measurements::side,
            session_measurements::value,
            session_logs::id,
            session_logs::local_date,
            session_logs::performed_at,
        ))
        .load(conn)
        .await
}
