//! API keys as authentication sees them: the prefix every key starts with, and the lookup of a
//! presented key by its hash. Making, listing and deleting keys is the `api_keys` feature's.

use crate::auth::permissions::{Permission, Permissions};
use crate::db::schema::api_keys;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// Every API key starts with this, so a bearer credential is told from an access token at a
/// glance (and secret scanners can find leaked keys).
pub const KEY_PREFIX: &str = "rhk_";

/// What authentication needs to know about a presented key.
#[derive(Debug, Clone, Queryable)]
pub struct KeyIdentity {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Its end date (checked again on each use of a cached identity).
    pub expires_at: Option<DateTime<Utc>>,
}

impl KeyIdentity {
    /// The key's scopes as permissions; what is never grantable to a key never counts, whatever
    /// is stored.
    pub fn permissions(&self) -> Permissions {
        let perms: Vec<Permission> = self
            .scopes
            .iter()
            .filter_map(|s| s.parse::<Permission>().ok())
            .filter(|p| p.grantable_to_keys())
            .collect();
        Permissions::of(&perms)
    }
}

/// The live key with this hash: not revoked and not expired (one indexed lookup).
pub async fn authenticate(conn: &mut AsyncPgConnection, key_hash: &[u8]) -> QueryResult<Option<KeyIdentity>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .filter(
            api_keys::expires_at
                .is_null()
                .or(api_keys::expires_at.gt(diesel::dsl::now)),
        )
        .select((
            api_keys::id,
            api_keys::clinic_id,
            api_keys::name,
            api_keys::scopes,
            api_keys::last_used_at,
            api_keys::expires_at,
        ))
        .first(conn)
        .await
        .optional()
}

/// Records that a key was used (callers do this at most once a minute per key).
pub async fn touch(conn: &mut AsyncPgConnection, id: Uuid, at: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::last_used_at.eq(at))
        .execute(conn)
        .await
}
