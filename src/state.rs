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
    /// Audit events of reads waiting to be written (see `audit::sink`).
    pub audit: Arc<crate::audit::Sink>,
}

impl AppState {
    pub fn new(config: Config) -> Result<Self, String> {
        let pool = crate::db::pool(config.database_url.expose(), config.database_pool_size)?;
        let keys = TokenKeys::new(config.jwt_secret.expose().as_bytes());
        let rate_limiter = Arc::new(RateLimiter::per_minute(config.api_key_rate_limit));
        Ok(AppState {
            pool,
            rate_limiter,
            audit: Arc::new(crate::audit::Sink::new()),
            config: Arc::new(config),
            keys,
        })
    }

    /// A pooled connection; a database outage is a 503, not a 500.
    pub async fn conn(&self) -> Result<DbConn, ApiError> {
        Ok(self.pool.get().await?)
    }
}
