//! Single-use invitations: how practitioners and clients get (or add) a login.
//!
//! An admin invites a practitioner, a practitioner invites a client; the clinic hands the token
//! over its own way; `POST /v1/auth/accept-invitation` sets the password (or, for a login that
//! exists already, checks it) and answers tokens. An invitation expires after 7 days, works
//! once, and a newer invitation for the same person replaces older ones.

pub mod handlers;

use crate::db::schema::invitations;
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
    pub expires_at: DateTime<Utc>,
}

/// Makes a new invitation for a membership, retiring any earlier unused one.
pub async fn issue(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    membership_id: Uuid,
) -> QueryResult<InvitationResponse> {
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
    let token = format!("rhi_{}", crate::auth::random_token(32));
    let expires_at = now + Duration::days(INVITATION_TTL_DAYS);
    diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(Uuid::now_v7()),
            invitations::clinic_id.eq(clinic_id),
            invitations::membership_id.eq(membership_id),
            invitations::token_hash.eq(crate::auth::sha256(&token)),
            invitations::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(InvitationResponse { token, expires_at })
}
