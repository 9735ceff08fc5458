use crate::error::{ApiError, Validator};
use crate::events::EventType;
use crate::http::patch::Patch;
use crate::values::parse_text;
use crate::webhooks::target;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A webhook endpoint: where the clinic's events are POSTed, signed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookResponse {
    /// The endpoint's id.
    pub id: Uuid,
    /// Where deliveries are POSTed (`http` or `https`).
    #[schema(example = "https://booking.example.com/hooks/rehabit")]
    pub url: String,
    /// A note for people.
    #[schema(example = "Front desk booking system")]
    pub description: String,
    /// The event types delivered to this endpoint.
    #[schema(value_type = Vec<EventType>)]
    pub events: Vec<String>,
    /// Whether deliveries are sent. The service turns an endpoint off when every attempt has
    /// failed for the whole retry window (three days); `PATCH {"enabled": true}` turns it back on.
    pub enabled: bool,
    /// Why the service turned the endpoint off; `null` while enabled or when a person did.
    pub disabled_reason: Option<String>,
    /// When the endpoint was turned off.
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub disabled_at: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation also signs deliveries.
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Who registered the endpoint; `null` for endpoints registered before this was recorded.
    /// Its subscriptions were checked against that caller's permissions, and every change is
    /// checked against the permissions of whoever makes it.
    #[schema(schema_with = nullable_creator)]
    pub created_by: Option<CreatorResponse>,
    /// Increases with every change; send it back in `If-Match`.
    pub version: i64,
    /// When the endpoint was registered.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When the endpoint last changed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

crate::text_enum! {
    /// What kind of caller made something.
    pub enum CreatorKind {
        /// A member of the clinic's staff, signed in.
        Practitioner => "practitioner",
        /// An API key of the clinic.
        ApiKey => "api_key",
    }
}

/// Who made a resource.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatorResponse {
    /// A practitioner (`id` is the practitioner's id) or an API key (`id` is the key's id).
    pub kind: CreatorKind,
    /// The practitioner's or the key's id.
    pub id: Uuid,
}

fn nullable_creator() -> utoipa::openapi::Schema {
    crate::values::openapi::nullable_ref::<CreatorResponse>("Who registered the endpoint; `null` when unknown.")
}

/// A new endpoint, with its signing secret: shown in this answer only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedWebhookResponse {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: WebhookResponse,
    /// The signing secret (`whsec_...`): the HMAC-SHA256 key of `Rehabit-Signature`, as UTF-8
    /// bytes. Shown only here and by `rotate-secret`.
    #[schema(example = "whsec_Jf3kq0VZpXw2bLr8nHc5tYd1uGs7mAe4oKi9xPz6QvE")]
    pub secret: String,
}

/// A new signing secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RotatedSecretResponse {
    /// The new secret; it signs every delivery from now on. Shown only here.
    #[schema(example = "whsec_Jf3kq0VZpXw2bLr8nHc5tYd1uGs7mAe4oKi9xPz6QvE")]
    pub secret: String,
    /// Until then the previous secret signs deliveries too (a second `v1` in the signature).
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub previous_secret_expires_at: DateTime<Utc>,
}

/// A new webhook endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where to POST deliveries: an absolute `http` or `https` URL without credentials.
    #[schema(example = "https://booking.example.com/hooks/rehabit", max_length = 2000)]
    pub url: String,
    /// The event types to deliver; at least one. Each needs what reading it through the events
    /// feed needs: `events:read` and the permission that reads its resource (`session.*`:
    /// `sessions:read`, ...); a type the caller may not read is a 403 naming it.
    #[schema(example = json!(["client.created", "client.updated"]), min_items = 1)]
    pub events: Vec<EventType>,
    /// A note for people (up to 500 characters).
    #[serde(default, deserialize_with = "crate::http::json::absent_or_value")]
    #[schema(example = "Front desk booking system", max_length = 500, nullable = false)]
    pub description: Option<String>,
}

/// Changes to an endpoint (JSON Merge Patch).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    /// Where to POST deliveries.
    #[serde(default)]
    #[schema(value_type = String, max_length = 2000)]
    pub url: Patch<String>,
    /// The event types to deliver; at least one.
    #[serde(default)]
    #[schema(value_type = Vec<EventType>, min_items = 1)]
    pub events: Patch<Vec<EventType>>,
    /// A note for people; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Patch<String>,
    /// `true` turns the endpoint on (also after the service turned it off); `false` stops
    /// deliveries (pending ones wait, and go out once it is on again).
    #[serde(default)]
    #[schema(value_type = bool)]
    pub enabled: Patch<bool>,
}

crate::text_enum! {
    /// Where a delivery stands.
    pub enum DeliveryState {
        /// Waiting for its next attempt.
        Pending => "pending",
        /// A 2xx answer arrived within the time limit.
        Succeeded => "succeeded",
        /// Every attempt of its retry window failed.
        Failed => "failed",
    }
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptResponse {
    /// When the request started.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status; `null` when no answer came.
    #[schema(example = 200)]
    pub status_code: Option<u16>,
    /// How long the request took, in milliseconds.
    #[schema(example = 84)]
    pub duration_ms: i32,
    /// What went wrong; `null` for a success.
    #[schema(example = "the receiver answered 503")]
    pub error: Option<String>,
}

/// One event's delivery to one endpoint, with every attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryResponse {
    /// The delivery's id (`Rehabit-Delivery-Id`).
    pub id: Uuid,
    /// The endpoint.
    pub webhook_id: Uuid,
    /// The event delivered (`Rehabit-Event-Id`; the body's `id`).
    pub event_id: Uuid,
    /// The event's type (`ping` for test deliveries).
    #[schema(example = "client.created")]
    pub event_type: String,
    /// Where the delivery stands.
    pub state: DeliveryState,
    /// When the next attempt is due (while pending).
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The delivery this one repeats, for redeliveries.
    pub redelivery_of: Option<Uuid>,
    /// When the delivery was queued.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it succeeded or finally failed.
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Every attempt, oldest first.
    pub attempts: Vec<AttemptResponse>,
}

/// Filters of the deliveries list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDeliveriesQuery {
    /// Only deliveries in this state.
    pub state: Option<DeliveryState>,
}

/// The longest description, in characters.
const MAX_DESCRIPTION: usize = 500;

/// A description as stored: empty when blank.
pub fn parse_description(raw: &str, v: &mut Validator) -> Option<String> {
    if raw.trim().is_empty() {
        return Some(String::new());
    }
    v.parse("description", parse_text(raw, MAX_DESCRIPTION))
}

/// Changes to an endpoint that passed every rule they can check alone.
pub struct WebhookEdit {
    pub url: Option<String>,
    pub events: Option<Vec<EventType>>,
    /// Empty clears it.
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

impl UpdateWebhookRequest {
    /// Every rule that needs no database (`block_private`: refuse private-network targets);
    /// all broken ones in one 422.
    pub fn validate(self, block_private: bool) -> Result<WebhookEdit, ApiError> {
        let mut v = Validator::new();
        let url = self
            .url
            .required("url", &mut v)
            .and_then(|u| v.parse("url", target::parse_url(&u, block_private)))
            .map(|u| u.to_string());
        let events = self.events.required("events", &mut v);
        if let Some(e) = &events {
            v.check(!e.is_empty(), "events", "must name at least one event type");
        }
        let description = match self.description {
            Patch::Absent => None,
            Patch::Null => Some(String::new()),
            Patch::Value(d) => parse_description(&d, &mut v),
        };
        let enabled = self.enabled.required("enabled", &mut v);
        v.finish()?;
        Ok(WebhookEdit {
            url,
            events,
            description,
            enabled,
        })
    }
}
