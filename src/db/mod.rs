//! The connection pool, database creation and embedded migrations.

pub mod request;
pub mod schema;
pub mod sql;
pub mod text_enum;

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub use request::DbConn;

pub type DbPool = Pool<AsyncPgConnection>;
/// A connection checked out of a pool.
pub type PooledConn = Object<AsyncPgConnection>;

pub fn pool(url: &str, size: usize) -> Result<DbPool, String> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
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
