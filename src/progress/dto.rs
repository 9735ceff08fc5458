use crate::assignments::dto::AssignmentStatus;
use crate::sessions::dto::MeasurementKind;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The range of a progress report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProgressQuery {
    /// First date (`YYYY-MM-DD`, the client's calendar); default: 27 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last date, inclusive; default: today in the client's timezone. A range covers at most
    /// 366 days.
    pub to: Option<NaiveDate>,
}

/// How much of the homework was done. Occurrences after today are not counted yet, nor are
/// today's that are still due.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdherenceResponse {
    /// Occurrences that were due in the range: every one before today, and today's done ones.
    pub scheduled: u32,
    /// Of those, how many were done (a log on their date; `times_per_day` logs fill the slots).
    pub done: u32,
    /// `done / scheduled`, from 0 to 1; `null` when nothing was due.
    #[schema(example = 0.8)]
    pub ratio: Option<f64>,
    /// Consecutive done occurrences up to the last one due (today's still-due occurrence does
    /// not break it).
    pub current_streak: u32,
    /// The longest run of consecutive done occurrences in the range.
    pub longest_streak: u32,
}

/// Pain in one week (Monday to Sunday) of the range.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PainWeekResponse {
    /// The Monday the week starts on.
    pub week_start: NaiveDate,
    /// Live logs in the week (in the range).
    pub sessions: u32,
    /// Average `pain_before` of the week's logs that gave one (0–10); `null` when none did.
    pub before_avg: Option<f64>,
    /// Average `pain_after` of the week's logs that gave one (0–10); `null` when none did.
    pub after_avg: Option<f64>,
}

/// Reported pain over the range (0–10 numeric rating scale).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PainResponse {
    /// Weekly averages, oldest first; weeks without logs are left out.
    pub weekly: Vec<PainWeekResponse>,
    /// The last week's `before_avg` minus the first week's (negative: less pain); `null` with
    /// fewer than two weeks that have one.
    pub change_before: Option<f64>,
    /// The last week's `after_avg` minus the first week's (negative: less pain); `null` with
    /// fewer than two weeks that have one.
    pub change_after: Option<f64>,
}

/// One measured value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeasurementPoint {
    /// The date of the log, in the client's calendar.
    pub date: NaiveDate,
    /// When the log was performed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub performed_at: DateTime<Utc>,
    /// The session log it was recorded in.
    pub session_id: Uuid,
    /// The value, in the kind's unit.
    #[schema(example = 28)]
    pub value: f64,
}

/// A kind's values per side, oldest first.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct MeasurementSeries {
    /// Values measured on the left side.
    pub left: Vec<MeasurementPoint>,
    /// Values measured on the right side.
    pub right: Vec<MeasurementPoint>,
    /// Values of kinds measured without a side.
    pub none: Vec<MeasurementPoint>,
}

/// The latest value of each side in the range.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LatestValues {
    /// The latest left value; `null` when the left side was not measured.
    pub left: Option<f64>,
    /// The latest right value; `null` when the right side was not measured.
    pub right: Option<f64>,
    /// The latest value of a kind without a side.
    pub none: Option<f64>,
}

/// The gap between the two sides: one hip is usually tighter, and this shows whether the gap
/// closes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AsymmetryResponse {
    /// |latest left − latest right|, in the kind's unit.
    #[schema(example = 6)]
    pub difference: f64,
    /// The difference as a percentage of the larger side; `null` when both are 0.
    #[schema(example = 17.6)]
    pub percent: Option<f64>,
    /// The difference now minus the difference between the first values of the range
    /// (negative: the gap closes); `null` without an earlier pair to compare with.
    #[schema(example = -9)]
    pub change: Option<f64>,
}

/// One measurement kind over the range.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeasurementProgress {
    /// The measurement kind.
    pub kind: MeasurementKind,
    /// Its unit: `deg` or `s`.
    #[schema(example = "deg")]
    pub unit: String,
    /// The values per side.
    pub series: MeasurementSeries,
    /// The latest value per side.
    pub latest: LatestValues,
    /// Left against right; `null` unless both sides were measured in the range.
    #[schema(schema_with = nullable_asymmetry)]
    pub asymmetry: Option<AsymmetryResponse>,
}

/// A 30-day window counted from an assignment's start date, for remote therapeutic
/// monitoring: days with at least one log, and whether they reach 16.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonitoringWindowResponse {
    /// First day of the window (the assignment's start date + a multiple of 30 days).
    pub start: NaiveDate,
    /// Last day of the window, inclusive (`start` + 29 days).
    pub end: NaiveDate,
    /// Distinct dates of the window, up to today, with at least one live log of the assignment.
    pub days_with_data: u32,
    /// Whether `days_with_data` reaches 16.
    pub reaches_threshold: bool,
}

/// One assignment's part of the report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignmentProgress {
    /// The assignment.
    pub assignment_id: Uuid,
    /// Its name.
    #[schema(example = "Hip mobility")]
    pub name: String,
    /// Its status now.
    pub status: AssignmentStatus,
    /// Adherence to this assignment over the range.
    pub adherence: AdherenceResponse,
    /// The monitoring windows that overlap the range and have started by today, oldest first.
    pub monitoring_windows: Vec<MonitoringWindowResponse>,
}

/// A client's progress over a range of their calendar.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressResponse {
    /// The client.
    pub client_id: Uuid,
    /// The client's IANA timezone, which the dates follow.
    #[schema(example = "Europe/London")]
    pub timezone: String,
    /// First date of the range.
    pub from: NaiveDate,
    /// Last date of the range, inclusive.
    pub to: NaiveDate,
    /// Today in the client's timezone: nothing after it counts yet.
    pub today: NaiveDate,
    /// Adherence over all assignments together.
    pub adherence: AdherenceResponse,
    /// Pain from the live logs of the range.
    pub pain: PainResponse,
    /// One entry per measurement kind recorded in the range, in the vocabulary's order.
    pub measurements: Vec<MeasurementProgress>,
    /// Each assignment scheduled in the range, oldest first.
    pub assignments: Vec<AssignmentProgress>,
    /// The client's questionnaire scores (all time), one series per questionnaire, with the
    /// change from the first score and whether it reaches the MCID. Empty for a caller without
    /// `outcomes:read`.
    pub outcomes: Vec<crate::outcomes::dto::OutcomeSeries>,
}

fn nullable_asymmetry() -> utoipa::openapi::Schema {
    crate::sessions::dto::nullable(
        "AsymmetryResponse",
        "Left against right; `null` unless both sides were measured in the range.",
    )
}
