//! `POST /v1/auth/token` (OAuth 2 password and refresh_token grants) and `POST /v1/auth/revoke`.

use crate::auth::{queries, throttle};
use crate::error::{ApiError, FieldError, Problem, Validator};
use crate::http::json::{self, read_body};
use crate::state::AppState;
use crate::text_enum;
use crate::values::Email;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, post, web};
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::ToSchema;
use uuid::Uuid;

text_enum! {
    /// The OAuth 2 grant being used.
    pub enum GrantType {
        /// Sign in with email (`username`) and `password`.
        Password => "password",
        /// Swap a refresh token for new tokens (the old refresh token stops working).
        RefreshToken => "refresh_token",
    }
}

/// A token request (RFC 6749), as JSON or `application/x-www-form-urlencoded`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// `password` or `refresh_token`.
    pub grant_type: GrantType,
    /// With `password`: the email address of the login.
    #[serde(default, deserialize_with = "json::absent_or_value")]
    #[schema(example = "ana@clinic.example", format = "email", nullable = false)]
    pub username: Option<String>,
    /// With `password`: the password.
    #[serde(default, deserialize_with = "json::absent_or_value")]
    #[schema(example = "correct horse battery staple", nullable = false)]
    pub password: Option<String>,
    /// With `password`, when the login belongs to several clinics: the clinic to act in.
    #[serde(default, deserialize_with = "json::absent_or_value")]
    #[schema(nullable = false)]
    pub clinic_id: Option<Uuid>,
    /// With `refresh_token`: the refresh token from an earlier answer.
    #[serde(default, deserialize_with = "json::absent_or_value")]
    #[schema(nullable = false)]
    pub refresh_token: Option<String>,
    /// Accepted for OAuth 2 compatibility and ignored: permissions follow the role.
    #[serde(default, deserialize_with = "json::absent_or_value")]
    #[schema(nullable = false)]
    pub scope: Option<String>,
    /// Accepted for OAuth 2 compatibility and ignored.
    #[serde(default, deserialize_with = "json::absent_or_value")]
    #[schema(nullable = false)]
    pub client_id: Option<String>,
}

/// Tokens for a sign-in (RFC 6749 section 5.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires (900).
    #[schema(example = 900)]
    pub expires_in: i64,
    /// Single-use: swap it for new tokens with `grant_type=refresh_token`; reusing one revokes
    /// the whole sign-in.
    pub refresh_token: String,
}

/// A revocation request (RFC 7009).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// A refresh token or an access token; either ends the sign-in it belongs to.
    pub token: String,
    /// Accepted for RFC 7009 compatibility and ignored.
    #[serde(default, deserialize_with = "json::absent_or_value")]
    #[schema(nullable = false)]
    pub token_type_hint: Option<String>,
}

fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// Reads a JSON or form body, as OAuth 2 clients send either.
fn parse_json_or_form<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> Result<T, ApiError> {
    if is_form(req) {
        // As in JSON bodies (`json::parse_json`), no field may hold a NUL character.
        let with_nul: Vec<FieldError> = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, value)| name.contains('\0') || value.contains('\0'))
            .map(|(name, _)| FieldError {
                field: json::safe_field_path(&name),
                message: "must not contain a NUL character (\\u0000)".into(),
            })
            .collect();
        if !with_nul.is_empty() {
            return Err(ApiError::validation_errors(with_nul).with_oauth_error("invalid_request"));
        }
        // A form's errors carry no path; a JSON body sent as a form (what `curl -d` does) reads
        // as one key made of the whole body, so nothing of the input is repeated here.
        serde_urlencoded::from_bytes(body).map_err(|e| {
            let message = json::describe_data_error(&e.to_string());
            if message.contains("not a field of this request") && !body.contains(&b'=') {
                ApiError::bad_request(
                    "The form body has no `name=value` pairs; JSON bodies need `Content-Type: application/json`.",
                )
            } else {
                ApiError::validation("body", message)
            }
            .with_oauth_error("invalid_request")
        })
    } else if json::is_json_content_type(req) {
        json::parse_json(body)
    } else {
        Err(json::unsupported_media_type())
    }
}

/// The token answer (RFC 6749 section 5.1), never cached.
pub fn token_answer(access_token: String, refresh_token: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: crate::auth::tokens::ACCESS_TOKEN_TTL_SECS,
            refresh_token,
        })
}

fn invalid_grant(detail: &str) -> ApiError {
    ApiError::unauthorized(detail.to_string()).with_oauth_error("invalid_grant")
}

/// Get tokens
///
/// Signs in with a password, or swaps a refresh token for new tokens. Takes JSON, and also
/// the same fields as `application/x-www-form-urlencoded`, as OAuth 2 clients send them
/// (RFC 6749; the interactive docs' password form does). Refresh tokens are single-use: presenting one twice
/// revokes the whole sign-in. Failed password attempts are throttled per account and per
/// address (429 with `Retry-After`); a wrong email and a wrong password get the same answer.
#[utoipa::path(
    tag = "auth",
    operation_id = "create_token",
    // JSON only in the document: offering the same body as JSON and as a form gives
    // generated clients two bodies they cannot tell apart (docs/openapi.md); the form is
    // still accepted, as the description and the `bearer` scheme's password flow say.
    request_body(content((TokenRequest = "application/json"))),
    responses(
        (status = 200, description = "Tokens for the sign-in", body = TokenResponse),
        (status = 401, description = "Wrong credentials or an unusable refresh token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid for the grant", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(())
)]
#[post("/v1/auth/token")]
pub async fn create_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, &mut payload.into_inner()).await?;
    let request: TokenRequest = parse_json_or_form(&req, &body)?;
    match request.grant_type {
        GrantType::Password => password_grant(&state, &req, request).await,
        GrantType::RefreshToken => refresh_grant(&state, request).await,
    }
}

async fn password_grant(state: &AppState, req: &HttpRequest, r: TokenRequest) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::new();
    // Every login's email passed Email::parse at sign-up, so a username that does not is no
    // login's; refusing it here also keeps such text (a NUL byte, say) away from the database.
    let email = match r.username.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(username) => v.parse("username", Email::parse(username)),
        None => {
            v.add("username", "is required with grant_type=password");
            None
        }
    };
    let password = r.password.filter(|p| !p.is_empty());
    v.check(password.is_some(), "password", "is required with grant_type=password");
    v.finish().map_err(|e| e.with_oauth_error("invalid_request"))?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let email = email.into_string();
    let keys = throttle::sign_in_keys(&email, req);

    let mut conn = state.conn().await?;
    throttle::check(&mut conn, &keys).await?;
    let user = queries::user_by_email(&mut conn, &email).await?;
    let ok = crate::auth::password::verify(password, user.as_ref().and_then(|u| u.password_hash.clone())).await?;
    let known = user.as_ref().map(|u| u.id);
    let Some(user) = user.filter(|_| ok) else {
        if let Some(user_id) = known {
            // Recorded in every clinic where the login has a membership.
            let clinics = queries::membership_clinics(&mut conn, user_id).await?;
            crate::audit::note::acting(crate::audit::Actor::user(user_id, None), clinics);
            crate::audit::note::action("sign_in_failed");
        }
        throttle::record_failure(&mut conn, &keys).await?;
        return Err(invalid_grant("The email or password is wrong."));
    };
    throttle::clear(&mut conn, &keys[0].0).await?;

    let memberships = queries::sign_in_memberships(&mut conn, user.id).await?;
    let (clinic_id, role) = match (r.clinic_id, memberships.as_slice()) {
        (_, []) => return Err(invalid_grant("This login has no active clinic membership.")),
        (Some(wanted), all) => *all.iter().find(|(c, _)| *c == wanted).ok_or_else(|| {
            ApiError::validation("clinic_id", "is not a clinic this login belongs to")
                .with_oauth_error("invalid_request")
        })?,
        (None, [only]) => *only,
        (None, _) => {
            return Err(ApiError::validation(
                "clinic_id",
                "is required: this login belongs to several clinics (see GET /v1/me after signing in to one)",
            )
            .with_oauth_error("invalid_request"));
        }
    };
    crate::audit::note::acting(crate::audit::Actor::user(user.id, Some(role)), vec![clinic_id]);
    crate::audit::note::action("sign_in");
    let (family, refresh) = queries::start_family(&mut conn, user.id, clinic_id).await?;
    let access = state
        .keys
        .issue(user.id, clinic_id, role, family)
        .map_err(ApiError::internal)?;
    Ok(token_answer(access, refresh))
}

async fn refresh_grant(state: &AppState, r: TokenRequest) -> Result<HttpResponse, ApiError> {
    let Some(token) = r.refresh_token.filter(|t| !t.is_empty()) else {
        return Err(
            ApiError::validation("refresh_token", "is required with grant_type=refresh_token")
                .with_oauth_error("invalid_request"),
        );
    };
    let hash = crate::secrets::sha256(&token);
    let keys = state.keys.clone();
    let mut conn = state.conn().await?;
    // The reuse check and the revocation it triggers must commit even though we answer 401.
    let outcome: Result<(String, String), &'static str> = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let Some(found) = queries::lock_refresh_token(conn, &hash).await? else {
                return Ok(Err("The refresh token is not valid."));
            };
            if found.used_at.is_some() {
                queries::revoke_family(conn, found.family_id).await?;
                tracing::warn!(family = %found.family_id, "refresh token reused; sign-in revoked");
                return Ok(Err(
                    "The refresh token was already used; this sign-in has been revoked. Sign in again.",
                ));
            }
            if found.revoked_at.is_some() || found.expires_at < chrono::Utc::now() {
                return Ok(Err("The refresh token has expired or been revoked."));
            }
            let Some(role) = queries::membership_role(conn, found.user_id, found.clinic_id).await? else {
                return Ok(Err("This login no longer has access to the clinic."));
            };
            crate::audit::note::acting(
                crate::audit::Actor::user(found.user_id, Some(role)),
                vec![found.clinic_id],
            );
            queries::mark_refresh_used(conn, &hash).await?;
            let refresh = queries::new_refresh_token(conn, found.family_id).await?;
            let access = keys
                .issue(found.user_id, found.clinic_id, role, found.family_id)
                .map_err(ApiError::internal)?;
            Ok(Ok((access, refresh)))
        })
        .await?;
    let (access, refresh) = outcome.map_err(invalid_grant)?;
    crate::audit::note::action("refresh_token");
    Ok(token_answer(access, refresh))
}

/// Revoke a token
///
/// Ends the sign-in a refresh or access token belongs to (RFC 7009): its refresh token stops
/// working and its access tokens are refused from the next request on. Answers 200 for an
/// unknown token too, as the RFC asks. Takes JSON, and also the same fields as
/// `application/x-www-form-urlencoded`, as OAuth 2 clients send them.
#[utoipa::path(
    tag = "auth",
    operation_id = "revoke_token",
    // JSON only in the document, as for `create_token`; the form is still accepted.
    request_body(content((RevokeRequest = "application/json"))),
    responses(
        (status = 200, description = "Revoked, or not a live token"),
        (status = 422, description = "`token` missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/v1/auth/revoke")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, &mut payload.into_inner()).await?;
    let request: RevokeRequest = parse_json_or_form(&req, &body)?;
    let mut conn = state.conn().await?;
    if let Some(claims) = state.keys.verify_ignoring_expiry(&request.token) {
        queries::revoke_family(&mut conn, claims.sid).await?;
    } else if let Some(found) = queries::lock_refresh_token(&mut conn, &crate::secrets::sha256(&request.token)).await? {
        queries::revoke_family(&mut conn, found.family_id).await?;
    }
    Ok(HttpResponse::Ok().finish())
}
