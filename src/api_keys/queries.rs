use crate::db::schema::api_keys;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// An API key as listed (never the key itself).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub prefix: String,
    pub last_four: String,
    pub created_by: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub name: &'a str,
    pub scopes: Vec<String>,
    pub key_hash: Vec<u8>,
    pub prefix: &'a str,
    pub last_four: &'a str,
    pub created_by: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewApiKey<'_>) -> QueryResult<ApiKeyRow> {
    diesel::insert_into(api_keys::table)
        .values(new)
        .returning(ApiKeyRow::as_returning())
        .get_result(conn)
        .await
}

/// A page of the clinic's live keys in creation order, after the key id `after`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<ApiKeyRow>> {
    let mut q = api_keys::table
        .filter(api_keys::clinic_id.eq(clinic_id))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .order(api_keys::id)
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(api_keys::id.gt(after));
    }
    q.load(conn).await
}

/// Revokes a live key of the clinic; false when there is none with that id.
pub async fn revoke(conn: &mut AsyncPgConnection, clinic_id: Uuid, id: Uuid) -> QueryResult<bool> {
    crate::auth::cache::access_changed();
    let n = diesel::update(
        api_keys::table
            .filter(api_keys::clinic_id.eq(clinic_id))
            .filter(api_keys::id.eq(id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    Ok(n == 1)
}
