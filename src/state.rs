//! What every handler can reach: the pool, the configuration, the token keys and the API keys'
//! rate limits.

use crate::api_keys::rate_limit::RateLimiter;
use crate::auth::tokens::TokenKeys;
use crate::config::Config;
use crate::db::{DbConn, DbPool};
use crate::error::ApiError;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    pub keys: TokenKeys,
    /// Per-key request budgets of API keys (in this instance's memory).
    pub rate_limiter: Arc<RateLimiter>,
}

impl AppState {
    pub fn new(config: Config) -> Result<Self, String> {
        let pool = crate::db::pool(config.database_url.expose(), config.database_pool_size)?;
        let keys = TokenKeys::new(config.jwt_secret.expose().as_bytes());
        let rate_limiter = Arc::new(RateLimiter::per_minute(config.api_key_rate_limit));
        Ok(AppState {
            pool,
            rate_limiter,
            config: Arc::new(config),
            keys,
        })
    }

    /// A database connection; a database outage is a 503, not a 500. Inside a request
    /// transaction (`db::request`) this is that transaction's connection.
    pub async fn conn(&self) -> Result<DbConn, ApiError> {
        if let Some(conn) = crate::db::request::current() {
            return Ok(conn);
        }
        self.own_conn().await
    }

    /// A connection of its own from the pool, never the request transaction's.
    pub async fn own_conn(&self) -> Result<DbConn, ApiError> {
        Ok(DbConn::pooled(self.pool.get().await?))
    }
}
