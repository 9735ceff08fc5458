use crate::auth::{password, queries as auth_queries};
use crate::db::schema::{invitations, memberships, users};
use crate::error::{ApiError, Problem, Validator};
use crate::http::json::Json;
use crate::state::AppState;
use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
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
    let hash = crate::secrets::sha256(body.token.trim());
    let mut conn = state.conn().await?;
    let invalid = || {
        ApiError::unauthorized(
            "The invitation is unknown, already used, expired or withdrawn; ask the clinic for a new one.",
        )
        .with_oauth_error("invalid_grant")
    };
    let pending: Pending = invitations::table
        .inner_join(memberships::table.inner_join(users::table))
        .filter(invitations::token_hash.eq(&hash))
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
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(invalid)?;
    if pending.used_at.is_some() || pending.expires_at <= Utc::now() || !pending.active {
        return Err(invalid());
    }

    // A pending membership of an existing login: the person proves it is theirs.
    // Otherwise the invitation sets the password (a new login, or a reset).
    let joining_existing_login = pending.password_hash.is_some() && pending.accepted_at.is_none();
    let new_hash = if joining_existing_login {
        if !password::verify(body.password.clone(), pending.password_hash.clone()).await? {
            return Err(
                ApiError::unauthorized("This email already has a login: accept with that login's password.")
                    .with_oauth_error("invalid_grant"),
            );
        }
        None
    } else {
        let mut v = Validator::new();
        v.parse("password", password::check_password_rules(&body.password));
        v.finish()?;
        // A reset from one clinic must not take over a login another clinic uses or used
        // (the invitation may predate the second clinic).
        if pending.password_hash.is_some()
            && crate::invitations::login_is_shared(&mut conn, pending.user_id, pending.clinic_id).await?
        {
            return Err(ApiError::login_shared());
        }
        Some(password::hash(body.password).await?)
    };

    let keys = state.keys.clone();
    let (access, refresh) = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            // Claim the invitation first: of two concurrent accepts, only one updates the row.
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
            if let Some(hash) = &new_hash {
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
        })
        .await?;
    Ok(crate::oauth::handlers::token_answer(access, refresh))
}
