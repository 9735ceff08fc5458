use crate::auth::{password, queries as auth_queries};
use crate::db::schema::{invitations, memberships, users};
use crate::error::{ApiError, Problem, Validator};
use crate::http::json::Json;
use crate::state::AppState;
use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Accepting an invitation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The invitation token (`rhi_...`).
    pub token: String,
    /// For a new login: the password to set (at least 10 characters). For an email that
    /// already has a login (someone working at two clinics): that login's password.
    #[schema(min_length = 10, max_length = 256, example = "correct horse battery staple")]
    pub password: String,
}

#[derive(Queryable)]
struct Pending {
    invitation_id: Uuid,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    membership_id: Uuid,
    clinic_id: Uuid,
    active: bool,
    accepted_at: Option<DateTime<Utc>>,
    role: crate::auth::Role,
    user_id: Uuid,
    password_hash: Option<String>,
}

/// Accept an invitation
///
/// Sets the password of a new login, or confirms an existing login's password when the person
/// already has one (the invitation then adds this clinic to it), and answers tokens for the
/// clinic that sent the invitation. For a login that already belongs to this clinic alone, an
/// invitation works as a password reset and ends its other sign-ins. An invitation works once
/// and expires after 7 days.
#[utoipa::path(
    tag = "auth",
    operation_id = "accept_invitation",
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, description = "Tokens for the invited clinic", body = crate::oauth::handlers::TokenResponse),
        (status = 401, description = "The invitation is unknown, used, expired or withdrawn; or the password is not the existing login's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A reset of a login another clinic uses or used (`code`: `login_shared`): the person changes the password with `PATCH /v1/me`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The password breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/v1/auth/accept-invitation")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    body: Json<AcceptInvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut conn = state.conn().await?;
    let pending = find_pending(&mut conn, &crate::secrets::sha256(body.token.trim()))
        .await?
        .filter(Pending::usable)
        .ok_or_else(invalid)?;
    let new_hash = password_to_set(&mut conn, &pending, body.password).await?;
    let keys = state.keys.clone();
    let (access, refresh) = conn
        .transaction::<_, ApiError, _>(async move |conn| accept(conn, &keys, &pending, new_hash.as_deref()).await)
        .await?;
    Ok(crate::oauth::handlers::token_answer(access, refresh))
}

fn invalid() -> ApiError {
    ApiError::unauthorized(
        "The invitation is unknown, already used, expired or withdrawn; ask the clinic for a new one.",
    )
    .with_oauth_error("invalid_grant")
}

impl Pending {
    /// Unused, unexpired, and for a membership that is still active.
    fn usable(&self) -> bool {
        self.used_at.is_none() && self.expires_at > Utc::now() && self.active
    }
}

async fn find_pending(conn: &mut AsyncPgConnection, token_hash: &[u8]) -> QueryResult<Option<Pending>> {
    invitations::table
        .inner_join(memberships::table.inner_join(users::table))
        .filter(invitations::token_hash.eq(token_hash))
        .select((
            invitations::id,
            invitations::expires_at,
            invitations::used_at,
            memberships::id,
            memberships::clinic_id,
            memberships::active,
            memberships::accepted_at,
            memberships::role,
            users::id,
            users::password_hash,
        ))
        .first(conn)
        .await
        .optional()
}

/// The password hash an acceptance sets: none when the person joins with a login they already
/// have (they prove it with its password); otherwise a hash of the new password (a new login,
/// or a reset of a login only this clinic has ever used).
async fn password_to_set(
    conn: &mut AsyncPgConnection,
    pending: &Pending,
    password: String,
) -> Result<Option<String>, ApiError> {
    let joining_existing_login = pending.password_hash.is_some() && pending.accepted_at.is_none();
    if joining_existing_login {
        if !password::verify(password, pending.password_hash.clone()).await? {
            return Err(
                ApiError::unauthorized("This email already has a login: accept with that login's password.")
                    .with_oauth_error("invalid_grant"),
            );
        }
        return Ok(None);
    }
    let mut v = Validator::new();
    v.parse("password", password::check_password_rules(&password));
    v.finish()?;
    // A reset from one clinic must not take over a login another clinic uses or used (the
    // invitation may predate the second clinic).
    if pending.password_hash.is_some()
        && crate::invitations::login_is_shared(conn, pending.user_id, pending.clinic_id).await?
    {
        return Err(ApiError::login_shared());
    }
    Ok(Some(password::hash(password).await?))
}

/// Uses the invitation (once, whoever races), sets the password, accepts the membership and
/// starts a sign-in: `(access token, refresh token)`.
async fn accept(
    conn: &mut AsyncPgConnection,
    keys: &crate::auth::tokens::TokenKeys,
    pending: &Pending,
    new_hash: Option<&str>,
) -> Result<(String, String), ApiError> {
    let claimed = diesel::update(
        invitations::table
            .find(pending.invitation_id)
            .filter(invitations::used_at.is_null()),
    )
    .set(invitations::used_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    if claimed == 0 {
        return Err(invalid());
    }
    if let Some(hash) = new_hash {
        auth_queries::set_password(conn, pending.user_id, hash).await?;
        if pending.password_hash.is_some() {
            auth_queries::revoke_all_families(conn, pending.user_id).await?;
        }
    }
    if pending.accepted_at.is_none() {
        diesel::update(memberships::table.find(pending.membership_id))
            .set((
                memberships::accepted_at.eq(Utc::now()),
                memberships::version.eq(memberships::version + 1),
                memberships::updated_at.eq(Utc::now()),
            ))
            .execute(conn)
            .await?;
    }
    let (family, refresh) = auth_queries::start_family(conn, pending.user_id, pending.clinic_id).await?;
    // Accepting changes a membership and signs in: audited with it.
    crate::audit::note::acting(
        crate::audit::Actor::user(pending.user_id, Some(pending.role)),
        vec![pending.clinic_id],
    );
    crate::audit::note::resource("membership", pending.membership_id);
    crate::audit::record(conn).await?;
    let access = keys
        .issue(pending.user_id, pending.clinic_id, pending.role, family)
        .map_err(ApiError::internal)?;
    Ok((access, refresh))
}
