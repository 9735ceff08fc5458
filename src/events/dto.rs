use crate::events::EventType;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// One event: the same shape in the feed and in a webhook body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventResponse {
    /// The event's id; unique, the same in the feed and in webhook deliveries (deduplicate on it).
    pub id: Uuid,
    /// What happened.
    #[serde(rename = "type")]
    #[schema(value_type = EventType)]
    pub event_type: String,
    /// When the change was made (its transaction's time).
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub occurred_at: DateTime<Utc>,
    /// The resource as the API shows it after the change (e.g. the client for `client.updated`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// A page of the events feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventFeedPage {
    /// Events in commit order, oldest first.
    pub items: Vec<EventResponse>,
    /// Pass as `after` in the next request. Never `null`: when there is nothing new it is the
    /// cursor you sent (or the clinic's current position), so a poller keeps its place.
    pub next_cursor: String,
}

/// Parameters of the events feed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListEventsQuery {
    /// The `next_cursor` of the previous answer; omit to start at the clinic's first event.
    pub after: Option<String>,
    /// How many events to return, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// Only these event types, comma-separated (e.g. `client.created,client.updated`); each
    /// must be one the caller may read.
    #[param(value_type = Option<Vec<crate::events::EventType>>, style = Form, explode = false, example = json!(["client.created", "client.updated"]))]
    pub types: Option<String>,
}
