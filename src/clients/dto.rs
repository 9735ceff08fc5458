use crate::http::patch::Patch;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A client: the person receiving care.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientResponse {
    /// The client's id.
    pub id: Uuid,
    /// Full name.
    #[schema(example = "Sam Lee")]
    pub name: String,
    /// Email, used for the client's login invitation.
    #[schema(example = "sam@example.com")]
    pub email: Option<String>,
    /// IANA timezone; the client's schedule and agenda follow it.
    #[schema(example = "Europe/London")]
    pub timezone: String,
    /// The practitioner mainly responsible for the client.
    pub primary_practitioner_id: Option<Uuid>,
    /// The booking system's id for this client, unique in the clinic.
    #[schema(example = "bk-1042")]
    pub external_id: Option<String>,
    /// True once archived; an archived client has no access.
    pub archived: bool,
    /// When the client was archived.
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub archived_at: Option<DateTime<Utc>>,
    /// Whether the client has accepted an invitation and can sign in.
    pub has_login: bool,
    /// Increases with every change; send it back in `If-Match`.
    pub version: i64,
    /// When the client was added.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When the client last changed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// A client as the clinic's list shows it: the client, and what a practitioner scans first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientListItem {
    #[serde(flatten)]
    pub client: ClientResponse,
    /// When the client's latest session log was performed (deleted logs aside); `null` before
    /// the first.
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub last_session_at: Option<DateTime<Utc>>,
    /// Done ÷ due over the last 14 days of the client's calendar, today included once done, as
    /// in the progress report; from 0 to 1, `null` when nothing was due.
    #[schema(example = 0.75)]
    pub adherence_14d: Option<f64>,
    /// Flagged session logs that no practitioner has reviewed yet.
    pub open_flags: i64,
    /// The client's latest questionnaire score; `null` before the first, or when the caller
    /// lacks `outcomes:read`.
    #[schema(schema_with = nullable_latest_score)]
    pub latest_score: Option<crate::outcomes::dto::LatestScore>,
}

/// A new client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClientRequest {
    /// Full name (1–200 characters).
    #[schema(value_type = crate::values::openapi::Name, example = "Sam Lee")]
    pub name: String,
    /// Email (needed to invite the client to the app).
    #[serde(default, deserialize_with = "crate::http::json::absent_or_value")]
    #[schema(example = "sam@example.com", format = "email", nullable = false)]
    pub email: Option<String>,
    /// IANA timezone name, e.g. `Europe/London`.
    #[schema(example = "Europe/London")]
    pub timezone: String,
    /// The booking system's id, unique in the clinic (1–100 characters, no spaces or `/`).
    #[serde(default, deserialize_with = "crate::http::json::absent_or_value")]
    #[schema(value_type = crate::values::openapi::ExternalId, required = false, example = "bk-1042")]
    pub external_id: Option<String>,
    /// An active practitioner of the clinic.
    #[serde(default, deserialize_with = "crate::http::json::absent_or_value")]
    #[schema(nullable = false)]
    pub primary_practitioner_id: Option<Uuid>,
}

/// Changes to a client (JSON Merge Patch). `archived: true` archives and ends the client's
/// access at once; `false` restores.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClientRequest {
    /// Full name.
    #[serde(default)]
    #[schema(value_type = crate::values::openapi::Name)]
    pub name: Patch<String>,
    /// Email; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = "email")]
    pub email: Patch<String>,
    /// IANA timezone name.
    #[serde(default)]
    #[schema(value_type = String, example = "America/New_York")]
    pub timezone: Patch<String>,
    /// The booking system's id; `null` clears it.
    #[serde(default)]
    #[schema(schema_with = nullable_external_id)]
    pub external_id: Patch<String>,
    /// An active practitioner of the clinic; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub primary_practitioner_id: Patch<Uuid>,
    /// `true` archives (access ends at once), `false` restores.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub archived: Patch<bool>,
}

/// A booking system's upsert of a client by its own id. On create, `name` and `timezone` are
/// required; on update, fields left out keep their values and `null` clears a nullable one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertClientRequest {
    /// Full name (1–200 characters).
    #[serde(default)]
    #[schema(value_type = crate::values::openapi::Name, example = "Sam Lee")]
    pub name: Patch<String>,
    /// Email; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = "email")]
    pub email: Patch<String>,
    /// IANA timezone name.
    #[serde(default)]
    #[schema(value_type = String, example = "Europe/London")]
    pub timezone: Patch<String>,
    /// An active practitioner of the clinic; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub primary_practitioner_id: Patch<Uuid>,
}

/// Filters of the client list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListClientsQuery {
    /// Case-insensitive text searched in name, email and external id.
    #[param(example = "lee", schema_with = crate::values::openapi::query_text)]
    pub q: Option<String>,
    /// Only clients of this primary practitioner.
    pub primary_practitioner_id: Option<Uuid>,
    /// `false` (default): current clients; `true`: archived clients only.
    pub archived: Option<bool>,
}

fn nullable_external_id() -> utoipa::openapi::Schema {
    crate::values::openapi::nullable_ref::<crate::values::openapi::ExternalId>(
        "The booking system's id; `null` clears it.",
    )
}

fn nullable_latest_score() -> utoipa::openapi::Schema {
    crate::values::openapi::nullable_ref::<crate::outcomes::dto::LatestScore>(
        "The client's latest questionnaire score; `null` before the first, or when the caller lacks `outcomes:read`.",
    )
}
