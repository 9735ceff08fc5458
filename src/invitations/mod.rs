//! Single-use invitations: how practitioners and clients get (or add) a login.
//!
//! An admin invites a practitioner, a practitioner invites a client; the clinic hands the token
//! over its own way; `POST /v1/auth/accept-invitation` sets the password (or, for a login that
//! exists already, checks it) and answers tokens. An invitation expires after 7 days, works
//! once, and a newer invitation for the same person replaces older ones.

pub mod handlers;

/// `POST /v1/auth/accept-invitation`; the invitations themselves are made by the practitioner
/// and client endpoints.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::accept_invitation);
}

use crate::db::schema::{invitations, memberships, users};
use crate::error::ApiError;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub const INVITATION_TTL_DAYS: i64 = 7;

/// A single-use invitation to hand to the person; shown once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationResponse {
    /// The secret to pass to `POST /v1/auth/accept-invitation`; it is not stored and cannot be
    /// shown again.
    #[schema(example = "rhi_3q2Vx...")]
    pub token: String,
    /// When the invitation stops working (7 days after it was made).
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub expires_at: DateTime<Utc>,
}

/// Whether the login behind a membership is, or ever was, accepted by another clinic too.
/// `users.shared_at` remembers it for good (a trigger sets it); the membership check covers two
/// clinics accepting the login at the same moment.
pub async fn login_is_shared(conn: &mut AsyncPgConnection, user_id: Uuid, clinic_id: Uuid) -> QueryResult<bool> {
    let marked: Option<DateTime<Utc>> = users::table.find(user_id).select(users::shared_at).first(conn).await?;
    if marked.is_some() {
        return Ok(true);
    }
    diesel::select(diesel::dsl::exists(
        memberships::table
            .filter(memberships::user_id.eq(user_id))
            .filter(memberships::clinic_id.ne(clinic_id))
            .filter(memberships::accepted_at.is_not_null()),
    ))
    .get_result(conn)
    .await
}

/// Makes a new invitation for a membership, retiring any earlier unused one. For a login that
/// has signed in already, an invitation is a password reset: a clinic may reset only a login no
/// other clinic has ever used (409 `login_shared` otherwise).
pub async fn issue(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    membership_id: Uuid,
) -> Result<InvitationResponse, ApiError> {
    let (user_id, accepted_at, password_hash): (Uuid, Option<DateTime<Utc>>, Option<String>) = memberships::table
        .inner_join(users::table)
        .filter(memberships::id.eq(membership_id))
        .filter(memberships::clinic_id.eq(clinic_id))
        .select((users::id, memberships::accepted_at, users::password_hash))
        .first(conn)
        .await?;
    let is_reset = accepted_at.is_some() && password_hash.is_some();
    if is_reset && login_is_shared(conn, user_id, clinic_id).await? {
        return Err(ApiError::login_shared());
    }
    let now = Utc::now();
    diesel::update(
        invitations::table
            .filter(invitations::clinic_id.eq(clinic_id))
            .filter(invitations::membership_id.eq(membership_id))
            .filter(invitations::used_at.is_null())
            .filter(invitations::expires_at.gt(now)),
    )
    .set(invitations::expires_at.eq(now))
    .execute(conn)
    .await?;
    let token = format!("rhi_{}", crate::secrets::random_token(32));
    let expires_at = now + Duration::days(INVITATION_TTL_DAYS);
    diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(Uuid::now_v7()),
            invitations::clinic_id.eq(clinic_id),
            invitations::membership_id.eq(membership_id),
            invitations::token_hash.eq(crate::secrets::sha256(&token)),
            invitations::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(InvitationResponse { token, expires_at })
}
