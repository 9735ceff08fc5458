//! Reads are audited without a database round trip in the request: their events wait in memory
//! and a background writer inserts them in one statement per batch, at most a second later (or
//! sooner, once a batch fills up). [`Sink::flush`] writes whatever waits, for a graceful
//! shutdown. Events that could not be written are counted in
//! `rehabit_audit_events_unwritten_total`, which must stay 0.

use crate::db::DbPool;
use crate::db::schema::audit_events;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use prometheus::IntCounter;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use uuid::Uuid;

/// One row of `audit_events`.
#[derive(Debug, Clone, Insertable, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub clinic_id: Uuid,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<Uuid>,
    pub client_ids: Vec<Uuid>,
    pub request_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub status: i16,
}

/// How long an event may wait in memory.
pub const MAX_DELAY: Duration = Duration::from_millis(1000);
/// A batch this big is written at once.
const BATCH: usize = 500;
/// Past this many waiting events (the database has been away for a while), new ones are
/// dropped and counted rather than eating the memory.
const MAX_WAITING: usize = 200_000;
/// Rows per INSERT: 14 binds a row, under PostgreSQL's 65,535.
const ROWS_PER_INSERT: usize = 2_000;

pub struct Sink {
    waiting: Mutex<Vec<AuditRow>>,
    wake: tokio::sync::Notify,
    pool: OnceLock<DbPool>,
    /// Events that could not be written (dropped after a failure or for lack of room).
    pub unwritten: IntCounter,
}

impl Sink {
    pub fn new() -> Self {
        Sink {
            waiting: Mutex::new(Vec::new()),
            wake: tokio::sync::Notify::new(),
            pool: OnceLock::new(),
            unwritten: IntCounter::new(
                "rehabit_audit_events_unwritten_total",
                "Audit events that could not be written (must stay 0)",
            )
            .expect("a valid metric name"),
        }
    }

    /// Queues events for the writer.
    pub fn push(&self, rows: Vec<AuditRow>) {
        if rows.is_empty() {
            return;
        }
        let full = {
            let Ok(mut waiting) = self.waiting.lock() else {
                self.lost(rows.len(), "audit queue poisoned");
                return;
            };
            if waiting.len() + rows.len() > MAX_WAITING {
                drop(waiting);
                self.lost(rows.len(), "audit queue full");
                return;
            }
            waiting.extend(rows);
            waiting.len() >= BATCH
        };
        if full {
            self.wake.notify_one();
        }
    }

    /// How many events wait in memory.
    pub fn waiting(&self) -> usize {
        self.waiting.lock().map(|w| w.len()).unwrap_or(0)
    }

    fn lost(&self, n: usize, why: &str) {
        self.unwritten.inc_by(n as u64);
        tracing::error!(events = n, reason = why, "audit events could not be written");
    }

    /// Starts the writer on the current runtime with `pool` (once; later calls do nothing).
    /// Before it starts, events wait.
    pub fn start(self: &std::sync::Arc<Self>, pool: DbPool) {
        if self.pool.set(pool).is_err() {
            return;
        }
        let sink = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(MAX_DELAY) => {}
                    _ = sink.wake.notified() => {}
                }
                sink.flush().await;
            }
        });
    }

    /// Writes every waiting event now; answers how many were written. Call it on shutdown,
    /// after the server has stopped taking requests.
    pub async fn flush(&self) -> usize {
        let batch = match self.waiting.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(_) => return 0,
        };
        if batch.is_empty() {
            return 0;
        }
        let Some(pool) = self.pool.get() else {
            // Not started: keep them for the writer.
            if let Ok(mut w) = self.waiting.lock() {
                w.splice(0..0, batch);
            }
            return 0;
        };
        let mut conn = match pool.get().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, events = batch.len(), "audit writer: no connection; retrying");
                self.requeue(batch);
                return 0;
            }
        };
        let mut written = 0;
        for chunk in batch.chunks(ROWS_PER_INSERT) {
            match diesel::insert_into(audit_events::table)
                .values(chunk)
                .execute(&mut conn)
                .await
            {
                Ok(n) => written += n,
                Err(diesel::result::Error::DatabaseError(..)) => {
                    // One bad row must not cost the others: write them one by one.
                    for row in chunk {
                        match diesel::insert_into(audit_events::table)
                            .values(row)
                            .execute(&mut conn)
                            .await
                        {
                            Ok(n) => written += n,
                            Err(e) => {
                                tracing::error!(error = %e, action = %row.action, "audit event refused");
                                self.lost(1, "refused by the database");
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "audit writer: database unavailable; retrying");
                    self.requeue(chunk.to_vec());
                }
            }
        }
        written
    }

    /// Puts a failed batch back in front, for the next round.
    fn requeue(&self, rows: Vec<AuditRow>) {
        let n = rows.len();
        match self.waiting.lock() {
            Ok(mut w) if w.len() + n <= MAX_WAITING => {
                w.splice(0..0, rows);
            }
            _ => self.lost(n, "audit queue full"),
        }
    }
}

impl Default for Sink {
    fn default() -> Self {
        Self::new()
    }
}
