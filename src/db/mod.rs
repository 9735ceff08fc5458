//! The connection pool, database creation and embedded migrations.

pub mod outage;
pub mod request;
pub mod schema;
pub mod sql;
pub mod text_enum;

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use std::time::Duration;

pub use request::DbConn;

/// The reserved clinic that owns built-in content (exercises, routines, questionnaires).
pub const SYSTEM_CLINIC_ID: uuid::Uuid = uuid::Uuid::nil();

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<AsyncPgConnection>;
/// A connection checked out of a pool.
pub type PooledConn = Object<AsyncPgConnection>;

/// A pool's size and its bounded waits: how long a caller waits for a connection, and the
/// limits every connection sets for itself when it connects (so no statement, lock wait or
/// forgotten transaction holds a connection without end).
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub size: usize,
    pub wait: Duration,
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
    pub idle_in_transaction_timeout: Duration,
}

impl PoolSettings {
    /// `size` connections with the default waits (`config.rs` documents them).
    pub fn new(size: usize) -> Self {
        use crate::config::*;
        PoolSettings {
            size,
            wait: Duration::from_millis(DEFAULT_POOL_WAIT_MS),
            statement_timeout: Duration::from_millis(DEFAULT_STATEMENT_TIMEOUT_MS),
            lock_timeout: Duration::from_millis(DEFAULT_LOCK_TIMEOUT_MS),
            idle_in_transaction_timeout: Duration::from_millis(DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS),
        }
    }

    /// `size` connections with the waits of `config`.
    pub fn from_config(config: &crate::config::Config, size: usize) -> Self {
        PoolSettings {
            size,
            wait: config.database_pool_wait,
            statement_timeout: config.database_statement_timeout,
            lock_timeout: config.database_lock_timeout,
            idle_in_transaction_timeout: config.database_idle_in_transaction_timeout,
        }
    }

    /// What a new connection runs before its first use.
    fn session_setup(&self) -> String {
        format!(
            "SET application_name = 'rehabit'; SET statement_timeout = {}; SET lock_timeout = {}; \
             SET client_connection_check_interval = 1000; \
             SET idle_in_transaction_session_timeout = {}",
            self.statement_timeout.as_millis(),
            self.lock_timeout.as_millis(),
            self.idle_in_transaction_timeout.as_millis()
        )
    }
}

/// A pool of `size` connections with the default waits.
pub fn pool(url: &str, size: usize) -> Result<DbPool, String> {
    pool_with(url, PoolSettings::new(size))
}

pub fn pool_with(url: &str, settings: PoolSettings) -> Result<DbPool, String> {
    let setup = settings.session_setup();
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    manager_config.custom_setup = Box::new(move |url| {
        let (url, setup) = (url.to_string(), setup.clone());
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            conn.batch_execute(&setup)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, manager_config);
    Pool::builder(manager)
        .max_size(settings.size)
        .wait_timeout(Some(settings.wait))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| format!("could not build the database pool: {e}"))
}

/// The parts of a `postgres://…/name?opts` URL around its database name.
fn url_parts(url: &str) -> Option<(&str, &str, &str)> {
    let scheme_end = url.find("://")? + 3;
    let path_start = scheme_end + url[scheme_end..].find('/')?;
    let after = &url[path_start + 1..];
    let (name, query) = after.split_at(after.find('?').unwrap_or(after.len()));
    (!name.is_empty()).then_some((&url[..path_start], name, query))
}

/// Splits a database URL into the URL of the server's `postgres` database and the name.
pub fn split_database_url(url: &str) -> Option<(String, String)> {
    let (base, name, query) = url_parts(url)?;
    Some((format!("{base}/postgres{query}"), name.to_string()))
}

/// The same URL naming another database.
pub fn with_database(url: &str, name: &str) -> Option<String> {
    let (base, _, query) = url_parts(url)?;
    Some(format!("{base}/{name}{query}"))
}

/// Quotes an SQL identifier (database names cannot be bind parameters).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

/// Creates the database named in `url` when it does not exist yet.
pub async fn create_database_if_missing(url: &str) -> Result<(), String> {
    let Some((admin_url, name)) = split_database_url(url) else {
        return Err("DATABASE_URL must name a database (postgres://user@host:port/name)".into());
    };
    let mut conn = AsyncPgConnection::establish(&admin_url)
        .await
        .map_err(|e| e.to_string())?;
    let found: Exists = diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
        .bind::<Text, _>(&name)
        .get_result(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    if !found.exists {
        match diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(&name)))
            .execute(&mut conn)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another instance created it between our check and our create.
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {}
            Err(e) if e.to_string().contains("already exists") => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

/// Runs pending embedded migrations. Blocking diesel code runs on a blocking thread.
pub async fn run_migrations(url: &str) -> Result<Vec<String>, String> {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)
            .map_err(|e| e.to_string())?;
        conn.run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.into_iter().map(|v| v.to_string()).collect())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Answers whether the database answers a trivial query.
pub async fn ping(conn: &mut AsyncPgConnection) -> bool {
    diesel::sql_query("SELECT 1").execute(conn).await.is_ok()
}

/// Serialises transactions on `key` until the calling transaction ends (a transaction-level
/// advisory lock): for upserts by a natural key, so concurrent ones run one after the other.
pub async fn lock_key(conn: &mut AsyncPgConnection, key: &str) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<Text, _>(key)
        .execute(conn)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        assert_eq!(
            split_database_url("postgres://u:p@h:5432/rehabit?sslmode=disable"),
            Some((
                "postgres://u:p@h:5432/postgres?sslmode=disable".into(),
                "rehabit".into()
            ))
        );
        assert_eq!(split_database_url("postgres://h:5432/"), None);
        assert_eq!(
            with_database("postgres://h:5432/a", "b").as_deref(),
            Some("postgres://h:5432/b")
        );
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
