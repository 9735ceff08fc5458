//! Failed sign-in throttling, per account and per client address, counted in PostgreSQL so the
//! limit holds across instances.

use crate::db::schema::login_throttle;
use crate::error::ApiError;
use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Window over which failures are counted.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Failed attempts allowed per account in a window.
pub const PER_ACCOUNT: i32 = 5;
/// Failed attempts allowed per client address in a window.
pub const PER_ADDRESS: i32 = 30;

pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

fn address_key(addr: &str) -> String {
    format!("address:{addr}")
}

/// The keys a sign-in attempt counts against: the account, and the caller's address (the TCP
/// peer; behind a proxy every caller shares the proxy's).
pub fn sign_in_keys(email: &str, req: &actix_web::HttpRequest) -> [(String, i32); 2] {
    let address = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    [(account_key(email), PER_ACCOUNT), (address_key(&address), PER_ADDRESS)]
}

/// 429 when either key has used up its failures in the current window.
pub async fn check(conn: &mut AsyncPgConnection, keys: &[(String, i32)]) -> Result<(), ApiError> {
    let names: Vec<&String> = keys.iter().map(|(k, _)| k).collect();
    let rows: Vec<(String, chrono::DateTime<Utc>, i32)> = login_throttle::table
        .filter(login_throttle::key.eq_any(names))
        .select((
            login_throttle::key,
            login_throttle::window_start,
            login_throttle::failures,
        ))
        .load(conn)
        .await?;
    let now = Utc::now();
    for (key, start, failures) in rows {
        let limit = keys
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, l)| *l)
            .unwrap_or(i32::MAX);
        let ends = start + Duration::seconds(WINDOW_SECS);
        if failures >= limit && ends > now {
            let wait = u64::try_from((ends - now).num_seconds()).unwrap_or(1);
            return Err(ApiError::too_many_requests(
                "Too many failed sign-in attempts; wait before trying again.",
                wait,
            )
            .with_oauth_error("invalid_grant"));
        }
    }
    Ok(())
}

/// Counts one failure against each key, starting a new window where the old one is over.
pub async fn record_failure(conn: &mut AsyncPgConnection, keys: &[(String, i32)]) -> Result<(), ApiError> {
    let now = Utc::now();
    let window_over = login_throttle::window_start.lt(now - Duration::seconds(WINDOW_SECS));
    for (key, _) in keys {
        diesel::insert_into(login_throttle::table)
            .values((
                login_throttle::key.eq(key),
                login_throttle::window_start.eq(now),
                login_throttle::failures.eq(1),
            ))
            .on_conflict(login_throttle::key)
            .do_update()
            .set((
                login_throttle::failures.eq(
                    diesel::dsl::case_when::<_, _, diesel::sql_types::Integer>(window_over, 1)
                        .otherwise(login_throttle::failures + 1),
                ),
                login_throttle::window_start.eq(diesel::dsl::case_when::<_, _, diesel::sql_types::Timestamptz>(
                    window_over,
                    now,
                )
                .otherwise(login_throttle::window_start)),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// A successful sign-in clears the account's count.
pub async fn clear(conn: &mut AsyncPgConnection, key: &str) -> Result<(), ApiError> {
    diesel::delete(login_throttle::table.find(key)).execute(conn).await?;
    Ok(())
}
