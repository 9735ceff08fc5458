//! What every handler can reach: the pools, the configuration, the token keys, the API keys'
//! rate limits and the process's stop.

use crate::auth::rate_limit::RateLimiter;
use crate::auth::tokens::TokenKeys;
use crate::config::Config;
use crate::db::{DbConn, DbPool, PoolSettings, outage};
use crate::error::ApiError;
use crate::shutdown::Shutdown;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    /// A few connections kept apart for authentication and `/readyz`, so that neither waits
    /// behind requests' work when that holds every connection of `pool` (a locked table).
    pub auth_pool: DbPool,
    pub config: Arc<Config>,
    pub keys: TokenKeys,
    /// Per-key request budgets of API keys (in this instance's memory).
    pub rate_limiter: Arc<RateLimiter>,
    /// The process's graceful stop; `/readyz` answers 503 once it has begun.
    pub shutdown: Shutdown,
    /// Audit events of reads waiting to be written (see `audit::sink`).
    pub audit: Arc<crate::audit::sink::Sink>,
    /// Callers already authenticated, invalidated through `LISTEN/NOTIFY` (see `auth::cache`).
    pub auth_cache: Arc<crate::auth::cache::AuthCache>,
}

impl AppState {
    pub fn new(config: Config) -> Result<Self, String> {
        let url = config.database_url.expose();
        let pool = crate::db::pool_with(url, PoolSettings::from_config(&config, config.database_pool_size))?;
        let auth_pool = crate::db::pool_with(url, PoolSettings::from_config(&config, config.database_auth_pool_size))?;
        let keys = TokenKeys::new(config.jwt_secret.expose().as_bytes());
        let rate_limiter = Arc::new(RateLimiter::per_minute(config.api_key_rate_limit));
        Ok(AppState {
            pool,
            auth_pool,
            rate_limiter,
            audit: Arc::new(crate::audit::sink::Sink::new()),
            auth_cache: Arc::new(crate::auth::cache::AuthCache::new(url)),
            config: Arc::new(config),
            keys,
            shutdown: Shutdown::new(),
        })
    }

    /// A database connection; a database outage is a 503, not a 500. Inside a request
    /// transaction (`db::request`) this is that transaction's connection.
    pub async fn conn(&self) -> Result<DbConn, ApiError> {
        if let Some(conn) = crate::db::request::current() {
            return Ok(conn);
        }
        Self::checkout(&self.pool).await
    }

    /// A connection of its own from the pool, never the request transaction's.
    pub async fn own_conn(&self) -> Result<DbConn, ApiError> {
        Self::checkout(&self.pool).await
    }

    /// A connection for authentication and readiness checks, from the connections kept apart
    /// for them.
    pub async fn auth_conn(&self) -> Result<DbConn, ApiError> {
        Self::checkout(&self.auth_pool).await
    }

    async fn checkout(pool: &DbPool) -> Result<DbConn, ApiError> {
        let conn = pool.get().await?;
        // The pool checked the connection (a new one, or a `SELECT 1` on an idle one).
        outage::reachable();
        Ok(DbConn::pooled(conn))
    }
}
