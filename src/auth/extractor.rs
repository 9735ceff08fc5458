//! `Caller`: who is calling, in which clinic, with which permissions.
//!
//! A bearer token's membership and sign-in are checked against the database (one indexed
//! lookup), and API keys (`rhk_...`, as `Authorization: Bearer` or `X-Api-Key`) are looked up
//! by their hash, the first time this instance sees them; then from the instance's cache of
//! callers, which every change ending access empties (`auth::cache`): a deactivated
//! membership, an archived client, a revoked sign-in or key loses access at once on the
//! instance that made the change, and on the others as soon as the database's notification
//! reaches them. API keys are rate limited per key.

use crate::auth::cache::Known;
use crate::auth::keys::{self, KEY_PREFIX, KeyIdentity};
use crate::auth::tokens::TokenProblem;
use crate::auth::{Permission, Permissions, Role};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::{Duration, Utc};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

/// A signed-in member of a clinic.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: Uuid,
    pub membership_id: Uuid,
    pub role: Role,
    /// For role client: the client record this login belongs to.
    pub client_id: Option<Uuid>,
    /// The sign-in (token family) the access token belongs to.
    pub family_id: Uuid,
}

#[derive(Debug, Clone)]
pub enum Principal {
    /// A person signed in with an access token.
    Member(Member),
    /// A server calling with an API key; its permissions are the key's scopes.
    ApiKey { key_id: Uuid, name: String },
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub clinic_id: Uuid,
    pub principal: Principal,
    pub permissions: Permissions,
}

impl Caller {
    /// 403 unless the caller holds `p`.
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.permissions.contains(p) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "This operation needs the `{p}` permission, which the caller does not have."
            )))
        }
    }

    /// The signed-in member, for endpoints about one's own account.
    pub fn member(&self) -> Result<&Member, ApiError> {
        match &self.principal {
            Principal::Member(m) => Ok(m),
            Principal::ApiKey { .. } => Err(ApiError::forbidden(
                "This endpoint is about a person's own account; API keys cannot use it.",
            )),
        }
    }

    /// For a client's login: their client record. `None` for staff and integrations.
    pub fn own_client_id(&self) -> Option<Uuid> {
        match &self.principal {
            Principal::Member(m) if m.role == Role::Client => m.client_id,
            _ => None,
        }
    }

    /// Access to one client's data. A client's own login reaches its own (anyone else's is a
    /// 404 for `what`, so its existence is not revealed); staff and API keys need `permission`.
    pub fn require_client_access(&self, client_id: Uuid, permission: Permission, what: &str) -> Result<(), ApiError> {
        match self.own_client_id() {
            Some(own) if own == client_id => Ok(()),
            Some(_) => Err(ApiError::not_found(what)),
            None => self.require(permission),
        }
    }

    /// For `/v1/me/...` data: the caller's own client record; 403 for staff and API keys, who
    /// find a client's `what` under `/v1/clients/{id}/...`.
    pub fn require_own_client(&self, what: &str) -> Result<Uuid, ApiError> {
        self.own_client_id().ok_or_else(|| {
            ApiError::forbidden(format!(
                "Only a client's login has its own {what}; staff use /v1/clients/{{id}}/{what}."
            ))
        })
    }

    /// For a staff member: their practitioner id (membership id).
    pub fn practitioner_id(&self) -> Option<Uuid> {
        match &self.principal {
            Principal::Member(m) if m.role.is_staff() => Some(m.membership_id),
            _ => None,
        }
    }

    /// For an API key: its id.
    pub fn api_key_id(&self) -> Option<Uuid> {
        match &self.principal {
            Principal::ApiKey { key_id, .. } => Some(*key_id),
            Principal::Member(_) => None,
        }
    }

    /// Who owns an `Idempotency-Key`: keys are per caller.
    pub fn idempotency_owner(&self) -> String {
        match &self.principal {
            Principal::Member(m) => format!("member:{}", m.membership_id),
            Principal::ApiKey { key_id, .. } => format!("api_key:{key_id}"),
        }
    }
}

tokio::task_local! {
    /// The caller authenticated in the current request, for whoever opened the scope.
    static SEEN: std::cell::RefCell<Option<Caller>>;
}

/// Runs `fut` (the rest of a request) remembering the caller it authenticates, so that a piece
/// above authentication (the audit trail) can name it without the extractor knowing of it.
pub async fn remembering_caller<F: std::future::Future>(fut: F) -> F::Output {
    SEEN.scope(std::cell::RefCell::new(None), fut).await
}

/// The caller authenticated so far in this request (inside [`remembering_caller`]).
pub fn seen_caller() -> Option<Caller> {
    SEEN.try_with(|seen| seen.borrow().clone()).ok().flatten()
}

/// The bearer credential of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The `X-Api-Key` header, if any.
pub fn api_key_header(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(API_KEY_HEADER)?.to_str().ok()?.trim();
    (!value.is_empty()).then_some(value)
}

/// Whether the request presents any credential (a bearer token or an API key).
pub fn has_credential(req: &HttpRequest) -> bool {
    bearer(req).is_some() || api_key_header(req).is_some()
}

pub const API_KEY_HEADER: &str = "x-api-key";

/// Authenticates a request, once: the result is kept in the request's extensions.
pub async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    if let Some(c) = req.extensions().get::<Caller>() {
        return Ok(c.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("AppState missing"))?
        .clone();
    let caller = match (bearer(req), api_key_header(req)) {
        (Some(token), _) if token.starts_with(KEY_PREFIX) => authenticate_key(req, &state, token).await?,
        (Some(token), _) => authenticate_token(&state, token).await?,
        (None, Some(key)) => authenticate_key(req, &state, key).await?,
        (None, None) => {
            return Err(ApiError::unauthorized(
                "Send an access token as `Authorization: Bearer <token>`, or an API key as `Authorization: Bearer <key>` or `X-Api-Key: <key>`.",
            ));
        }
    };
    req.extensions_mut().insert(caller.clone());
    let _ = SEEN.try_with(|seen| *seen.borrow_mut() = Some(caller.clone()));
    Ok(caller)
}

/// An API key: live (not revoked, not expired) and within its rate limit.
async fn authenticate_key(req: &HttpRequest, state: &AppState, key: &str) -> Result<Caller, ApiError> {
    let invalid = || ApiError::invalid_token("The API key is unknown, revoked or past its end date.");
    if !key.starts_with(KEY_PREFIX) {
        return Err(invalid());
    }
    let hash = crate::secrets::sha256(key);
    let cache_key = crate::auth::cache::api_key_key(&hash);
    // Read before the cache and the database: an answer is kept only if nothing emptied the
    // cache since.
    let generation = state.auth_cache.generation();
    let mut conn = None;
    let found = match state.auth_cache.get(&cache_key) {
        Some(Known::Key(found)) => found,
        _ => {
            let c = conn.insert(state.auth_conn().await?);
            let found = keys::authenticate(c, &hash).await?.ok_or_else(invalid)?;
            state
                .auth_cache
                .put(cache_key.clone(), Known::Key(found.clone()), generation);
            found
        }
    };
    let decision = state.rate_limiter.check(found.id);
    if !decision.allowed {
        let mut e = ApiError::too_many_requests(
            format!(
                "This API key made its {} requests of this minute; retry after the time in Retry-After.",
                decision.limit
            ),
            decision.reset_secs,
        );
        for (name, value) in decision.headers() {
            e = e.with_header(name, value);
        }
        return Err(e);
    }
    req.extensions_mut().insert(decision);
    // last_used_at is informative: refreshing it at most once a minute keeps writes rare.
    let now = Utc::now();
    if found.last_used_at.is_none_or(|t| now - t > Duration::seconds(60)) {
        let c = match conn {
            Some(ref mut c) => c,
            None => conn.insert(state.auth_conn().await?),
        };
        keys::touch(c, found.id, now).await?;
        // The cached identity remembers the touch, so the next minute's requests need none.
        let touched = KeyIdentity {
            last_used_at: Some(now),
            ..found.clone()
        };
        state.auth_cache.put(cache_key, Known::Key(touched), generation);
    }
    Ok(Caller {
        clinic_id: found.clinic_id,
        permissions: found.permissions(),
        principal: Principal::ApiKey {
            key_id: found.id,
            name: found.name,
        },
    })
}

/// An access token (JWT) whose membership and sign-in are still valid.
async fn authenticate_token(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let claims = state.keys.verify(token).map_err(|problem| match problem {
        TokenProblem::Expired => ApiError::invalid_token("The access token expired; refresh it or sign in again."),
        TokenProblem::Invalid => {
            ApiError::invalid_token("The access token is malformed or not one this service signed.")
        }
    })?;
    let invalid = || ApiError::invalid_token("The sign-in this access token belongs to has ended; sign in again.");
    let cache_key = crate::auth::cache::token_key(claims.sub, claims.clinic, claims.sid);
    let generation = state.auth_cache.generation();
    let (membership_id, role, client_id) = match state.auth_cache.get(&cache_key) {
        Some(Known::Member(membership_id, role, client_id)) => (membership_id, role, client_id),
        _ => {
            let mut conn = state.auth_conn().await?;
            let found = crate::auth::queries::active_member(&mut conn, claims.sub, claims.clinic, claims.sid).await?;
            let (membership_id, role, client_id) = found.ok_or_else(invalid)?;
            state
                .auth_cache
                .put(cache_key, Known::Member(membership_id, role, client_id), generation);
            (membership_id, role, client_id)
        }
    };
    let caller = Caller {
        clinic_id: claims.clinic,
        permissions: role.permissions(),
        principal: Principal::Member(Member {
            user_id: claims.sub,
            membership_id,
            role,
            client_id,
            family_id: claims.sid,
        }),
    };
    Ok(caller)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}
