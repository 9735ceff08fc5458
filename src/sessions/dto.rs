use crate::error::{ApiError, Validator};
use crate::http::patch::Patch;
use crate::text_enum;
use crate::values::parse_text;
use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

text_enum! {
    /// Which side an entry was done on.
    pub enum EntrySide {
        Left => "left",
        Right => "right",
        /// Both at once, or an exercise without sides.
        Both => "both",
    }
}

text_enum! {
    /// Which side a measurement was taken on.
    pub enum MeasurementSide {
        Left => "left",
        Right => "right",
        /// A measurement without a side.
        None => "none",
    }
}

text_enum! {
    /// What a measurement measures. Each kind has a unit, a plausible range, and whether it is
    /// taken per side (see `MeasurementKind::spec`).
    pub enum MeasurementKind {
        /// Hip flexion, degrees (0–150), per side.
        HipFlexionDeg => "hip_flexion_deg",
        /// Hip extension, degrees (0–60), per side.
        HipExtensionDeg => "hip_extension_deg",
        /// Hip internal rotation, degrees (0–70), per side.
        HipInternalRotationDeg => "hip_internal_rotation_deg",
        /// Hip external rotation, degrees (0–90), per side.
        HipExternalRotationDeg => "hip_external_rotation_deg",
        /// Hip abduction, degrees (0–80), per side.
        HipAbductionDeg => "hip_abduction_deg",
        /// Straight leg raise, degrees (0–120), per side.
        StraightLegRaiseDeg => "straight_leg_raise_deg",
        /// Single-leg stance, seconds (0–600), per side.
        SingleLegStanceSeconds => "single_leg_stance_seconds",
        /// Timed up and go, seconds (0–300), no side.
        TimedUpAndGoSeconds => "timed_up_and_go_seconds",
    }
}

/// A measurement kind's unit, range and whether it is taken per side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeasurementSpec {
    pub unit: &'static str,
    pub min: f64,
    pub max: f64,
    pub sided: bool,
}

impl MeasurementKind {
    pub fn spec(self) -> MeasurementSpec {
        use MeasurementKind::*;
        let (unit, max, sided) = match self {
            HipFlexionDeg => ("deg", 150.0, true),
            HipExtensionDeg => ("deg", 60.0, true),
            HipInternalRotationDeg => ("deg", 70.0, true),
            HipExternalRotationDeg => ("deg", 90.0, true),
            HipAbductionDeg => ("deg", 80.0, true),
            StraightLegRaiseDeg => ("deg", 120.0, true),
            SingleLegStanceSeconds => ("s", 600.0, true),
            TimedUpAndGoSeconds => ("s", 300.0, false),
        };
        MeasurementSpec {
            unit,
            min: 0.0,
            max,
            sided,
        }
    }
}

/// What was done of one item of the homework.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EntryBody {
    /// The assignment item (from the assignment's `items`), which must belong to this assignment.
    pub assignment_item_id: Uuid,
    /// The side it was done on.
    #[serde(default)]
    #[schema(schema_with = nullable_entry_side)]
    pub side: Option<EntrySide>,
    /// Sets done, 0–100.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100)]
    pub sets_done: Option<i32>,
    /// Repetitions done (in all), 0–1000.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000)]
    pub reps_done: Option<i32>,
    /// Seconds held, 0–7200.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 7200)]
    pub hold_seconds: Option<i32>,
    /// Whether the item was done as prescribed.
    pub completed: bool,
    /// Pain during the item, 0–10.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10)]
    pub pain: Option<i16>,
    /// A note, at most 1000 characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub notes: Option<String>,
}

/// One measurement taken during the session.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MeasurementBody {
    /// What was measured.
    pub kind: MeasurementKind,
    /// `left` or `right` for per-side kinds; `none` for kinds without a side.
    pub side: MeasurementSide,
    /// The value, in the kind's unit and within its range.
    #[schema(example = 28)]
    pub value: f64,
}

/// One performance of an assignment. With a client-made `id`, retrying the same log is safe:
/// the same id with the same content answers 200 with the stored log, never a second one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "id": "0195f2a0-3c1e-7a4b-9d2e-5f6a7b8c9d01",
    "performed_at": "2026-11-23T18:05:00Z", "duration_seconds": 900,
    "pain_before": 4, "pain_after": 2, "effort": 5, "notes": "left hip tight",
    "entries": [{"assignment_item_id": "0195f2a0-3c1e-7a4b-9d2e-5f6a7b8c9d02", "side": "left", "sets_done": 1, "hold_seconds": 60, "completed": true}],
    "measurements": [{"kind": "hip_internal_rotation_deg", "side": "left", "value": 28}]
}))]
pub struct CreateSessionRequest {
    /// A UUID made by the app, for safe retries (recommended for offline apps).
    #[serde(default)]
    pub id: Option<Uuid>,
    /// When it was done (with an offset): from the assignment's start date (in the client's
    /// timezone) up to 5 minutes from now.
    pub performed_at: DateTime<FixedOffset>,
    /// How long it took, 0–86400 seconds.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 86400)]
    pub duration_seconds: Option<i32>,
    /// Pain before, 0–10 (numeric rating scale).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10)]
    pub pain_before: Option<i16>,
    /// Pain after, 0–10. 7 or more, or 3 more than before, flags the log for review.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10)]
    pub pain_after: Option<i16>,
    /// Perceived effort, 0–10.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10)]
    pub effort: Option<i16>,
    /// A note, at most 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
    /// What was done of each item (at most 200).
    #[serde(default)]
    #[schema(max_items = 200)]
    pub entries: Vec<EntryBody>,
    /// Measurements taken (at most 100).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub measurements: Vec<MeasurementBody>,
}

/// Changes to a log (JSON Merge Patch); `entries` and `measurements` are replaced whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSessionRequest {
    /// When it was done.
    #[serde(default)]
    #[schema(value_type = DateTime<Utc>)]
    pub performed_at: Patch<DateTime<FixedOffset>>,
    /// How long it took; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 86400)]
    pub duration_seconds: Patch<i32>,
    /// Pain before; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<i16>, minimum = 0, maximum = 10)]
    pub pain_before: Patch<i16>,
    /// Pain after; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<i16>, minimum = 0, maximum = 10)]
    pub pain_after: Patch<i16>,
    /// Effort; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<i16>, minimum = 0, maximum = 10)]
    pub effort: Patch<i16>,
    /// A note; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub notes: Patch<String>,
    /// The entries, replacing all of them.
    #[serde(default)]
    #[schema(value_type = Vec<EntryBody>, max_items = 200)]
    pub entries: Patch<Vec<EntryBody>>,
    /// The measurements, replacing all of them.
    #[serde(default)]
    #[schema(value_type = Vec<MeasurementBody>, max_items = 100)]
    pub measurements: Patch<Vec<MeasurementBody>>,
}

/// A practitioner's review of a flagged log.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewSessionRequest {
    /// A note on what was done about it, at most 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000, example = "Called Sam; reduced the hold to 30 s.")]
    pub note: Option<String>,
}

text_enum! {
    /// Who logged a session.
    pub enum LoggedByRole {
        /// The client, in their app.
        Client => "client",
        /// A practitioner, on the client's behalf.
        Practitioner => "practitioner",
        /// An integration, with an API key.
        Integration => "integration",
    }
}

/// The review of a flag.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewResponse {
    /// When it was reviewed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub reviewed_at: DateTime<Utc>,
    /// The practitioner who reviewed it.
    pub reviewed_by: Option<Uuid>,
    /// Their note.
    pub note: Option<String>,
}

/// A logged session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionResponse {
    /// The log's id (the app's, when it sent one).
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// The assignment performed.
    pub assignment_id: Uuid,
    /// When it was done.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub performed_at: DateTime<Utc>,
    /// The date it counts for, in the client's calendar.
    pub local_date: NaiveDate,
    /// How long it took, in seconds.
    pub duration_seconds: Option<i32>,
    /// Pain before, 0–10.
    pub pain_before: Option<i16>,
    /// Pain after, 0–10.
    pub pain_after: Option<i16>,
    /// Effort, 0–10.
    pub effort: Option<i16>,
    /// A note.
    pub notes: Option<String>,
    /// What was done of each item.
    pub entries: Vec<EntryBody>,
    /// Measurements taken.
    pub measurements: Vec<MeasurementBody>,
    /// Who logged it: the client, a practitioner on their behalf, or an integration.
    pub logged_by_role: LoggedByRole,
    /// The membership that logged it (`null` for an integration).
    pub logged_by: Option<Uuid>,
    /// Pain after of 7 or more, or 3 more than before: a practitioner should look.
    pub flagged: bool,
    /// The review that closed the flag, if any.
    #[schema(schema_with = nullable_review)]
    pub review: Option<ReviewResponse>,
    /// Increases with every change; send it back in `If-Match`.
    pub version: i64,
    /// When it was logged.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// Filters of a client's logs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListSessionsQuery {
    /// First date (the client's calendar), inclusive.
    pub from: Option<NaiveDate>,
    /// Last date, inclusive.
    pub to: Option<NaiveDate>,
    /// Only logs of this assignment.
    pub assignment_id: Option<Uuid>,
}

impl ListSessionsQuery {
    /// The filter of one client's logs; 422 when `to` is before `from`.
    pub fn filter(&self, client_id: Uuid) -> Result<ListFilter, crate::error::ApiError> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to < from
        {
            return Err(crate::error::ApiError::validation("to", "must not be before `from`"));
        }
        Ok(ListFilter {
            client_id: Some(client_id),
            assignment_id: self.assignment_id,
            from: self.from,
            to: self.to,
            flagged: None,
            reviewed: None,
        })
    }
}

/// What a list of logs holds: one client's (with their filters) or the clinic's flags.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub client_id: Option<Uuid>,
    pub assignment_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub flagged: Option<bool>,
    pub reviewed: Option<bool>,
}

/// Filters of the clinic's logs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListClinicSessionsQuery {
    /// Only flagged (`true`) or unflagged (`false`) logs.
    pub flagged: Option<bool>,
    /// Only reviewed (`true`) or unreviewed (`false`) logs.
    pub reviewed: Option<bool>,
}

/// A named schema or `null`, with the description beside the choice (where linters and client
/// generators read it) rather than inside its `$ref` branch.
pub(crate) fn nullable(name: &str, description: &str) -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    use utoipa::openapi::{Ref, RefOr};
    OneOfBuilder::new()
        .item(RefOr::Ref(Ref::from_schema_name(name)))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(description))
        .build()
        .into()
}

fn nullable_entry_side() -> utoipa::openapi::Schema {
    nullable("EntrySide", "The side it was done on: `left`, `right` or `both`.")
}

fn nullable_review() -> utoipa::openapi::Schema {
    nullable(
        "ReviewResponse",
        "The review that closed the flag; `null` while it is open or for an unflagged log.",
    )
}

// ---- Validation: a request that leaves here obeys every rule a log can check on its own.

const NOTES: usize = 2000;
const ENTRY_NOTES: usize = 1000;

/// The content of a log after validation: what a replay is compared by. Shared with the demo
/// generator, whose logs must compare equal to a client's replay of them.
#[derive(Debug, Clone, Serialize)]
pub struct Content {
    pub performed_at: DateTime<Utc>,
    pub duration_seconds: Option<i32>,
    pub pain_before: Option<i16>,
    pub pain_after: Option<i16>,
    pub effort: Option<i16>,
    pub notes: Option<String>,
    pub entries: Vec<EntryBody>,
    pub measurements: Vec<MeasurementBody>,
}

impl Content {
    /// SHA-256 of the content in canonical form: instants in UTC, so the same instant written
    /// with another offset is the same log.
    pub fn hash(&self, assignment_id: Uuid) -> Vec<u8> {
        let canonical = serde_json::json!({
            "assignment_id": assignment_id,
            "performed_at": self.performed_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "duration_seconds": self.duration_seconds,
            "pain_before": self.pain_before,
            "pain_after": self.pain_after,
            "effort": self.effort,
            "notes": self.notes,
            "entries": self.entries,
            "measurements": self.measurements,
        });
        Sha256::digest(canonical.to_string().as_bytes()).to_vec()
    }
}

fn check_score(v: &mut Validator, field: &str, value: Option<i16>) {
    if let Some(n) = value {
        v.check((0..=10).contains(&n), field, "must be between 0 and 10");
    }
}

fn check_notes(v: &mut Validator, field: &str, raw: Option<String>, max: usize) -> Option<String> {
    raw.filter(|n| !n.trim().is_empty())
        .and_then(|n| v.parse(field, parse_text(&n, max)))
}

fn check_entries(v: &mut Validator, entries: Vec<EntryBody>) -> Vec<EntryBody> {
    if entries.len() > 200 {
        v.add("entries", "must have at most 200 entries");
        return Vec::new();
    }
    entries
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            let f = |name: &str| format!("entries[{i}].{name}");
            let mut range = |name: &str, value: Option<i32>, max: i32| {
                if let Some(n) = value {
                    v.check((0..=max).contains(&n), f(name), format!("must be between 0 and {max}"));
                }
            };
            range("sets_done", e.sets_done, 100);
            range("reps_done", e.reps_done, 1000);
            range("hold_seconds", e.hold_seconds, 7200);
            check_score(v, &f("pain"), e.pain);
            e.notes = check_notes(v, &f("notes"), e.notes.take(), ENTRY_NOTES);
            e
        })
        .collect()
}

fn check_measurements(v: &mut Validator, measurements: &[MeasurementBody]) {
    v.check(
        measurements.len() <= 100,
        "measurements",
        "must have at most 100 measurements",
    );
    for (i, m) in measurements.iter().enumerate() {
        let spec = m.kind.spec();
        let field = |name: &str| format!("measurements[{i}].{name}");
        v.check(
            m.value.is_finite() && (spec.min..=spec.max).contains(&m.value),
            field("value"),
            format!(
                "must be between {} and {} {} for {}",
                spec.min, spec.max, spec.unit, m.kind
            ),
        );
        let side_ok = if spec.sided {
            m.side != MeasurementSide::None
        } else {
            m.side == MeasurementSide::None
        };
        v.check(
            side_ok,
            field("side"),
            if spec.sided {
                format!("must be `left` or `right` for {}", m.kind)
            } else {
                format!("must be `none` for {}", m.kind)
            },
        );
    }
}

/// A new log as the request gave it, every rule checked but those that need the assignment.
#[derive(Debug)]
pub struct NewLog {
    /// The app's id for the log, if it sent one.
    pub id: Option<Uuid>,
    pub content: Content,
}

impl CreateSessionRequest {
    /// Checks every rule of a log that does not need its assignment (422 naming each field).
    pub fn validate(self) -> Result<NewLog, ApiError> {
        let mut v = Validator::new();
        check_score(&mut v, "pain_before", self.pain_before);
        check_score(&mut v, "pain_after", self.pain_after);
        check_score(&mut v, "effort", self.effort);
        check_duration(&mut v, self.duration_seconds);
        let notes = check_notes(&mut v, "notes", self.notes, NOTES);
        let entries = check_entries(&mut v, self.entries);
        check_measurements(&mut v, &self.measurements);
        v.finish()?;
        Ok(NewLog {
            id: self.id,
            content: Content {
                // PostgreSQL keeps microseconds: the first answer must say what a replay reads.
                performed_at: self.performed_at.with_timezone(&Utc).trunc_subsecs(6),
                duration_seconds: self.duration_seconds,
                pain_before: self.pain_before,
                pain_after: self.pain_after,
                effort: self.effort,
                notes,
                entries,
                measurements: self.measurements,
            },
        })
    }
}

/// Changes to a log, every rule checked but those that need the assignment; `None` keeps a
/// field as it is.
#[derive(Debug, Default)]
pub struct LogChanges {
    pub performed_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<Option<i32>>,
    pub pain_before: Option<Option<i16>>,
    pub pain_after: Option<Option<i16>>,
    pub effort: Option<Option<i16>>,
    pub notes: Option<Option<String>>,
    pub entries: Option<Vec<EntryBody>>,
    pub measurements: Option<Vec<MeasurementBody>>,
}

impl LogChanges {
    /// The log's content once these changes apply to `before`.
    pub fn applied_to(&self, before: &SessionResponse) -> Content {
        Content {
            performed_at: self.performed_at.unwrap_or(before.performed_at),
            duration_seconds: self.duration_seconds.unwrap_or(before.duration_seconds),
            pain_before: self.pain_before.unwrap_or(before.pain_before),
            pain_after: self.pain_after.unwrap_or(before.pain_after),
            effort: self.effort.unwrap_or(before.effort),
            notes: self.notes.clone().unwrap_or_else(|| before.notes.clone()),
            entries: self.entries.clone().unwrap_or_else(|| before.entries.clone()),
            measurements: self.measurements.clone().unwrap_or_else(|| before.measurements.clone()),
        }
    }
}

impl UpdateSessionRequest {
    /// Checks every rule of the changes that does not need the log's assignment.
    pub fn validate(self) -> Result<LogChanges, ApiError> {
        let mut v = Validator::new();
        let performed_at = self
            .performed_at
            .required("performed_at", &mut v)
            .map(|t| t.with_timezone(&Utc).trunc_subsecs(6));
        let duration_seconds = self.duration_seconds.into_change();
        check_duration(&mut v, duration_seconds.flatten());
        let (pain_before, pain_after, effort) = (
            self.pain_before.into_change(),
            self.pain_after.into_change(),
            self.effort.into_change(),
        );
        check_score(&mut v, "pain_before", pain_before.flatten());
        check_score(&mut v, "pain_after", pain_after.flatten());
        check_score(&mut v, "effort", effort.flatten());
        let notes = self.notes.into_change().map(|n| check_notes(&mut v, "notes", n, NOTES));
        let entries = self
            .entries
            .required("entries", &mut v)
            .map(|e| check_entries(&mut v, e));
        let measurements = self.measurements.required("measurements", &mut v);
        if let Some(m) = &measurements {
            check_measurements(&mut v, m);
        }
        v.finish()?;
        Ok(LogChanges {
            performed_at,
            duration_seconds,
            pain_before,
            pain_after,
            effort,
            notes,
            entries,
            measurements,
        })
    }
}

impl ReviewSessionRequest {
    /// The review's note, checked.
    pub fn validate(self) -> Result<Option<String>, ApiError> {
        let mut v = Validator::new();
        let note = check_notes(&mut v, "note", self.note, NOTES);
        v.finish()?;
        Ok(note)
    }
}

fn check_duration(v: &mut Validator, seconds: Option<i32>) {
    if let Some(d) = seconds {
        v.check(
            (0..=86_400).contains(&d),
            "duration_seconds",
            "must be between 0 and 86400",
        );
    }
}
