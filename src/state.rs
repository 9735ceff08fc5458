//! What every handler can reach: the pool, the configuration and the token keys.

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
}

impl AppState {
    pub fn new(config: Config) -> Result<Self, String> {
        let pool = crate::db::pool(config.database_url.expose(), config.database_pool_size)?;
        let keys = TokenKeys::new(config.jwt_secret.expose().as_bytes());
        Ok(AppState {
            pool,
            config: Arc::new(config),
            keys,
        })
    }

    /// A pooled connection; a database outage is a 503, not a 500.
    pub async fn conn(&self) -> Result<DbConn, ApiError> {
        Ok(self.pool.get().await?)
    }
}
