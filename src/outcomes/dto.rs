//! Request and answer types of questionnaires, their assignments, responses and outcomes.
//! Requests validate themselves: a handler receives values that keep every rule it can check
//! alone.

use crate::error::{ApiError, Validator};
use crate::outcomes::scoring::{self, ChoiceOption, Direction, Item, ItemType, Scoring};
use crate::values::{parse_name, parse_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A code: 1–50 characters of `a-z`, `0-9`, `_`, `-` and `.`, starting with a letter or digit.
pub fn parse_code(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty()
        && raw.len() <= 50
        && raw
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(raw.to_string())
    } else {
        Err("must be 1 to 50 characters of a-z, 0-9, `_`, `-` and `.`, starting with a letter or digit".into())
    }
}

/// One option of a new choice item.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOptionRequest {
    /// What the client reads, 1–200 characters.
    #[schema(example = "Quite a bit of difficulty")]
    pub label: String,
    /// What choosing it scores.
    #[schema(example = 2)]
    pub score: f64,
}

/// One item of a new questionnaire.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItemRequest {
    /// A short code, unique in the questionnaire (1–50 of `a-z 0-9 _ - .`).
    #[schema(example = "stairs")]
    pub code: String,
    /// The question, 1–1000 characters.
    #[schema(example = "Going up or down 10 stairs")]
    pub text: String,
    /// How it is answered.
    #[serde(rename = "type")]
    pub kind: ItemType,
    /// Whether every response must answer it (default false).
    #[serde(default)]
    pub required: bool,
    /// Scale items: the lowest value.
    #[serde(default)]
    pub min: Option<f64>,
    /// Scale items: the highest value (greater than `min`).
    #[serde(default)]
    pub max: Option<f64>,
    /// Choice items: 2–20 options.
    #[serde(default)]
    pub options: Vec<NewOptionRequest>,
    /// Score the item the other way round (min + max − value); not for text items.
    #[serde(default)]
    pub reverse: bool,
}

/// A new questionnaire. Its scoring must be computable from its items (else 422), and it never
/// changes afterwards: a new version is a new questionnaire with a new code.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "code": "lefs-clinic", "name": "Lower Extremity Functional Scale",
    "items": [{"code": "lefs_01", "text": "(licensed wording)", "type": "scale", "min": 0, "max": 4, "required": true}],
    "scoring": {"method": "sum", "min_answered": 1}, "direction": "higher_is_better", "mcid": 9,
    "licence": "Used under the clinic's licence"
}))]
pub struct CreateQuestionnaireRequest {
    /// A code unique in the clinic (1–50 of `a-z 0-9 _ - .`).
    pub code: String,
    /// Its name, 1–200 characters.
    pub name: String,
    /// 1–100 items.
    pub items: Vec<NewItemRequest>,
    /// How item scores make the score.
    pub scoring: Scoring,
    /// Which way is better.
    pub direction: Direction,
    /// The minimal clinically important difference, in score points (> 0).
    #[serde(default)]
    pub mcid: Option<f64>,
    /// The instrument's source and the terms it is used under, at most 2000 characters.
    #[serde(default)]
    pub licence: Option<String>,
}

/// A new questionnaire that keeps every rule: items have their ids.
#[derive(Debug, Clone)]
pub struct NewQuestionnaire {
    pub code: String,
    pub name: String,
    pub items: Vec<Item>,
    pub scoring: Scoring,
    pub direction: Direction,
    pub mcid: Option<f64>,
    pub licence: Option<String>,
}

impl CreateQuestionnaireRequest {
    pub fn validate(self) -> Result<NewQuestionnaire, ApiError> {
        let mut v = Validator::new();
        let code = v.parse("code", parse_code(&self.code));
        let name = v.parse("name", parse_name(&self.name));
        v.check(
            (1..=scoring::MAX_ITEMS).contains(&self.items.len()),
            "items",
            format!("must hold 1 to {} items", scoring::MAX_ITEMS),
        );
        let mut items = Vec::with_capacity(self.items.len());
        for (i, it) in self.items.into_iter().enumerate() {
            let code = v.parse(&format!("items[{i}].code"), parse_code(&it.code));
            let text = v.parse(&format!("items[{i}].text"), parse_text(&it.text, 1000));
            let mut options = Vec::with_capacity(it.options.len());
            for (j, o) in it.options.into_iter().enumerate() {
                if let Some(label) = v.parse(&format!("items[{i}].options[{j}].label"), parse_text(&o.label, 200)) {
                    options.push(ChoiceOption {
                        id: Uuid::now_v7(),
                        label,
                        score: o.score,
                    });
                }
            }
            if let (Some(code), Some(text)) = (code, text) {
                items.push(Item {
                    id: Uuid::now_v7(),
                    code,
                    text,
                    kind: it.kind,
                    required: it.required,
                    min: it.min,
                    max: it.max,
                    options,
                    reverse: it.reverse,
                });
            }
        }
        if let Some(m) = self.mcid {
            v.check(
                m.is_finite() && m > 0.0 && m <= scoring::MAX_MAGNITUDE,
                "mcid",
                "must be a number greater than 0",
            );
        }
        let licence = self
            .licence
            .as_deref()
            .and_then(|l| v.parse("licence", parse_text(l, 2000)));
        v.finish()?;
        // Whether the score can be computed is asked of the items that read well.
        let mut v = Validator::new();
        scoring::check_definition(&items, &self.scoring, &mut v);
        v.finish()?;
        Ok(NewQuestionnaire {
            code: code.unwrap_or_default(),
            name: name.unwrap_or_default(),
            items,
            scoring: self.scoring,
            direction: self.direction,
            mcid: self.mcid,
            licence,
        })
    }
}

/// A questionnaire definition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuestionnaireResponse {
    /// Its id.
    pub id: Uuid,
    /// Unique in its clinic; built-ins: `psfs`, `lefs`.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Whether it is built in (shared by every clinic, read-only).
    pub builtin: bool,
    /// The items.
    pub items: Vec<Item>,
    /// The scoring rule.
    pub scoring: Scoring,
    /// Which way is better.
    pub direction: Direction,
    /// The minimal clinically important difference, in score points.
    pub mcid: Option<f64>,
    /// The instrument's source and the terms it is used under.
    pub licence: Option<String>,
    /// Its version (the ETag).
    pub version: i64,
    /// When it was made.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

crate::text_enum! {
    /// Whether a questionnaire assignment is still due.
    pub enum QuestionnaireAssignmentStatus {
        Active => "active",
        /// Stopped by the clinic: nothing more is due (responses made before still count).
        Stopped => "stopped",
    }
}

crate::text_enum! {
    /// The unit of a questionnaire schedule's `every`.
    pub enum ScheduleUnit {
        Days => "days",
        Weeks => "weeks",
    }
}

crate::text_enum! {
    /// Who entered a response.
    pub enum AnsweredBy {
        /// The client, in their app (a monitoring data day).
        Client => "client",
        /// Staff, on the client's behalf (not a monitoring data day).
        Practitioner => "practitioner",
        /// An integration with an API key.
        Integration => "integration",
    }
}

/// When a questionnaire is due: on `start_date` and every `every` days or weeks after it, up to
/// `end_date`, in the client's calendar.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuestionnaireSchedule {
    /// The first date it is due (may be in the past).
    pub start_date: chrono::NaiveDate,
    /// The last date it may be due; `null` for no end.
    #[serde(default)]
    pub end_date: Option<chrono::NaiveDate>,
    /// Due every this many units, 1–365.
    #[schema(minimum = 1, maximum = 365, example = 2)]
    pub every: i32,
    /// Days or weeks.
    pub unit: ScheduleUnit,
}

impl QuestionnaireSchedule {
    pub fn check(&self, v: &mut Validator) {
        v.check(
            (1..=365).contains(&self.every),
            "schedule.every",
            "must be between 1 and 365",
        );
        if let Some(end) = self.end_date {
            v.check(
                end >= self.start_date,
                "schedule.end_date",
                "must not be before `start_date`",
            );
        }
    }

    /// Days between two due dates.
    pub fn step_days(&self) -> i64 {
        let n = i64::from(self.every.max(1));
        match self.unit {
            ScheduleUnit::Days => n,
            ScheduleUnit::Weeks => 7 * n,
        }
    }

    /// The latest due date on or before `today` (within the schedule), if any.
    pub fn latest_due(&self, today: chrono::NaiveDate) -> Option<chrono::NaiveDate> {
        let last = self.end_date.map_or(today, |e| e.min(today));
        if last < self.start_date {
            return None;
        }
        let k = (last - self.start_date).num_days() / self.step_days();
        Some(self.start_date + chrono::Duration::days(k * self.step_days()))
    }

    /// The first due date after `today` (within the schedule), if any.
    pub fn next_after(&self, today: chrono::NaiveDate) -> Option<chrono::NaiveDate> {
        let next = match self.latest_due(today) {
            Some(d) => d + chrono::Duration::days(self.step_days()),
            None => self.start_date.max(today + chrono::Duration::days(1)),
        };
        let next = if next <= today {
            today + chrono::Duration::days(1)
        } else {
            next
        };
        self.end_date.is_none_or(|e| next <= e).then_some(next)
    }

    /// The due date a client has not answered yet: the latest one on or before `today`, unless
    /// a response was made on or after it (`last_answered`, a local date).
    pub fn due_since(
        &self,
        today: chrono::NaiveDate,
        last_answered: Option<chrono::NaiveDate>,
    ) -> Option<chrono::NaiveDate> {
        let due = self.latest_due(today)?;
        last_answered.is_none_or(|a| a < due).then_some(due)
    }
}

/// A questionnaire given to a client.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"questionnaire_id": "97b4f3b0-24fe-484d-a2d7-82b7e1e5c651",
    "schedule": {"start_date": "2026-11-02", "end_date": null, "every": 2, "unit": "weeks"}}))]
pub struct CreateQuestionnaireAssignmentRequest {
    /// A built-in or one of the clinic's questionnaires.
    pub questionnaire_id: Uuid,
    /// When it is due.
    pub schedule: QuestionnaireSchedule,
}

impl CreateQuestionnaireAssignmentRequest {
    pub fn validate(self) -> Result<Self, ApiError> {
        let mut v = Validator::new();
        self.schedule.check(&mut v);
        v.finish()?;
        Ok(self)
    }
}

/// Changes to a questionnaire assignment (JSON Merge Patch): `status: "stopped"` stops it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateQuestionnaireAssignmentRequest {
    /// `stopped` stops the assignment for good (assign again to restart).
    #[serde(default)]
    #[schema(schema_with = nullable_status)]
    pub status: Option<QuestionnaireAssignmentStatus>,
}

/// A questionnaire assignment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuestionnaireAssignmentResponse {
    /// Its id.
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// The questionnaire.
    pub questionnaire_id: Uuid,
    /// The questionnaire's code.
    pub code: String,
    /// When it is due.
    pub schedule: QuestionnaireSchedule,
    /// Its status.
    pub status: QuestionnaireAssignmentStatus,
    /// When it was stopped.
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub stopped_at: Option<DateTime<Utc>>,
    /// The due date not answered yet (client's calendar), if one is open.
    pub due_since: Option<chrono::NaiveDate>,
    /// The next due date after today, if the schedule has one.
    pub next_due: Option<chrono::NaiveDate>,
    /// Its version (the ETag).
    pub version: i64,
    /// When it was made.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// A questionnaire that is due for the signed-in client, with the definition to show.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DueQuestionnaire {
    /// The questionnaire assignment.
    pub assignment_id: Uuid,
    /// The due date not answered yet.
    pub due_since: chrono::NaiveDate,
    /// The questionnaire to show.
    pub questionnaire: QuestionnaireResponse,
}

/// The questionnaires due for the signed-in client.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DueQuestionnairesResponse {
    /// The items.
    pub items: Vec<DueQuestionnaire>,
}

/// A completed questionnaire. With a client-made `id`, retrying is safe: the same id with the
/// same content answers 200 with the stored response, never a second one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "0195f2a0-3c1e-7a4b-9d2e-5f6a7b8c9d11",
    "answers": [{"item_id": "90998bfb-2d57-44dc-840e-d5d839120002", "text": "Climbing stairs"},
                {"item_id": "90998bfb-2d57-44dc-840e-d5d839120003", "value": 4}]}))]
pub struct CreateQuestionnaireAnswersRequest {
    /// A UUID made by the app, for safe retries (recommended for offline apps).
    #[serde(default)]
    pub id: Option<Uuid>,
    /// When it was answered (with an offset), from the assignment's start date up to 5 minutes
    /// from now; default now. Offline apps send the time the client answered.
    #[serde(default)]
    pub answered_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// One answer per item answered (at most 200).
    #[schema(max_items = 200)]
    pub answers: Vec<scoring::AnswerBody>,
}

impl CreateQuestionnaireAnswersRequest {
    pub fn validate(self) -> Result<Self, ApiError> {
        let mut v = Validator::new();
        v.check(self.answers.len() <= 200, "answers", "must hold at most 200 answers");
        v.finish()?;
        Ok(self)
    }

    /// SHA-256 of the content in canonical form (answers by item, the time as an instant): a
    /// retry of the same id compares by it.
    pub fn content_hash(&self, assignment_id: Uuid) -> Vec<u8> {
        use sha2::{Digest, Sha256};
        let mut answers = self.answers.clone();
        answers.sort_by_key(|a| a.item_id);
        let canonical = serde_json::json!({
            "assignment_id": assignment_id,
            "answered_at": self.answered_at.map(|t| t.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            "answers": answers,
        });
        Sha256::digest(canonical.to_string().as_bytes()).to_vec()
    }
}

/// A completed questionnaire as kept: every item-level answer with its score.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuestionnaireAnswersResponse {
    /// Its id.
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// The questionnaire assignment.
    pub assignment_id: Uuid,
    /// The questionnaire.
    pub questionnaire_id: Uuid,
    /// When it was answered.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub answered_at: DateTime<Utc>,
    /// Who entered it.
    pub answered_by: AnsweredBy,
    /// The membership that entered it (`null` for an integration).
    pub answered_by_membership: Option<Uuid>,
    /// Every answer, with its score.
    pub answers: Vec<scoring::Answer>,
    /// The questionnaire's score; `null` when too few items were answered.
    pub score: Option<f64>,
    /// How many scored items were answered.
    pub answered_items: i32,
    /// When it was made.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// One score of a series.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ScorePoint {
    /// The response.
    pub response_id: Uuid,
    /// When it was answered.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub answered_at: DateTime<Utc>,
    /// The score.
    pub score: f64,
}

/// A questionnaire's scores for one client, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomeSeries {
    /// The questionnaire.
    pub questionnaire_id: Uuid,
    /// The code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Which way is better.
    pub direction: Direction,
    /// The minimal clinically important difference, in score points.
    pub mcid: Option<f64>,
    /// The scores, oldest first.
    pub series: Vec<ScorePoint>,
    /// The latest score minus the first; `null` with fewer than two scores.
    pub change: Option<f64>,
    /// Whether the change is at least the MCID in the better direction.
    pub reaches_mcid: bool,
}

/// A client's outcomes, one entry per questionnaire answered with a score.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomesResponse {
    /// The items.
    pub items: Vec<OutcomeSeries>,
}

/// The change from the first score to the latest, and whether it passes the MCID in the better
/// direction.
pub fn change(direction: Direction, mcid: Option<f64>, series: &[ScorePoint]) -> (Option<f64>, bool) {
    let (Some(first), Some(last)) = (series.first(), series.last()) else {
        return (None, false);
    };
    if series.len() < 2 {
        return (None, false);
    }
    let change = scoring::round2(last.score - first.score);
    let better = match direction {
        Direction::HigherIsBetter => change,
        Direction::LowerIsBetter => -change,
    };
    (Some(change), mcid.is_some_and(|m| better >= m - 1e-9))
}

/// The latest score of a client, as the client list shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LatestScore {
    /// The questionnaire.
    pub questionnaire_id: Uuid,
    /// The code.
    pub code: String,
    /// The score.
    pub score: f64,
    /// When it was answered.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub answered_at: DateTime<Utc>,
}

fn nullable_status() -> utoipa::openapi::Schema {
    crate::sessions::dto::nullable(
        "QuestionnaireAssignmentStatus",
        "`stopped` stops the assignment for good (assign again to restart).",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn points(scores: &[f64]) -> Vec<ScorePoint> {
        scores
            .iter()
            .map(|s| ScorePoint {
                response_id: Uuid::nil(),
                answered_at: Utc::now(),
                score: *s,
            })
            .collect()
    }

    #[test]
    fn change_passes_the_mcid_only_in_the_better_direction() {
        use Direction::*;
        assert_eq!(
            change(HigherIsBetter, Some(2.0), &points(&[3.0, 5.0])),
            (Some(2.0), true)
        );
        assert_eq!(
            change(HigherIsBetter, Some(2.0), &points(&[3.0, 4.9])),
            (Some(1.9), false)
        );
        assert_eq!(
            change(LowerIsBetter, Some(2.0), &points(&[3.0, 5.0])),
            (Some(2.0), false)
        );
        assert_eq!(
            change(LowerIsBetter, Some(9.0), &points(&[40.0, 20.0, 31.0])),
            (Some(-9.0), true)
        );
        assert_eq!(change(HigherIsBetter, Some(2.0), &points(&[3.0])), (None, false));
        assert_eq!(change(HigherIsBetter, None, &points(&[3.0, 9.0])), (Some(6.0), false));
    }

    #[test]
    fn a_schedule_is_due_until_answered_on_or_after_its_date() {
        let s = QuestionnaireSchedule {
            start_date: d("2026-11-02"),
            end_date: Some(d("2026-12-14")),
            every: 2,
            unit: ScheduleUnit::Weeks,
        };
        assert_eq!(s.latest_due(d("2026-11-01")), None);
        assert_eq!(s.next_after(d("2026-11-01")), Some(d("2026-11-02")));
        assert_eq!(s.latest_due(d("2026-11-15")), Some(d("2026-11-02")));
        assert_eq!(s.latest_due(d("2026-11-16")), Some(d("2026-11-16")));
        assert_eq!(s.due_since(d("2026-11-20"), Some(d("2026-11-16"))), None);
        assert_eq!(
            s.due_since(d("2026-11-20"), Some(d("2026-11-15"))),
            Some(d("2026-11-16"))
        );
        assert_eq!(s.next_after(d("2026-11-20")), Some(d("2026-11-30")));
        assert_eq!(s.latest_due(d("2027-01-20")), Some(d("2026-12-14")));
        assert_eq!(s.next_after(d("2026-12-14")), None);
    }
}
