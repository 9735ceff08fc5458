use crate::auth::Permission;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An API key, as listed: never the key itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyResponse {
    /// The key's id (for `DELETE /v1/api-keys/{id}`).
    pub id: Uuid,
    /// What the key is for, e.g. the booking system's name.
    #[schema(example = "Front desk booking system")]
    pub name: String,
    /// What the key may do: each scope is one permission.
    pub scopes: Vec<Permission>,
    /// The key's first characters, to recognise it.
    #[schema(example = "rhk_q3Zt")]
    pub prefix: String,
    /// The key's last four characters, to recognise it.
    #[schema(example = "x9Qe")]
    pub last_four: String,
    /// The member who created the key.
    pub created_by: Option<Uuid>,
    /// When the key stops working; `null`: never.
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the key was last used (updated at most once a minute); `null`: never.
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When the key was created.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// A new API key, with the key itself: it is shown in this answer only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedApiKeyResponse {
    /// The key.
    #[serde(flatten)]
    pub api_key: ApiKeyResponse,
    /// The key, to send as `Authorization: Bearer <key>` or `X-Api-Key: <key>`. Only its hash
    /// is stored, so it is shown in this answer only; it is `null` when this answer is an
    /// `Idempotency-Key` replay (delete the key and create another if the first answer was lost).
    #[schema(example = "rhk_q3ZtV8mJb0cXe2yHn6LwRk1sAo9uPfDgTi4EzCx9Qe")]
    pub key: Option<String>,
}

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// What the key is for (1–200 characters).
    #[schema(example = "Front desk booking system", min_length = 1, max_length = 200)]
    pub name: String,
    /// What the key may do; at least one. `api_keys:write` and `data:erase` are never grantable to a key.
    #[schema(example = json!(["clients:read", "clients:write", "events:read"]), min_items = 1)]
    pub scopes: Vec<Permission>,
    /// When the key stops working (in the future); omit for a key that does not expire.
    #[serde(default, deserialize_with = "crate::http::json::absent_or_value")]
    #[schema(nullable = false)]
    pub expires_at: Option<DateTime<Utc>>,
}
