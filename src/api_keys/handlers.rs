use crate::api_keys::dto::*;
use crate::api_keys::queries::{self, ApiKeyRow, NewApiKey};
use crate::auth::keys::KEY_PREFIX;
use crate::auth::{Caller, Permission};
use crate::error::{ApiError, Problem, Validator};
use crate::http::idempotency::StoredBody;
use crate::http::json::Json;
use crate::http::pagination::{Page, PageParams};
use crate::secrets::random_token;
use crate::secrets::sha256;
use crate::state::AppState;
use crate::values::parse_name;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use uuid::Uuid;

/// Random bytes in a key: 256 bits.
const KEY_RANDOM_BYTES: usize = 32;

impl ApiKeyRow {
    pub fn into_response(self) -> ApiKeyResponse {
        ApiKeyResponse {
            id: self.id,
            name: self.name,
            scopes: self.scopes.iter().filter_map(|s| s.parse().ok()).collect(),
            prefix: self.prefix,
            last_four: self.last_four,
            created_by: self.created_by,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
            created_at: self.created_at,
        }
    }
}

/// List API keys
///
/// The clinic's live API keys in the order they were created: name, scopes, prefix and last
/// four characters, never the key. Admins only.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "list_api_keys",
    params(PageParams),
    responses(
        (status = 200, description = "A page of API keys", body = Page<ApiKeyResponse>),
    ),
    security(("bearer" = ["api_keys:write"]))
)]
#[get("/v1/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ApiKeysWrite)?;
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, caller.clinic_id, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, ApiKeyRow::into_response)))
}

/// Create an API key
///
/// Creates a key for a booking system (or any server) that acts for this clinic with exactly
/// the given scopes. The answer is the only time the key is shown: only its hash is stored.
/// Send it as `Authorization: Bearer <key>` or `X-Api-Key: <key>`. Admins only.
///
/// An `Idempotency-Key` replay of this request answers the same key resource with `key: null`:
/// the key itself is never stored, not even for replays.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "create_api_key",
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "The new key, with the key itself (shown once)", body = CreatedApiKeyResponse,
            headers(("Location" = String, description = "The key's URL (what `DELETE` takes)"))),
        (status = 409, description = "The Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule (an unknown scope, `api_keys:write`, an expiry in the past)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["api_keys:write"]))
)]
#[post("/v1/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CreateApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ApiKeysWrite)?;
    let created_by = caller.member()?.membership_id;
    let body = body.into_inner();
    let mut v = Validator::new();
    let name = v.parse("name", parse_name(&body.name));
    v.check(!body.scopes.is_empty(), "scopes", "must name at least one scope");
    for scope in body.scopes.iter().filter(|p| !p.grantable_to_keys()) {
        v.add(
            "scopes",
            format!("must not contain `{scope}`: it stays with people (admins) and is never granted to an API key"),
        );
    }
    if let Some(at) = body.expires_at {
        v.check(at > Utc::now(), "expires_at", "must be in the future");
    }
    v.finish()?;
    let name = name.unwrap_or_default();
    let mut scopes: Vec<Permission> = body.scopes;
    scopes.sort();
    scopes.dedup();

    let key = format!("{KEY_PREFIX}{}", random_token(KEY_RANDOM_BYTES));
    let prefix: String = key.chars().take(KEY_PREFIX.len() + 4).collect();
    let last_four: String = key.chars().skip(key.chars().count() - 4).collect();
    let mut conn = state.conn().await?;
    let new = NewApiKey {
        id: Uuid::now_v7(),
        clinic_id: caller.clinic_id,
        name: &name,
        scopes: scopes.iter().map(|s| s.as_str().to_string()).collect(),
        key_hash: sha256(&key),
        prefix: &prefix,
        last_four: &last_four,
        created_by: Some(created_by),
        expires_at: body.expires_at,
    };
    crate::audit::note::resource("api_key", new.id);
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let row = queries::insert(conn, &new).await?;
            crate::audit::record(conn).await?;
            Ok(row)
        })
        .await?;
    let mut created = CreatedApiKeyResponse {
        api_key: row.into_response(),
        key: None,
    };
    // What an idempotent replay answers: everything but the key, which is never stored.
    let stored = serde_json::to_vec(&created).map_err(ApiError::internal)?;
    created.key = Some(key);
    // `Location` names what a DELETE removes, which also forgets this answer (DELETE means gone).
    let mut res = HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/api-keys/{}", created.api_key.id)))
        .json(&created);
    res.extensions_mut().insert(StoredBody(stored));
    Ok(res)
}

/// Delete an API key
///
/// Revokes the key at once: its next request is a 401. Admins only.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "delete_api_key",
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such live key in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["api_keys:write"]))
)]
#[delete("/v1/api-keys/{id}")]
pub async fn delete_api_key(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ApiKeysWrite)?;
    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async move |conn| {
        if !queries::revoke(conn, clinic_id, id).await? {
            return Err(ApiError::not_found("API key"));
        }
        crate::audit::record(conn).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
