//! Calendar feed rows.

use crate::db::schema::calendar_feeds;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = calendar_feeds)]
pub struct FeedRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub client_id: Uuid,
    pub token_hash: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Replaces the client's feed (if any) with `row`: the old token finds nothing from now on.
pub async fn replace(conn: &mut AsyncPgConnection, row: &FeedRow) -> QueryResult<FeedRow> {
    diesel::delete(
        calendar_feeds::table
            .filter(calendar_feeds::clinic_id.eq(row.clinic_id))
            .filter(calendar_feeds::client_id.eq(row.client_id)),
    )
    .execute(conn)
    .await?;
    diesel::insert_into(calendar_feeds::table)
        .values(row)
        .returning(FeedRow::as_returning())
        .get_result(conn)
        .await
}

/// Revokes the client's feed; answers whether there was one.
pub async fn revoke(conn: &mut AsyncPgConnection, clinic_id: Uuid, client_id: Uuid) -> QueryResult<bool> {
    let n = diesel::delete(
        calendar_feeds::table
            .filter(calendar_feeds::clinic_id.eq(clinic_id))
            .filter(calendar_feeds::client_id.eq(client_id)),
    )
    .execute(conn)
    .await?;
    Ok(n > 0)
}

/// The live feed a token opens: not replaced, revoked or expired.
pub async fn by_token(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> QueryResult<Option<FeedRow>> {
    calendar_feeds::table
        .filter(calendar_feeds::token_hash.eq(token_hash))
        .filter(
            calendar_feeds::expires_at
                .is_null()
                .or(calendar_feeds::expires_at.gt(now)),
        )
        .select(FeedRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The client's feed, without its token (for the export).
pub async fn of_client(conn: &mut AsyncPgConnection, clinic_id: Uuid, client_id: Uuid) -> QueryResult<Vec<FeedRow>> {
    calendar_feeds::table
        .filter(calendar_feeds::clinic_id.eq(clinic_id))
        .filter(calendar_feeds::client_id.eq(client_id))
        .select(FeedRow::as_select())
        .load(conn)
        .await
}
