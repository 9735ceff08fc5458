use crate::assignments::schedule::{DayOfWeek, OccurrenceStatus};
use crate::error::{ApiError, Validator};
use crate::exercises::dto::{Category, Dosage, ItemSide, Media};
use crate::http::patch::Patch;
use crate::routines::dto::{ItemFields, RoutineItemRequest, check_items};
use crate::text_enum;
use crate::values::{parse_name, parse_text};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

text_enum! {
    /// Where an assignment stands. `active` ⇄ `paused`; either may become `completed` or
    /// `cancelled`; `completed` may be reopened (`active`); `cancelled` is final.
    pub enum AssignmentStatus {
        /// Homework is due on its schedule.
        Active => "active",
        /// Nothing is due while paused; the paused days are remembered.
        Paused => "paused",
        /// Finished; nothing is due after the day it was completed.
        Completed => "completed",
        /// Withdrawn; nothing is due after the day it was cancelled. Final.
        Cancelled => "cancelled",
    }
}

impl AssignmentStatus {
    /// Whether a change from `self` to `to` makes sense.
    pub fn can_become(self, to: AssignmentStatus) -> bool {
        use AssignmentStatus::*;
        matches!(
            (self, to),
            (Active, Paused | Completed | Cancelled) | (Paused, Active | Completed | Cancelled) | (Completed, Active)
        )
    }
}

/// When homework is due, in the client's timezone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// First day (may be in the past: homework given at last week's visit).
    #[schema(example = "2026-11-23")]
    pub start_date: NaiveDate,
    /// Last day, inclusive; `null` for open-ended homework.
    #[serde(default)]
    #[schema(example = json!(null))]
    pub end_date: Option<NaiveDate>,
    /// The days it is due; empty means every day.
    #[serde(default)]
    #[schema(example = json!(["mon", "wed", "fri"]))]
    pub days_of_week: Vec<DayOfWeek>,
    /// Sessions per scheduled day, 1–6 (default 1).
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 6, example = 1)]
    pub times_per_day: i16,
    /// Local reminder times (`HH:MM`, 24-hour, the client's timezone), ascending, each once, at
    /// most `times_per_day` of them: `reminder_times[i]` belongs to the day's session i+1.
    /// Sessions without one get no `occurrence.due` event and no calendar alarm. Default none.
    #[serde(default)]
    #[schema(example = json!(["08:00"]), max_items = 6, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub reminder_times: Vec<String>,
}

/// `HH:MM` exactly (two digits each, 24-hour clock), as schedules store reminder times.
pub fn parse_reminder_time(raw: &str) -> Option<NaiveTime> {
    let b = raw.as_bytes();
    if b.len() != 5 || b[2] != b':' || !b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit()) {
        return None;
    }
    NaiveTime::parse_from_str(raw, "%H:%M").ok()
}

fn one() -> i16 {
    1
}

/// The longest instructions, in characters.
pub const INSTRUCTIONS: usize = 2000;

impl ScheduleBody {
    fn check(&self, v: &mut Validator) {
        v.check(
            (1..=6).contains(&self.times_per_day),
            "schedule.times_per_day",
            "must be between 1 and 6",
        );
        if let Some(end) = self.end_date {
            v.check(
                end >= self.start_date,
                "schedule.end_date",
                "must not be before start_date",
            );
        }
        v.check(
            self.days().len() == self.days_of_week.len(),
            "schedule.days_of_week",
            "must not name a day twice",
        );
        let mut previous: Option<NaiveTime> = None;
        for (i, raw) in self.reminder_times.iter().enumerate() {
            let field = format!("schedule.reminder_times[{i}]");
            match parse_reminder_time(raw) {
                None => v.add(field, "must be a local time as HH:MM, from 00:00 to 23:59"),
                Some(t) if previous.is_some_and(|p| t <= p) => {
                    v.add(
                        field,
                        "must be later than the reminder time before it (ascending, each once)",
                    );
                }
                Some(t) => previous = Some(t),
            }
        }
        v.check(
            self.reminder_times.len() <= usize::try_from(self.times_per_day).unwrap_or(0),
            "schedule.reminder_times",
            "must not hold more reminder times than times_per_day",
        );
    }

    /// The reminder times as times of day (only valid ones: the request passed `check`).
    pub fn reminders(&self) -> Vec<NaiveTime> {
        self.reminder_times
            .iter()
            .filter_map(|t| parse_reminder_time(t))
            .collect()
    }

    /// The days it is due, in week order, each once.
    pub fn days(&self) -> Vec<DayOfWeek> {
        let mut days = self.days_of_week.clone();
        days.sort();
        days.dedup();
        days
    }
}

fn check_instructions(v: &mut Validator, raw: Option<String>) -> Option<String> {
    raw.filter(|t| !t.trim().is_empty())
        .and_then(|t| v.parse("instructions", parse_text(&t, INSTRUCTIONS)))
}

/// An item that passed its own rules: the id it asked to keep, if any, and its fields.
pub type CheckedItem = (Option<Uuid>, ItemFields);

/// Validates items with the routine items' rules; returns each item's requested id and fields.
fn check_assignment_items(v: &mut Validator, items: Vec<AssignmentItemRequest>) -> Vec<CheckedItem> {
    let ids: Vec<Option<Uuid>> = items.iter().map(|i| i.id).collect();
    let plain: Vec<RoutineItemRequest> = items
        .into_iter()
        .map(|i| RoutineItemRequest {
            exercise_id: i.exercise_id,
            sets: i.sets,
            reps: i.reps,
            hold_seconds: i.hold_seconds,
            duration_seconds: i.duration_seconds,
            rest_seconds: i.rest_seconds,
            side: i.side,
            notes: i.notes,
        })
        .collect();
    ids.into_iter().zip(check_items(v, plain)).collect()
}

/// One exercise of a client's homework, as the request gives it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentItemRequest {
    /// In a `PATCH`, the id of an existing item to keep (and adjust); leave it out for a new
    /// item. Items not listed are removed from the homework (logs that point at them remain).
    #[serde(default)]
    pub id: Option<Uuid>,
    /// The exercise: the clinic's own or a built-in, not archived.
    pub exercise_id: Uuid,
    /// Sets, 1–20.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 20, example = 1)]
    pub sets: Option<i32>,
    /// Repetitions per set, 1–100.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub reps: Option<i32>,
    /// Seconds to hold, 1–3600.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3600, example = 90)]
    pub hold_seconds: Option<i32>,
    /// Seconds of continuous work per set, 1–3600.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3600)]
    pub duration_seconds: Option<i32>,
    /// Seconds of rest between sets, 0–600.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 600)]
    pub rest_seconds: Option<i32>,
    /// `both`, `left`, `right`, or `each` (both sides, one after the other); absent or `null`
    /// takes the side of the exercise's default dosage.
    #[serde(default)]
    #[schema(schema_with = crate::routines::dto::nullable_item_side)]
    pub side: Option<ItemSide>,
    /// A note for the client, at most 1000 characters.
    #[serde(default)]
    #[schema(example = "left is tighter: hold 90 s on the left", max_length = 1000)]
    pub notes: Option<String>,
}

/// Homework for a client: from a routine template (its items are copied), from explicit
/// `items`, or both (the given items replace the copied ones).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "routine_id": "00000000-0000-7000-8000-00000000a001",
    "instructions": "Evenings, after a warm shower.",
    "schedule": {"start_date": "2026-11-23", "end_date": null, "days_of_week": ["mon", "wed", "fri"], "times_per_day": 1}
}))]
pub struct CreateAssignmentRequest {
    /// A routine template (the clinic's own or a built-in) whose items are copied.
    #[serde(default)]
    pub routine_id: Option<Uuid>,
    /// A name for the homework (default: the routine's name); required without `routine_id`.
    #[serde(default)]
    #[schema(example = "Hip mobility", max_length = 200)]
    pub name: Option<String>,
    /// Instructions for the client, at most 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub instructions: Option<String>,
    /// When it is due.
    pub schedule: ScheduleBody,
    /// The items, replacing the routine's if both are given (at most 100).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub items: Option<Vec<AssignmentItemRequest>>,
}

/// New homework that passed every rule it can check alone.
pub struct NewAssignment {
    pub routine_id: Option<Uuid>,
    pub name: Option<String>,
    pub instructions: Option<String>,
    pub schedule: ScheduleBody,
    pub items: Option<Vec<CheckedItem>>,
}

impl CreateAssignmentRequest {
    /// Every rule that needs no database; all broken ones in one 422.
    pub fn validate(self) -> Result<NewAssignment, ApiError> {
        let mut v = Validator::new();
        let name = self.name.and_then(|n| v.parse("name", parse_name(&n)));
        let instructions = check_instructions(&mut v, self.instructions);
        self.schedule.check(&mut v);
        let items = self.items.map(|items| {
            for (i, item) in items.iter().enumerate() {
                v.check(
                    item.id.is_none(),
                    format!("items[{i}].id"),
                    "must not be given for a new assignment",
                );
            }
            check_assignment_items(&mut v, items)
        });
        v.check(
            self.routine_id.is_some() || items.is_some(),
            "routine_id",
            "is required unless `items` are given",
        );
        v.check(
            self.routine_id.is_some() || name.is_some(),
            "name",
            "is required without `routine_id`",
        );
        v.finish()?;
        Ok(NewAssignment {
            routine_id: self.routine_id,
            name,
            instructions,
            schedule: self.schedule,
            items,
        })
    }
}

/// Changes to an assignment that passed every rule they can check alone.
pub struct AssignmentEdit {
    pub name: Option<String>,
    /// `Some(None)` clears the instructions.
    pub instructions: Option<Option<String>>,
    pub schedule: Option<ScheduleBody>,
    pub status: Option<AssignmentStatus>,
    pub items: Option<Vec<CheckedItem>>,
}

impl AssignmentEdit {
    /// Whether anything but the status changes.
    pub fn changes_fields(&self) -> bool {
        self.name.is_some() || self.instructions.is_some() || self.schedule.is_some() || self.items.is_some()
    }
}

impl UpdateAssignmentRequest {
    /// Every rule that needs no database; all broken ones in one 422.
    pub fn validate(self) -> Result<AssignmentEdit, ApiError> {
        let mut v = Validator::new();
        let name = self
            .name
            .required("name", &mut v)
            .and_then(|n| v.parse("name", parse_name(&n)));
        let instructions = self.instructions.into_change().map(|i| check_instructions(&mut v, i));
        let schedule = self.schedule.required("schedule", &mut v);
        if let Some(s) = &schedule {
            s.check(&mut v);
        }
        let status = self.status.required("status", &mut v);
        let items = self
            .items
            .required("items", &mut v)
            .map(|items| check_assignment_items(&mut v, items));
        v.finish()?;
        Ok(AssignmentEdit {
            name,
            instructions,
            schedule,
            status,
            items,
        })
    }
}

/// Changes to an assignment (JSON Merge Patch). `schedule` and `items` are replaced whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAssignmentRequest {
    /// A new name.
    #[serde(default)]
    #[schema(value_type = String, max_length = 200)]
    pub name: Patch<String>,
    /// New instructions; `null` clears them.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub instructions: Patch<String>,
    /// The new schedule.
    #[serde(default)]
    #[schema(value_type = ScheduleBody)]
    pub schedule: Patch<ScheduleBody>,
    /// A new status; see `AssignmentStatus` for the changes that are allowed.
    #[serde(default)]
    #[schema(value_type = AssignmentStatus)]
    pub status: Patch<AssignmentStatus>,
    /// The items after the change: existing ones by `id`, new ones without; unlisted ones are
    /// removed.
    #[serde(default)]
    #[schema(value_type = Vec<AssignmentItemRequest>, max_items = 100)]
    pub items: Patch<Vec<AssignmentItemRequest>>,
}

/// The exercise of an item, with what a client needs to do it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemExercise {
    /// The exercise's id.
    pub id: Uuid,
    /// Its name.
    #[schema(example = "Shoelace pose")]
    pub name: String,
    /// What it is and what it is for.
    pub summary: Option<String>,
    /// The steps, in order.
    pub instructions: Vec<String>,
    /// What kind of exercise it is.
    pub category: Category,
    /// Warnings to show with it.
    pub cautions: Vec<String>,
    /// Pictures and videos.
    pub media: Vec<Media>,
    /// The exercise's own default dosage (the item's numbers are what to do).
    pub default_dosage: Dosage,
}

/// One exercise of the homework, with its dosage.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignmentItemResponse {
    /// The item's id: session entries point at it.
    pub id: Uuid,
    /// The exercise's id.
    pub exercise_id: Uuid,
    /// The exercise, embedded so an app draws the homework from one call.
    pub exercise: ItemExercise,
    /// Sets.
    pub sets: Option<i32>,
    /// Repetitions per set.
    pub reps: Option<i32>,
    /// Seconds to hold.
    pub hold_seconds: Option<i32>,
    /// Seconds of continuous work per set.
    pub duration_seconds: Option<i32>,
    /// Seconds of rest between sets.
    pub rest_seconds: Option<i32>,
    /// Which side.
    pub side: ItemSide,
    /// A note for the client.
    pub notes: Option<String>,
}

/// A stretch during which the assignment was paused.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PauseResponse {
    /// When it was paused.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub paused_at: DateTime<Utc>,
    /// When it was resumed; `null` while still paused.
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub resumed_at: Option<DateTime<Utc>>,
}

/// A client's homework.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignmentResponse {
    /// The assignment's id.
    pub id: Uuid,
    /// The client it was given to.
    pub client_id: Uuid,
    /// The routine template its items were copied from, if any.
    pub routine_id: Option<Uuid>,
    /// The practitioner who gave it (`null` when an integration did).
    pub assigned_by: Option<Uuid>,
    /// Its name.
    #[schema(example = "Hip mobility")]
    pub name: String,
    /// Instructions for the client.
    pub instructions: Option<String>,
    /// When it is due, in the client's timezone.
    pub schedule: ScheduleBody,
    /// Active, paused, completed or cancelled.
    pub status: AssignmentStatus,
    /// The pauses, oldest first.
    pub pauses: Vec<PauseResponse>,
    /// When it was completed or cancelled.
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub ended_at: Option<DateTime<Utc>>,
    /// The exercises, in order.
    pub items: Vec<AssignmentItemResponse>,
    /// Increases with every change; send it back in `If-Match`.
    pub version: i64,
    /// When it was given.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// Filters of assignment lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListAssignmentsQuery {
    /// Only assignments with this status.
    pub status: Option<AssignmentStatus>,
}

/// The range of an agenda.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgendaQuery {
    /// First date (`YYYY-MM-DD`, the client's calendar); default: this week's Monday.
    pub from: Option<NaiveDate>,
    /// Last date, inclusive; at most 92 days after `from`; default: this week's Sunday, or
    /// `from` + 6 days.
    pub to: Option<NaiveDate>,
}

/// One time homework is due.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OccurrenceResponse {
    /// The date, in the client's calendar.
    pub date: NaiveDate,
    /// The assignment that is due.
    pub assignment_id: Uuid,
    /// Which of the day's sessions this is, 1..times_per_day.
    pub slot: u8,
    /// `upcoming`, `due` (today), `done` or `missed`.
    pub status: OccurrenceStatus,
}

/// One day of the agenda.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgendaDay {
    /// The date, in the client's calendar.
    pub date: NaiveDate,
    /// What is due that day (empty on a free day).
    pub occurrences: Vec<OccurrenceResponse>,
}

/// What is due when, day by day, in the client's calendar.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgendaResponse {
    /// First date.
    pub from: NaiveDate,
    /// Last date, inclusive.
    pub to: NaiveDate,
    /// The client's timezone, which the dates follow.
    #[schema(example = "Europe/London")]
    pub timezone: String,
    /// Every date of the range, in order.
    pub days: Vec<AgendaDay>,
}

#[cfg(test)]
mod tests {
    use super::parse_reminder_time;
    use chrono::NaiveTime;

    #[test]
    fn reminder_times_are_two_digit_hours_and_minutes() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0);
        assert_eq!(parse_reminder_time("00:00"), t(0, 0));
        assert_eq!(parse_reminder_time("07:30"), t(7, 30));
        assert_eq!(parse_reminder_time("23:59"), t(23, 59));
        for bad in [
            "7:30",
            "24:00",
            "12:60",
            "12:5",
            "12.30",
            " 12:30",
            "12:30:00",
            "+1:30",
            "",
            "١٢:٣٠",
        ] {
            assert_eq!(parse_reminder_time(bad), None, "{bad:?}");
        }
    }
}
