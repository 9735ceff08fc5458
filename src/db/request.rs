//! One transaction for a whole request, when the request needs its work and its record of that
//! work to be one fact (an `Idempotency-Key`'s stored answer, a `DELETE` forgetting such
//! answers).
//!
//! [`within`] runs a request with a connection that is already inside a transaction; while it
//! runs, every [`crate::state::AppState::conn`] of that request answers with this connection, so
//! the handler's statements join the transaction (its own `transaction(...)` becomes a savepoint)
//! and nothing it does is committed unless the caller of `within` commits. Handlers need not
//! know: they ask for a connection as always.
//!
//! The connection is lent to one user at a time. A handler that asks for a second connection
//! while it still holds the first gets one from the pool, outside the transaction, as it would
//! without a request transaction (and a warning is logged: such work is not covered).

use super::PooledConn;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::PoolableConnection;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

tokio::task_local! {
    static CURRENT: Arc<Mutex<DbConn>>;
}

/// A database connection for a handler: its own from the pool, or its request's transaction.
pub struct DbConn(Lent);

enum Lent {
    /// `Some` until dropped; boxed, as a connection is large and the other variant small.
    Pooled(Option<Box<PooledConn>>),
    Request(OwnedMutexGuard<DbConn>),
}

impl DbConn {
    pub fn pooled(conn: PooledConn) -> Self {
        DbConn(Lent::Pooled(Some(Box::new(conn))))
    }
}

impl Deref for DbConn {
    type Target = AsyncPgConnection;
    fn deref(&self) -> &AsyncPgConnection {
        match &self.0 {
            Lent::Pooled(c) => c.as_ref().expect("a connection until dropped"),
            Lent::Request(c) => c,
        }
    }
}

impl DerefMut for DbConn {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        match &mut self.0 {
            Lent::Pooled(c) => c.as_mut().expect("a connection until dropped"),
            Lent::Request(c) => c,
        }
    }
}

impl Drop for DbConn {
    fn drop(&mut self) {
        if let Lent::Pooled(conn) = &mut self.0
            && let Some(conn) = conn.take()
        {
            release(*conn);
        }
    }
}

/// Gives a connection back to its pool, or closes it when it is still inside a transaction (its
/// user was cut off mid-way, by a time limit or a dropped request): PostgreSQL then rolls the
/// transaction back and frees its locks at once, instead of when the pool next looks at the
/// connection.
pub fn release(mut conn: PooledConn) {
    if conn.is_broken() {
        drop(deadpool::managed::Object::take(conn));
    }
}

/// Runs `work` with `conn` as the connection of every [`current`] inside it; answers what
/// `work` answered and the connection.
///
/// Dropped before it finishes (a time limit), it closes the connection if it is still in a
/// transaction: see [`release`].
pub async fn within<F: Future>(conn: DbConn, work: F) -> (F::Output, DbConn) {
    let mut shared = Arc::new(Mutex::new(conn));
    let out = CURRENT.scope(shared.clone(), work).await;
    // `work` is done, so its borrows are too, unless it moved one into a task that outlives it:
    // then wait until that task lets go.
    let conn = loop {
        match Arc::try_unwrap(shared) {
            Ok(mutex) => break mutex.into_inner(),
            Err(still_shared) => {
                drop(still_shared.clone().lock_owned().await);
                shared = still_shared;
                tokio::task::yield_now().await;
            }
        }
    };
    (out, conn)
}

/// The request transaction's connection, when the current request has one that nobody holds.
pub fn current() -> Option<DbConn> {
    let held = CURRENT.try_with(|shared| shared.clone().try_lock_owned()).ok()?;
    match held {
        Ok(guard) => Some(DbConn(Lent::Request(guard))),
        Err(_) => {
            tracing::warn!("a handler asked for a second database connection inside a request transaction");
            None
        }
    }
}
