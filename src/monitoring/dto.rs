//! Request and answer types of the remote-monitoring ledger.

use crate::error::{ApiError, Validator};
use crate::http::patch::Patch;
use crate::monitoring::ledger::{Month, Period};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

crate::text_enum! {
    /// How the clinic interacted with the client.
    pub enum InteractionKind {
        Call => "call",
        Video => "video",
        Message => "message",
        /// Reviewing the client's data without them.
        Review => "review",
    }
}

/// The longest interaction, in minutes.
pub const MAX_MINUTES: i32 = 600;

/// A new monitoring episode.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"start_date": "2026-09-01", "end_date": null}))]
pub struct CreateEpisodeRequest {
    /// The first day of monitoring (client's calendar); periods of 30 days start from it.
    pub start_date: NaiveDate,
    /// The last day, if known; `null` while it goes on.
    #[serde(default)]
    pub end_date: Option<NaiveDate>,
}

impl CreateEpisodeRequest {
    pub fn validate(self) -> Result<Self, ApiError> {
        let mut v = Validator::new();
        if let Some(end) = self.end_date {
            v.check(end >= self.start_date, "end_date", "must not be before `start_date`");
        }
        v.finish()?;
        Ok(self)
    }
}

/// Changes to an episode (JSON Merge Patch): `end_date` ends it; `null` opens it again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEpisodeRequest {
    /// The last day of monitoring; `null` opens the episode again.
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub end_date: Patch<NaiveDate>,
}

/// An episode as stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EpisodeResponse {
    /// Its id.
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// The first day.
    pub start_date: NaiveDate,
    /// The last day; `null` while it goes on.
    pub end_date: Option<NaiveDate>,
    /// Its version (the ETag).
    pub version: i64,
    /// When it was made.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// A new interaction.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "call", "minutes": 15, "interactive": true, "occurred_at": "2026-11-23T16:00:00Z"}))]
pub struct CreateInteractionRequest {
    /// What kind of interaction.
    pub kind: InteractionKind,
    /// Management minutes, 1–600.
    #[schema(minimum = 1, maximum = 600)]
    pub minutes: i32,
    /// A real-time interactive contact (a call or video with the client).
    pub interactive: bool,
    /// When it happened (with an offset); not in the future.
    pub occurred_at: DateTime<FixedOffset>,
}

fn check_minutes(v: &mut Validator, minutes: i32) {
    v.check(
        (1..=MAX_MINUTES).contains(&minutes),
        "minutes",
        format!("must be between 1 and {MAX_MINUTES}"),
    );
}

fn check_time(v: &mut Validator, at: DateTime<FixedOffset>) {
    v.check(
        at.with_timezone(&Utc) <= Utc::now() + chrono::Duration::minutes(5),
        "occurred_at",
        "must not be in the future",
    );
}

impl CreateInteractionRequest {
    pub fn validate(self) -> Result<Self, ApiError> {
        let mut v = Validator::new();
        check_minutes(&mut v, self.minutes);
        check_time(&mut v, self.occurred_at);
        v.finish()?;
        Ok(self)
    }
}

/// Corrections to an interaction (JSON Merge Patch).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInteractionRequest {
    /// What kind of interaction.
    #[serde(default)]
    #[schema(schema_with = nullable_kind)]
    pub kind: Option<InteractionKind>,
    /// Management minutes, 1–600.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 600)]
    pub minutes: Option<i32>,
    /// A real-time interactive contact.
    #[serde(default)]
    pub interactive: Option<bool>,
    /// When it happened; not in the future.
    #[serde(default)]
    pub occurred_at: Option<DateTime<FixedOffset>>,
}

impl UpdateInteractionRequest {
    pub fn validate(self) -> Result<Self, ApiError> {
        let mut v = Validator::new();
        if let Some(m) = self.minutes {
            check_minutes(&mut v, m);
        }
        if let Some(t) = self.occurred_at {
            check_time(&mut v, t);
        }
        v.finish()?;
        Ok(self)
    }
}

/// An interaction of the clinic with the client.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InteractionResponse {
    /// Its id.
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// What kind of interaction.
    pub kind: InteractionKind,
    /// Management minutes.
    pub minutes: i32,
    /// A real-time interactive contact.
    pub interactive: bool,
    /// When it happened.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub occurred_at: DateTime<Utc>,
    /// The staff member who recorded it (`null` for an API key).
    pub recorded_by: Option<Uuid>,
    /// Its version (the ETag).
    pub version: i64,
    /// When it was made.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// Where an episode's set-up code is billed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SetupCode {
    /// Always `98975`.
    #[schema(example = "98975")]
    pub code: String,
    /// The start of the period that first reached 2 data days (its `codes` list 98975 too).
    pub period_start: NaiveDate,
}

/// An episode with its ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EpisodeLedger {
    /// Its id.
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// The first day.
    pub start_date: NaiveDate,
    /// The last day; `null` while it goes on.
    pub end_date: Option<NaiveDate>,
    /// Its version (the ETag).
    pub version: i64,
    /// `null` until a period reaches 2 data days.
    #[schema(schema_with = nullable_setup_code)]
    pub setup_code: Option<SetupCode>,
    /// 30-day periods from the start, up to today or the end.
    pub periods: Vec<Period>,
    /// Calendar months (client's timezone) of management time.
    pub months: Vec<Month>,
}

/// A client's monitoring ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonitoringResponse {
    /// The client's timezone, which dates and months follow.
    pub timezone: String,
    /// Oldest first.
    pub episodes: Vec<EpisodeLedger>,
    /// The client's interactions, oldest first.
    pub interactions: Vec<InteractionResponse>,
}

/// The clinic-wide list's filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClinicMonitoringQuery {
    /// Only periods ending, and months ending, before this date (`YYYY-MM-DD`), such as the
    /// first day of the billing run.
    pub period_ending_before: Option<NaiveDate>,
}

/// One episode of the clinic's list for billing staff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClinicEpisode {
    /// The client.
    pub client_id: Uuid,
    /// The client's external id, to match the billing system's records.
    pub external_id: Option<String>,
    #[serde(flatten)]
    pub ledger: EpisodeLedger,
}

fn nullable_kind() -> utoipa::openapi::Schema {
    crate::sessions::dto::nullable("InteractionKind", "What kind of interaction.")
}

fn nullable_setup_code() -> utoipa::openapi::Schema {
    crate::values::openapi::nullable_ref::<SetupCode>(
        "The set-up code (98975) and the period that earned it; `null` until a period reaches 2 data days.",
    )
}
