//! Audit events as the API shows them.

use crate::auth::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

fn nullable_role_of_actor() -> utoipa::openapi::Schema {
    crate::values::openapi::nullable_ref::<Role>(
        "The member's role in the clinic; `null` for keys, feeds and the system.",
    )
}

fn nullable_role_of_person() -> utoipa::openapi::Schema {
    crate::values::openapi::nullable_ref::<Role>("The person's role in the clinic; `null` for an API key.")
}

/// Who acted.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditActor {
    /// `user`, `api_key`, `calendar_feed` or `system`.
    #[schema(example = "user")]
    pub kind: String,
    /// The login's id (as `GET /v1/me` shows it), the API key's or the calendar feed's.
    pub id: Option<Uuid>,
    /// The member's role in the clinic; `null` for keys, feeds and the system.
    #[schema(schema_with = nullable_role_of_actor)]
    pub role: Option<Role>,
}

/// What the request was about.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditResource {
    /// The kind of record (`client`, `assignment`, `session`, `webhook`, ...).
    #[serde(rename = "type")]
    #[schema(example = "client")]
    pub kind: Option<String>,
    /// Its id.
    pub id: Option<Uuid>,
}

/// One audit event: ids, never names, emails or free text.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventResponse {
    /// The event's id (time-ordered).
    pub id: Uuid,
    /// When the request was answered (for a change: when it was made).
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub occurred_at: DateTime<Utc>,
    /// Who acted.
    pub actor: AuditActor,
    /// The operation (its OpenAPI `operationId`, e.g. `get_client`), or `sign_in`,
    /// `sign_in_failed`, `refresh_token`.
    #[schema(example = "get_client")]
    pub action: String,
    /// The record the request was about (for a creation, the new record).
    pub resource: AuditResource,
    /// The clients whose data the request read or changed (a list names every one it returned).
    pub client_ids: Vec<Uuid>,
    /// The request's `X-Request-Id`.
    pub request_id: Option<Uuid>,
    /// The caller's network address.
    pub ip: Option<String>,
    /// The caller's `User-Agent` (at most 512 characters).
    pub user_agent: Option<String>,
    /// The HTTP status the request was answered with (403 for a refusal).
    #[schema(example = 200)]
    pub status: u16,
}

/// Filters of the audit trail.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListAuditEventsQuery {
    /// Only events about this client's data.
    pub client_id: Option<Uuid>,
    /// Only events of this actor (a login's, key's or feed's id).
    pub actor_id: Option<Uuid>,
    /// Only this action (an `operationId`, `sign_in`, `sign_in_failed`, ...).
    #[param(example = "get_client", max_length = 100, pattern = "^[a-z0-9_]{1,100}$")]
    pub action: Option<String>,
    /// Only events at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only events before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
}

/// Who read or changed a client's record, as the client sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogActor {
    /// `user`, `api_key`, `calendar_feed` or `system`.
    #[schema(example = "user")]
    pub kind: String,
    /// The person's name in the clinic, or the API key's name (`null` when it is no longer
    /// known).
    #[schema(example = "Ana Ruiz")]
    pub name: Option<String>,
    /// The person's role in the clinic.
    #[schema(schema_with = nullable_role_of_person)]
    pub role: Option<Role>,
    /// Whether it was the client themself.
    pub is_self: bool,
}

/// One entry of a client's own access log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogEntry {
    /// The audit event's id.
    pub id: Uuid,
    /// When.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub occurred_at: DateTime<Utc>,
    /// Who.
    pub actor: AccessLogActor,
    /// What (an `operationId`, e.g. `get_client_progress`).
    #[schema(example = "get_client_progress")]
    pub action: String,
    /// How it ended (HTTP status).
    #[schema(example = 200)]
    pub status: u16,
}
