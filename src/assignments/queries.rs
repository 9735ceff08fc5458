//! Assignment rows, their items and pauses. Reads load a page's items and pauses in one query
//! each (never one per assignment).

use crate::assignments::dto::{
    AssignmentEdit, AssignmentItemResponse, AssignmentResponse, AssignmentStatus, ItemExercise, NewAssignment,
    PauseResponse, ScheduleBody,
};
use crate::assignments::schedule::{DayOfWeek, PausedDays, Schedule, local_date};
use crate::db::schema::{assignment_items, assignment_pauses, assignments, exercises};
use crate::error::ApiError;
use crate::exercises::dto::{Category, Dosage, ItemSide, Media};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = assignments)]
pub struct AssignmentRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub client_id: Uuid,
    pub routine_id: Option<Uuid>,
    pub assigned_by: Option<Uuid>,
    pub name: String,
    pub instructions: Option<String>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub days_of_week: Vec<DayOfWeek>,
    pub times_per_day: i16,
    pub status: AssignmentStatus,
    pub ended_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub reminder_times: Vec<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = assignment_items)]
pub struct ItemRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub assignment_id: Uuid,
    pub position: i32,
    pub exercise_id: Uuid,
    pub sets: Option<i32>,
    pub reps: Option<i32>,
    pub hold_seconds: Option<i32>,
    pub duration_seconds: Option<i32>,
    pub rest_seconds: Option<i32>,
    pub side: ItemSide,
    pub notes: Option<String>,
}

impl ItemRow {
    /// A routine's item copied into an assignment (homework never changes with its template).
    pub fn copy_of(item: &crate::routines::queries::ItemRow, id: Uuid, clinic_id: Uuid, assignment_id: Uuid) -> Self {
        ItemRow {
            id,
            clinic_id,
            assignment_id,
            position: item.position,
            exercise_id: item.exercise_id,
            sets: item.sets,
            reps: item.reps,
            hold_seconds: item.hold_seconds,
            duration_seconds: item.duration_seconds,
            rest_seconds: item.rest_seconds,
            side: item.side,
            notes: item.notes.clone(),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = assignment_pauses)]
pub struct PauseRow {
    pub assignment_id: Uuid,
    pub paused_at: DateTime<Utc>,
    pub resumed_at: Option<DateTime<Utc>>,
}

/// The exercise columns an item embeds.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = exercises)]
struct ExerciseCols {
    id: Uuid,
    name: String,
    summary: Option<String>,
    instructions: Vec<String>,
    category: Category,
    cautions: Vec<String>,
    media: serde_json::Value,
    default_dosage: serde_json::Value,
}

/// The stored columns a schedule is made of.
#[derive(Debug, Clone)]
pub struct ScheduleColumns {
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub days_of_week: Vec<DayOfWeek>,
    pub times_per_day: i16,
    pub ended_at: Option<DateTime<Utc>>,
}

/// An assignment's schedule in the client's calendar: pauses (paused, resumed) take their days
/// out, and nothing is due after the day it was completed or cancelled.
pub fn schedule_of(
    c: ScheduleColumns,
    pauses: impl Iterator<Item = (DateTime<Utc>, Option<DateTime<Utc>>)>,
    tz: Tz,
) -> Schedule {
    let ended = c.ended_at.map(|at| local_date(at, tz));
    let end_date = match (c.end_date, ended) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Schedule {
        start_date: c.start_date,
        end_date,
        days_of_week: c.days_of_week,
        times_per_day: u8::try_from(c.times_per_day).unwrap_or(1),
        paused: pauses
            .map(|(paused_at, resumed_at)| PausedDays::from_instants(paused_at, resumed_at, tz))
            .collect(),
    }
}

/// Who gives new homework, to whom and where.
pub struct Giving {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub client_id: Uuid,
    pub assigned_by: Option<Uuid>,
}

impl AssignmentRow {
    /// The row of new, active homework; `name` is the request's or the routine's.
    pub fn new(giving: Giving, new: &NewAssignment, name: String) -> Self {
        let now = Utc::now();
        AssignmentRow {
            id: giving.id,
            clinic_id: giving.clinic_id,
            client_id: giving.client_id,
            routine_id: new.routine_id,
            assigned_by: giving.assigned_by,
            name,
            instructions: new.instructions.clone(),
            start_date: new.schedule.start_date,
            end_date: new.schedule.end_date,
            days_of_week: new.schedule.days(),
            times_per_day: new.schedule.times_per_day,
            status: AssignmentStatus::Active,
            ended_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
            reminder_times: new.schedule.reminder_times.clone(),
        }
    }

    /// The schedule as the occurrence computation sees it, in the client's calendar.
    pub fn schedule(&self, pauses: &[PauseRow], tz: Tz) -> Schedule {
        schedule_of(
            ScheduleColumns {
                start_date: self.start_date,
                end_date: self.end_date,
                days_of_week: self.days_of_week.clone(),
                times_per_day: self.times_per_day,
                ended_at: self.ended_at,
            },
            pauses
                .iter()
                .filter(|p| p.assignment_id == self.id)
                .map(|p| (p.paused_at, p.resumed_at)),
            tz,
        )
    }

    pub fn into_response(self, items: Vec<AssignmentItemResponse>, pauses: Vec<PauseResponse>) -> AssignmentResponse {
        AssignmentResponse {
            id: self.id,
            client_id: self.client_id,
            routine_id: self.routine_id,
            assigned_by: self.assigned_by,
            name: self.name,
            instructions: self.instructions,
            schedule: ScheduleBody {
                start_date: self.start_date,
                end_date: self.end_date,
                days_of_week: self.days_of_week,
                times_per_day: self.times_per_day,
                reminder_times: self.reminder_times,
            },
            status: self.status,
            pauses,
            ended_at: self.ended_at,
            items,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &AssignmentRow) -> QueryResult<AssignmentRow> {
    diesel::insert_into(assignments::table)
        .values(row)
        .returning(AssignmentRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn insert_items(conn: &mut AsyncPgConnection, items: &[ItemRow]) -> QueryResult<usize> {
    if items.is_empty() {
        return Ok(0);
    }
    diesel::insert_into(assignment_items::table)
        .values(items)
        .execute(conn)
        .await
}

/// An assignment of the clinic; `lock` holds its row until the transaction ends.
pub async fn find(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
    lock: bool,
) -> QueryResult<Option<AssignmentRow>> {
    let q = assignments::table
        .filter(assignments::clinic_id.eq(clinic_id))
        .filter(assignments::id.eq(id))
        .select(AssignmentRow::as_select());
    if lock {
        q.for_update().first(conn).await
    } else {
        q.first(conn).await
    }
    .optional()
}

/// A page of a client's assignments, newest first.
pub async fn list_for_client(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    status: Option<AssignmentStatus>,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<AssignmentRow>> {
    let mut q = assignments::table
        .filter(assignments::clinic_id.eq(clinic_id))
        .filter(assignments::client_id.eq(client_id))
        .select(AssignmentRow::as_select())
        .order(assignments::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(assignments::status.eq(s));
    }
    if let Some(before) = before {
        q = q.filter(assignments::id.lt(before));
    }
    q.load(conn).await
}

/// A client's assignments, oldest first: at most `limit` after `after` (the pages of the export
/// and the FHIR bundle; the calendar feed reads them all).
pub async fn client_page(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<AssignmentRow>> {
    let mut q = assignments::table
        .filter(assignments::clinic_id.eq(clinic_id))
        .filter(assignments::client_id.eq(client_id))
        .order(assignments::id)
        .limit(limit)
        .select(AssignmentRow::as_select())
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(assignments::id.gt(a));
    }
    q.load(conn).await
}

/// A client's assignments that may have homework due in `[from, to]`.
pub async fn overlapping(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<AssignmentRow>> {
    assignments::table
        .filter(assignments::clinic_id.eq(clinic_id))
        .filter(assignments::client_id.eq(client_id))
        .filter(assignments::start_date.le(to))
        .filter(assignments::end_date.is_null().or(assignments::end_date.ge(from)))
        .select(AssignmentRow::as_select())
        .order(assignments::id)
        .load(conn)
        .await
}

/// The pauses of these assignments, oldest first.
pub async fn pauses(conn: &mut AsyncPgConnection, clinic_id: Uuid, ids: &[Uuid]) -> QueryResult<Vec<PauseRow>> {
    assignment_pauses::table
        .filter(assignment_pauses::clinic_id.eq(clinic_id))
        .filter(assignment_pauses::assignment_id.eq_any(ids))
        .order(assignment_pauses::paused_at)
        .select(PauseRow::as_select())
        .load(conn)
        .await
}

pub async fn pause(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    assignment_id: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::insert_into(assignment_pauses::table)
        .values((
            assignment_pauses::id.eq(Uuid::now_v7()),
            assignment_pauses::clinic_id.eq(clinic_id),
            assignment_pauses::assignment_id.eq(assignment_id),
            assignment_pauses::paused_at.eq(at),
        ))
        .execute(conn)
        .await
}

/// Ends the open pause, if any.
pub async fn resume(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    assignment_id: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        assignment_pauses::table
            .filter(assignment_pauses::clinic_id.eq(clinic_id))
            .filter(assignment_pauses::assignment_id.eq(assignment_id))
            .filter(assignment_pauses::resumed_at.is_null()),
    )
    .set(assignment_pauses::resumed_at.eq(at))
    .execute(conn)
    .await
}

/// The current items of these assignments with their exercises, in order.
pub async fn items(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<AssignmentItemResponse>>, ApiError> {
    let rows: Vec<(ItemRow, ExerciseCols)> = assignment_items::table
        .inner_join(exercises::table)
        .filter(assignment_items::clinic_id.eq(clinic_id))
        .filter(assignment_items::assignment_id.eq_any(ids))
        .filter(assignment_items::removed_at.is_null())
        .order((assignment_items::assignment_id, assignment_items::position))
        .select((ItemRow::as_select(), ExerciseCols::as_select()))
        .load(conn)
        .await?;
    let mut out: HashMap<Uuid, Vec<AssignmentItemResponse>> = HashMap::new();
    for (item, x) in rows {
        let media: Vec<Media> = serde_json::from_value(x.media).map_err(ApiError::internal)?;
        let default_dosage: Dosage = serde_json::from_value(x.default_dosage).map_err(ApiError::internal)?;
        out.entry(item.assignment_id).or_default().push(AssignmentItemResponse {
            id: item.id,
            exercise_id: item.exercise_id,
            exercise: ItemExercise {
                id: x.id,
                name: x.name,
                summary: x.summary,
                instructions: x.instructions,
                category: x.category,
                cautions: x.cautions,
                media,
                default_dosage,
            },
            sets: item.sets,
            reps: item.reps,
            hold_seconds: item.hold_seconds,
            duration_seconds: item.duration_seconds,
            rest_seconds: item.rest_seconds,
            side: item.side,
            notes: item.notes,
        });
    }
    Ok(out)
}

/// The ids of an assignment's current items.
pub async fn current_item_ids(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    assignment_id: Uuid,
) -> QueryResult<Vec<Uuid>> {
    assignment_items::table
        .filter(assignment_items::clinic_id.eq(clinic_id))
        .filter(assignment_items::assignment_id.eq(assignment_id))
        .filter(assignment_items::removed_at.is_null())
        .select(assignment_items::id)
        .load(conn)
        .await
}

/// Replaces an assignment's current items: rows whose id exists are updated in place, new
/// ones inserted, and current items not among them are marked removed (logs keep them).
pub async fn replace_items(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    assignment_id: Uuid,
    rows: &[ItemRow],
) -> QueryResult<()> {
    let keep: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    diesel::update(
        assignment_items::table
            .filter(assignment_items::clinic_id.eq(clinic_id))
            .filter(assignment_items::assignment_id.eq(assignment_id))
            .filter(assignment_items::removed_at.is_null())
            .filter(assignment_items::id.ne_all(&keep)),
    )
    .set(assignment_items::removed_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    for row in rows {
        diesel::insert_into(assignment_items::table)
            .values(row)
            .on_conflict(assignment_items::id)
            .do_update()
            .set((
                assignment_items::position.eq(row.position),
                assignment_items::exercise_id.eq(row.exercise_id),
                assignment_items::sets.eq(row.sets),
                assignment_items::reps.eq(row.reps),
                assignment_items::hold_seconds.eq(row.hold_seconds),
                assignment_items::duration_seconds.eq(row.duration_seconds),
                assignment_items::rest_seconds.eq(row.rest_seconds),
                assignment_items::side.eq(row.side),
                assignment_items::notes.eq(&row.notes),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = assignments)]
pub struct AssignmentChanges<'a> {
    pub name: Option<&'a str>,
    pub instructions: Option<Option<&'a str>>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<Option<NaiveDate>>,
    pub days_of_week: Option<&'a [DayOfWeek]>,
    pub times_per_day: Option<i16>,
    pub reminder_times: Option<&'a [String]>,
    pub status: Option<AssignmentStatus>,
    pub ended_at: Option<Option<DateTime<Utc>>>,
}

impl<'a> AssignmentChanges<'a> {
    /// The columns an edit sets; `days` is the new schedule's `days()`, `new_status` the status
    /// it moves to (if it moves), at `now`.
    pub fn of(
        edit: &'a AssignmentEdit,
        days: Option<&'a [DayOfWeek]>,
        new_status: Option<AssignmentStatus>,
        now: DateTime<Utc>,
    ) -> Self {
        let schedule = edit.schedule.as_ref();
        AssignmentChanges {
            name: edit.name.as_deref(),
            instructions: edit.instructions.as_ref().map(|i| i.as_deref()),
            start_date: schedule.map(|s| s.start_date),
            end_date: schedule.map(|s| s.end_date),
            days_of_week: days,
            times_per_day: schedule.map(|s| s.times_per_day),
            reminder_times: schedule.map(|s| s.reminder_times.as_slice()),
            status: new_status,
            ended_at: new_status
                .map(|s| matches!(s, AssignmentStatus::Completed | AssignmentStatus::Cancelled).then_some(now)),
        }
    }
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &AssignmentChanges<'_>,
) -> QueryResult<AssignmentRow> {
    diesel::update(assignments::table.find(id))
        .set((
            changes,
            assignments::version.eq(assignments::version + 1),
            assignments::updated_at.eq(Utc::now()),
        ))
        .returning(AssignmentRow::as_returning())
        .get_result(conn)
        .await
}
