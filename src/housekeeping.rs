//! Periodic clean-up: what is past its use is deleted, so tables do not grow without bound.
//! Every instance runs it hourly; the deletes are idempotent, so instances need no
//! coordination.

use crate::db::schema::{login_throttle, webhook_deliveries};
use crate::http::idempotency;
use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// How long a finished webhook delivery (delivered, or failed for good) stays listed under
/// `GET /v1/webhooks/{id}/deliveries` with its attempts.
pub const DELIVERY_RETENTION_DAYS: i64 = 30;

/// Rows deleted by one round.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub idempotency_keys: usize,
    pub deliveries: usize,
    pub throttle_windows: usize,
    /// Not a purge: events of clinics nobody polls, given their feed positions.
    pub events_sequenced: usize,
}

/// One round of clean-up.
pub async fn run_once(conn: &mut AsyncPgConnection) -> QueryResult<Purged> {
    let now = Utc::now();
    let idempotency_keys = idempotency::purge_expired(conn).await?;
    // Attempts go with their delivery (ON DELETE CASCADE); a redelivery keeps its own history.
    let deliveries = diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::completed_at.lt(now - Duration::days(DELIVERY_RETENTION_DAYS))),
    )
    .execute(conn)
    .await?;
    let throttle_windows = diesel::delete(
        login_throttle::table
            .filter(login_throttle::window_start.lt(now - Duration::seconds(crate::auth::throttle::WINDOW_SECS))),
    )
    .execute(conn)
    .await?;
    let events_sequenced = crate::events::sequence_all(conn).await?;
    Ok(Purged {
        idempotency_keys,
        deliveries,
        throttle_windows,
        events_sequenced,
    })
}
