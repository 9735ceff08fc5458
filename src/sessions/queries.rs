//! Session log rows with their entries and measurements. Pages load entries and measurements
//! in one query each, whatever the page size.

use crate::assignments::schedule::local_date;
use crate::db::schema::{session_entries, session_logs, session_measurements};
use crate::error::ApiError;
use crate::sessions::dto::{
    Content, EntryBody, EntrySide, ListFilter, LoggedByRole, MeasurementBody, MeasurementKind, MeasurementSide,
    ReviewResponse, SessionResponse,
};
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = session_logs)]
pub struct SessionRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub client_id: Uuid,
    pub assignment_id: Uuid,
    pub performed_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub duration_seconds: Option<i32>,
    pub pain_before: Option<i16>,
    pub pain_after: Option<i16>,
    pub effort: Option<i16>,
    pub notes: Option<String>,
    pub logged_by: Option<Uuid>,
    pub logged_by_role: LoggedByRole,
    pub flagged: bool,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub reviewed_by: Option<Uuid>,
    pub review_note: Option<String>,
    pub content_hash: Vec<u8>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who a log was logged by, as it records them.
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    pub role: LoggedByRole,
    /// The membership (`None` for an integration).
    pub by: Option<Uuid>,
}

impl SessionRow {
    /// A new log of `assignment` (with `client_id`) from `content`, counted on its local date
    /// in the client's timezone `tz`; `id` is the app's when it sent one.
    pub fn new(id: Uuid, clinic_id: Uuid, assignment: (Uuid, Uuid), tz: Tz, content: &Content, logger: Logger) -> Self {
        let (assignment_id, client_id) = assignment;
        let now = Utc::now().trunc_subsecs(6);
        SessionRow {
            id,
            clinic_id,
            client_id,
            assignment_id,
            performed_at: content.performed_at,
            local_date: local_date(content.performed_at, tz),
            duration_seconds: content.duration_seconds,
            pain_before: content.pain_before,
            pain_after: content.pain_after,
            effort: content.effort,
            notes: content.notes.clone(),
            logged_by: logger.by,
            logged_by_role: logger.role,
            flagged: is_flagged(content.pain_before, content.pain_after),
            reviewed_at: None,
            reviewed_by: None,
            review_note: None,
            content_hash: content.hash(assignment_id),
            deleted_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = session_entries)]
pub struct EntryRow {
    pub clinic_id: Uuid,
    pub session_id: Uuid,
    pub position: i32,
    pub assignment_item_id: Uuid,
    pub side: Option<EntrySide>,
    pub sets_done: Option<i32>,
    pub reps_done: Option<i32>,
    pub hold_seconds: Option<i32>,
    pub completed: bool,
    pub pain: Option<i16>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = session_measurements)]
pub struct MeasurementRow {
    pub clinic_id: Uuid,
    pub session_id: Uuid,
    pub position: i32,
    pub client_id: Uuid,
    pub kind: MeasurementKind,
    pub side: MeasurementSide,
    pub value: f64,
}

impl EntryRow {
    /// The entry as the API shows it (the inverse of [`entry_rows`]).
    pub fn body(&self) -> EntryBody {
        EntryBody {
            assignment_item_id: self.assignment_item_id,
            side: self.side,
            sets_done: self.sets_done,
            reps_done: self.reps_done,
            hold_seconds: self.hold_seconds,
            completed: self.completed,
            pain: self.pain,
            notes: self.notes.clone(),
        }
    }
}

impl MeasurementRow {
    /// The measurement as the API shows it (the inverse of [`measurement_rows`]).
    pub fn body(&self) -> MeasurementBody {
        MeasurementBody {
            kind: self.kind,
            side: self.side,
            value: self.value,
        }
    }
}

/// A pain-after of 7 or more, or a rise of 3 or more, asks for a practitioner's review.
pub fn is_flagged(pain_before: Option<i16>, pain_after: Option<i16>) -> bool {
    match (pain_before, pain_after) {
        (_, Some(after)) if after >= 7 => true,
        (Some(before), Some(after)) => after - before >= 3,
        _ => false,
    }
}

pub fn entry_rows(clinic_id: Uuid, session_id: Uuid, entries: &[EntryBody]) -> Vec<EntryRow> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| EntryRow {
            clinic_id,
            session_id,
            position: i32::try_from(i).unwrap_or(i32::MAX),
            assignment_item_id: e.assignment_item_id,
            side: e.side,
            sets_done: e.sets_done,
            reps_done: e.reps_done,
            hold_seconds: e.hold_seconds,
            completed: e.completed,
            pain: e.pain,
            notes: e.notes.clone(),
        })
        .collect()
}

pub fn measurement_rows(
    clinic_id: Uuid,
    session_id: Uuid,
    client_id: Uuid,
    m: &[MeasurementBody],
) -> Vec<MeasurementRow> {
    m.iter()
        .enumerate()
        .map(|(i, m)| MeasurementRow {
            clinic_id,
            session_id,
            position: i32::try_from(i).unwrap_or(i32::MAX),
            client_id,
            kind: m.kind,
            side: m.side,
            value: m.value,
        })
        .collect()
}

/// Inserts a log unless one with its id exists; answers whether it was inserted. A concurrent
/// insert of the same id waits for the first to commit, then finds it.
pub async fn insert_if_new(conn: &mut AsyncPgConnection, row: &SessionRow) -> QueryResult<bool> {
    let n = diesel::insert_into(session_logs::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Replaces a log's entries and measurements.
pub async fn replace_details(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    session_id: Uuid,
    entries: Option<&[EntryRow]>,
    measurements: Option<&[MeasurementRow]>,
) -> QueryResult<()> {
    if entries.is_some() {
        diesel::delete(
            session_entries::table
                .filter(session_entries::clinic_id.eq(clinic_id))
                .filter(session_entries::session_id.eq(session_id)),
        )
        .execute(conn)
        .await?;
    }
    if measurements.is_some() {
        diesel::delete(
            session_measurements::table
                .filter(session_measurements::clinic_id.eq(clinic_id))
                .filter(session_measurements::session_id.eq(session_id)),
        )
        .execute(conn)
        .await?;
    }
    insert_details(conn, entries.unwrap_or_default(), measurements.unwrap_or_default()).await
}

/// Writes the entries and measurements of a log that has none yet (a new log), one statement
/// for each kind that has rows.
pub async fn insert_details(
    conn: &mut AsyncPgConnection,
    entries: &[EntryRow],
    measurements: &[MeasurementRow],
) -> QueryResult<()> {
    if !entries.is_empty() {
        diesel::insert_into(session_entries::table)
            .values(entries)
            .execute(conn)
            .await?;
    }
    if !measurements.is_empty() {
        diesel::insert_into(session_measurements::table)
            .values(measurements)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// A log of the clinic by id, deleted ones included; `lock` holds it until the transaction ends.
pub async fn find(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
    lock: bool,
) -> QueryResult<Option<SessionRow>> {
    let q = session_logs::table
        .filter(session_logs::clinic_id.eq(clinic_id))
        .filter(session_logs::id.eq(id))
        .select(SessionRow::as_select());
    if lock {
        q.for_update().first(conn).await
    } else {
        q.first(conn).await
    }
    .optional()
}

/// A log by id in any clinic (only to tell an id collision from a replay).
pub async fn find_any(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<SessionRow>> {
    session_logs::table
        .find(id)
        .select(SessionRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The newest-first sort key of a log, which cursors carry.
pub type Key = (DateTime<Utc>, Uuid);

/// A page of the clinic's live logs, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    f: &ListFilter,
    after: Option<Key>,
    limit: i64,
) -> QueryResult<Vec<SessionRow>> {
    let mut q = session_logs::table
        .filter(session_logs::clinic_id.eq(clinic_id))
        .filter(session_logs::deleted_at.is_null())
        .select(SessionRow::as_select())
        .order((session_logs::performed_at.desc(), session_logs::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(c) = f.client_id {
        q = q.filter(session_logs::client_id.eq(c));
    }
    if let Some(a) = f.assignment_id {
        q = q.filter(session_logs::assignment_id.eq(a));
    }
    if let Some(from) = f.from {
        q = q.filter(session_logs::local_date.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(session_logs::local_date.le(to));
    }
    if let Some(flagged) = f.flagged {
        q = q.filter(session_logs::flagged.eq(flagged));
    }
    match f.reviewed {
        Some(true) => q = q.filter(session_logs::reviewed_at.is_not_null()),
        Some(false) => q = q.filter(session_logs::reviewed_at.is_null()),
        None => {}
    }
    if let Some((at, id)) = after {
        q = q.filter(
            session_logs::performed_at
                .lt(at)
                .or(session_logs::performed_at.eq(at).and(session_logs::id.lt(id))),
        );
    }
    q.load(conn).await
}

/// Answers for log rows, with two more queries whatever their number.
pub async fn responses(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    rows: Vec<SessionRow>,
) -> Result<Vec<SessionResponse>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut entries: HashMap<Uuid, Vec<EntryBody>> = HashMap::new();
    for e in session_entries::table
        .filter(session_entries::clinic_id.eq(clinic_id))
        .filter(session_entries::session_id.eq_any(&ids))
        .order((session_entries::session_id, session_entries::position))
        .select(EntryRow::as_select())
        .load(conn)
        .await?
    {
        entries.entry(e.session_id).or_default().push(e.body());
    }
    let mut measurements: HashMap<Uuid, Vec<MeasurementBody>> = HashMap::new();
    for m in session_measurements::table
        .filter(session_measurements::clinic_id.eq(clinic_id))
        .filter(session_measurements::session_id.eq_any(&ids))
        .order((session_measurements::session_id, session_measurements::position))
        .select(MeasurementRow::as_select())
        .load(conn)
        .await?
    {
        measurements.entry(m.session_id).or_default().push(m.body());
    }
    Ok(rows
        .into_iter()
        .map(|r| SessionResponse {
            id: r.id,
            client_id: r.client_id,
            assignment_id: r.assignment_id,
            performed_at: r.performed_at,
            local_date: r.local_date,
            duration_seconds: r.duration_seconds,
            pain_before: r.pain_before,
            pain_after: r.pain_after,
            effort: r.effort,
            notes: r.notes,
            entries: entries.remove(&r.id).unwrap_or_default(),
            measurements: measurements.remove(&r.id).unwrap_or_default(),
            logged_by_role: r.logged_by_role,
            logged_by: r.logged_by,
            flagged: r.flagged,
            review: r.reviewed_at.map(|at| ReviewResponse {
                reviewed_at: at,
                reviewed_by: r.reviewed_by,
                note: r.review_note,
            }),
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

pub async fn response(conn: &mut AsyncPgConnection, row: SessionRow) -> Result<SessionResponse, ApiError> {
    let clinic_id = row.clinic_id;
    responses(conn, clinic_id, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("session vanished"))
}

/// Live logs per (assignment, local date) in `[from, to]`: what makes occurrences done.
pub async fn logged_per_day(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    assignment_ids: &[Uuid],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<HashMap<(Uuid, NaiveDate), u32>> {
    logged_per_day_in(conn, &[clinic_id], assignment_ids, from, to).await
}

/// [`logged_per_day`] over several clinics' assignments at once (the reminder scheduler's run).
pub async fn logged_per_day_in(
    conn: &mut AsyncPgConnection,
    clinic_ids: &[Uuid],
    assignment_ids: &[Uuid],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<HashMap<(Uuid, NaiveDate), u32>> {
    let rows: Vec<(Uuid, NaiveDate, i64)> = session_logs::table
        .filter(session_logs::clinic_id.eq_any(clinic_ids))
        .filter(session_logs::assignment_id.eq_any(assignment_ids))
        .filter(session_logs::local_date.between(from, to))
        .filter(session_logs::deleted_at.is_null())
        .group_by((session_logs::assignment_id, session_logs::local_date))
        .select((
            session_logs::assignment_id,
            session_logs::local_date,
            diesel::dsl::count_star(),
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(a, d, n)| ((a, d), u32::try_from(n).unwrap_or(u32::MAX)))
        .collect())
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = session_logs)]
pub struct SessionChanges {
    pub performed_at: Option<DateTime<Utc>>,
    pub local_date: Option<NaiveDate>,
    pub duration_seconds: Option<Option<i32>>,
    pub pain_before: Option<Option<i16>>,
    pub pain_after: Option<Option<i16>>,
    pub effort: Option<Option<i16>>,
    pub notes: Option<Option<String>>,
    pub flagged: Option<bool>,
    pub content_hash: Option<Vec<u8>>,
    pub deleted_at: Option<Option<DateTime<Utc>>>,
    pub reviewed_at: Option<Option<DateTime<Utc>>>,
    pub reviewed_by: Option<Option<Uuid>>,
    pub review_note: Option<Option<String>>,
}

impl SessionChanges {
    /// The columns of a log whose content (of `assignment_id`, in timezone `tz`) is now
    /// `content`.
    pub fn content(content: &Content, assignment_id: Uuid, tz: Tz) -> Self {
        SessionChanges {
            performed_at: Some(content.performed_at),
            local_date: Some(content.performed_at.with_timezone(&tz).date_naive()),
            duration_seconds: Some(content.duration_seconds),
            pain_before: Some(content.pain_before),
            pain_after: Some(content.pain_after),
            effort: Some(content.effort),
            notes: Some(content.notes.clone()),
            flagged: Some(is_flagged(content.pain_before, content.pain_after)),
            content_hash: Some(content.hash(assignment_id)),
            ..Default::default()
        }
    }
}

pub async fn update(conn: &mut AsyncPgConnection, id: Uuid, changes: &SessionChanges) -> QueryResult<SessionRow> {
    diesel::update(session_logs::table.find(id))
        .set((
            changes,
            session_logs::version.eq(session_logs::version + 1),
            session_logs::updated_at.eq(Utc::now()),
        ))
        .returning(SessionRow::as_returning())
        .get_result(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_the_pain_rule() {
        assert!(is_flagged(None, Some(7)));
        assert!(is_flagged(Some(2), Some(5)));
        assert!(!is_flagged(Some(3), Some(5)));
        assert!(!is_flagged(Some(9), Some(6)));
        assert!(!is_flagged(Some(1), None));
        assert!(!is_flagged(None, Some(6)));
    }
}
