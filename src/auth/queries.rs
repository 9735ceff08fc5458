//! Queries behind authentication: memberships, sign-ins (token families) and refresh tokens.

use crate::auth::Role;
use crate::db::schema::{memberships, refresh_tokens, token_families, users};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// The membership behind an access token, if it and its sign-in are still valid.
pub async fn active_member(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    clinic_id: Uuid,
    family_id: Uuid,
) -> QueryResult<Option<(Uuid, Role, Option<Uuid>)>> {
    memberships::table
        .inner_join(token_families::table.on(token_families::user_id.eq(memberships::user_id)))
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::clinic_id.eq(clinic_id))
        .filter(memberships::active.eq(true))
        .filter(memberships::accepted_at.is_not_null())
        .filter(token_families::id.eq(family_id))
        .filter(token_families::clinic_id.eq(clinic_id))
        .filter(token_families::revoked_at.is_null())
        .select((memberships::id, memberships::role, memberships::client_id))
        .first(conn)
        .await
        .optional()
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: Option<String>,
}

pub async fn user_by_email(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn user_by_id(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<UserRow> {
    users::table.find(id).select(UserRow::as_select()).first(conn).await
}

/// The memberships a user may sign in to (active and accepted): `(clinic_id, role)`.
pub async fn sign_in_memberships(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Vec<(Uuid, Role)>> {
    memberships::table
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::active.eq(true))
        .filter(memberships::accepted_at.is_not_null())
        .order(memberships::clinic_id)
        .select((memberships::clinic_id, memberships::role))
        .load(conn)
        .await
}

/// Every clinic where a user has a membership (active or not): where a failed sign-in of the
/// login is audited.
pub async fn membership_clinics(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Vec<Uuid>> {
    memberships::table
        .filter(memberships::user_id.eq(user_id))
        .order(memberships::clinic_id)
        .select(memberships::clinic_id)
        .load(conn)
        .await
}

/// Starts a sign-in: a token family and its first refresh token (returned in clear, once).
pub async fn start_family(conn: &mut AsyncPgConnection, user_id: Uuid, clinic_id: Uuid) -> QueryResult<(Uuid, String)> {
    let family_id = Uuid::now_v7();
    diesel::insert_into(token_families::table)
        .values((
            token_families::id.eq(family_id),
            token_families::user_id.eq(user_id),
            token_families::clinic_id.eq(clinic_id),
        ))
        .execute(conn)
        .await?;
    let refresh = new_refresh_token(conn, family_id).await?;
    Ok((family_id, refresh))
}

pub async fn new_refresh_token(conn: &mut AsyncPgConnection, family_id: Uuid) -> QueryResult<String> {
    let token = format!("rht_{}", crate::secrets::random_token(32));
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(crate::secrets::sha256(&token)),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::expires_at.eq(Utc::now() + Duration::days(crate::auth::tokens::REFRESH_TOKEN_TTL_DAYS)),
        ))
        .execute(conn)
        .await?;
    Ok(token)
}

#[derive(Debug, Queryable)]
pub struct RefreshLookup {
    pub family_id: Uuid,
    pub used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub user_id: Uuid,
    pub clinic_id: Uuid,
}

/// Finds a refresh token by its hash and locks it, so two uses cannot both rotate it.
pub async fn lock_refresh_token(conn: &mut AsyncPgConnection, hash: &[u8]) -> QueryResult<Option<RefreshLookup>> {
    refresh_tokens::table
        .inner_join(token_families::table)
        .filter(refresh_tokens::token_hash.eq(hash))
        .select((
            refresh_tokens::family_id,
            refresh_tokens::used_at,
            refresh_tokens::expires_at,
            token_families::revoked_at,
            token_families::user_id,
            token_families::clinic_id,
        ))
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn mark_refresh_used(conn: &mut AsyncPgConnection, hash: &[u8]) -> QueryResult<usize> {
    diesel::update(refresh_tokens::table.find(hash))
        .set(refresh_tokens::used_at.eq(Utc::now()))
        .execute(conn)
        .await
}

pub async fn revoke_family(conn: &mut AsyncPgConnection, family_id: Uuid) -> QueryResult<usize> {
    crate::auth::cache::access_changed();
    diesel::update(
        token_families::table
            .find(family_id)
            .filter(token_families::revoked_at.is_null()),
    )
    .set(token_families::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await
}

/// Ends every sign-in of a membership: its refresh tokens and its access tokens (each request
/// checks its sign-in). Archiving, deactivating and a role change call it, so a person restored
/// later signs in again instead of reviving old tokens.
pub async fn end_sign_ins(conn: &mut AsyncPgConnection, membership_id: Uuid) -> QueryResult<usize> {
    crate::auth::cache::access_changed();
    let member = memberships::table.filter(memberships::id.eq(membership_id));
    diesel::update(
        token_families::table
            .filter(token_families::user_id.eq_any(member.select(memberships::user_id)))
            .filter(token_families::clinic_id.eq_any(member.select(memberships::clinic_id)))
            .filter(token_families::revoked_at.is_null()),
    )
    .set(token_families::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await
}

/// Ends every sign-in of a user in a clinic except `keep` (after a password change).
pub async fn revoke_other_families(conn: &mut AsyncPgConnection, user_id: Uuid, keep: Uuid) -> QueryResult<usize> {
    crate::auth::cache::access_changed();
    diesel::update(
        token_families::table
            .filter(token_families::user_id.eq(user_id))
            .filter(token_families::id.ne(keep))
            .filter(token_families::revoked_at.is_null()),
    )
    .set(token_families::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await
}

/// The role of a user's active, accepted membership in a clinic.
pub async fn membership_role(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    clinic_id: Uuid,
) -> QueryResult<Option<Role>> {
    memberships::table
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::clinic_id.eq(clinic_id))
        .filter(memberships::active.eq(true))
        .filter(memberships::accepted_at.is_not_null())
        .select(memberships::role)
        .first(conn)
        .await
        .optional()
}

/// Creates a login; `users_email_key` guards against a second one with the same email.
pub async fn insert_user(conn: &mut AsyncPgConnection, email: &str, password_hash: Option<&str>) -> QueryResult<Uuid> {
    let id = Uuid::now_v7();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(id),
            users::email.eq(email),
            users::password_hash.eq(password_hash),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

pub async fn set_password(conn: &mut AsyncPgConnection, user_id: Uuid, hash: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(user_id))
        .set((
            users::password_hash.eq(hash),
            users::version.eq(users::version + 1),
            users::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
}

/// Ends every sign-in of a user (after a password reset).
pub async fn revoke_all_families(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<usize> {
    crate::auth::cache::access_changed();
    diesel::update(
        token_families::table
            .filter(token_families::user_id.eq(user_id))
            .filter(token_families::revoked_at.is_null()),
    )
    .set(token_families::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await
}

/// The login with this email, created (without a password) if there is none. Safe under
/// concurrency: a login created meanwhile by someone else is found instead.
pub async fn ensure_user(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Uuid> {
    diesel::insert_into(users::table)
        .values((users::id.eq(Uuid::now_v7()), users::email.eq(email)))
        .on_conflict(users::email)
        .do_nothing()
        .execute(conn)
        .await?;
    users::table
        .filter(users::email.eq(email))
        .select(users::id)
        .first(conn)
        .await
}
