//! The delivery worker: claims due deliveries, POSTs them signed, records every attempt, and
//! schedules retries.
//!
//! Claiming is one statement that locks candidate rows with `FOR UPDATE SKIP LOCKED` and moves
//! their `next_attempt_at` a lease into the future, so any number of workers (in one instance or
//! many) never claim the same delivery twice. The HTTP request runs outside any transaction and
//! without a database connection, so a slow or dead receiver holds nothing the API needs. A lease
//! outlives the request timeout; only a worker that dies mid-request lets its lease run out, and
//! then the delivery is sent again (receivers deduplicate on `Rehabit-Event-Id`).
//!
//! Time comes from an injected [`Clock`], so tests walk through the backoff schedule without
//! sleeping.
//!
//! On a graceful stop ([`Worker::run`]) the worker claims nothing more, lets the deliveries it
//! holds finish for up to the drain period, and releases the leases of any still unsent, so
//! another instance sends them at once rather than when the lease runs out.

use crate::db::schema::{webhook_attempts, webhook_deliveries, webhooks};
use crate::db::{DbConn, DbPool};
use crate::shutdown::{Phase, Shutdown};
use crate::webhooks::dto::DeliveryState;
use crate::webhooks::schedule::{RETRY_WINDOW, next_attempt};
use crate::webhooks::{signing, target};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use uuid::Uuid;

/// The current time; injectable so tests control it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// A receiver must answer 2xx within this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery is reserved for its worker; well above the request timeout.
const LEASE_SECS: i64 = 60;
/// Deliveries sent at once by one worker.
const CONCURRENCY: usize = 32;
/// Deliveries to one endpoint sent at once by one worker, so one slow endpoint cannot take
/// every slot from the others.
const PER_ENDPOINT: usize = 4;
/// Candidates looked at per claim.
const SCAN: i64 = 500;
/// How long the previous secret keeps signing after a rotation.
pub const PREVIOUS_SECRET_GRACE: ChronoDuration = ChronoDuration::hours(24);

#[derive(Clone)]
pub struct Worker {
    pool: DbPool,
    http: reqwest::Client,
    clock: Clock,
    block_private: bool,
    timeout: Duration,
    permits: Arc<Semaphore>,
    in_flight: Arc<Mutex<HashMap<Uuid, usize>>>,
    /// Deliveries claimed and not yet recorded, with the lease each was claimed until.
    holding: Arc<Mutex<HashMap<Uuid, DateTime<Utc>>>>,
}

#[derive(Debug, QueryableByName)]
struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    clinic_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    webhook_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    event_id: Uuid,
    /// A ping's body; for an event, its parts come from the outbox below.
    #[diesel(sql_type = Nullable<Jsonb>)]
    payload: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Text>)]
    event_type: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    occurred_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    data: Option<serde_json::Value>,
    #[diesel(sql_type = Int4)]
    attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Nullable<Text>)]
    previous_secret: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    previous_secret_expires_at: Option<DateTime<Utc>>,
}

/// Due deliveries of enabled endpoints, at most `PER_ENDPOINT` per endpoint and none of the
/// endpoints this worker is already busy with; each claimed one gets a lease. An event
/// delivery's event comes with it in the same statement (a ping's id matches no event).
const CLAIM_SQL: &str = "
WITH candidates AS (
    SELECT id, webhook_id, next_attempt_at
    FROM webhook_deliveries
    WHERE state = 'pending' AND next_attempt_at <= $1 AND NOT (webhook_id = ANY ($4))
    ORDER BY next_attempt_at
    LIMIT $5
), fair AS (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS rank
        FROM candidates
    ) ranked
    WHERE rank <= $3
), picked AS (
    SELECT d.id, d.event_id
    FROM webhook_deliveries d
    JOIN webhooks w ON w.id = d.webhook_id AND w.enabled
    WHERE d.id IN (SELECT id FROM fair) AND d.state = 'pending' AND d.next_attempt_at <= $1
    ORDER BY d.next_attempt_at
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
SET next_attempt_at = $6
FROM picked LEFT JOIN events e ON e.id = picked.event_id, webhooks w
WHERE d.id = picked.id AND w.id = d.webhook_id
RETURNING d.id, d.clinic_id, d.webhook_id, d.event_id, d.payload, d.attempts, d.created_at,
          w.url, w.secret, w.previous_secret, w.previous_secret_expires_at,
          e.type AS event_type, e.occurred_at, e.data";

impl Claimed {
    /// What is sent: a ping's stored body, or the event as the feed shows it now (scrubbed, if
    /// its client was erased since).
    fn body(&self) -> Vec<u8> {
        let sent = match (&self.payload, &self.event_type, self.occurred_at, &self.data) {
            (Some(payload), ..) => serde_json::to_vec(payload),
            (None, Some(event_type), Some(occurred_at), Some(data)) => {
                serde_json::to_vec(&crate::events::dto::EventResponse {
                    id: self.event_id,
                    event_type: event_type.clone(),
                    occurred_at,
                    data: data.clone(),
                })
            }
            _ => serde_json::to_vec(&serde_json::json!({"id": self.event_id})),
        };
        sent.unwrap_or_default()
    }
}

/// What one attempt came to.
#[derive(Debug)]
struct Outcome {
    status: Option<u16>,
    error: Option<String>,
}

impl Outcome {
    fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

impl Worker {
    pub fn new(pool: DbPool, block_private: bool, clock: Clock) -> Result<Self, String> {
        Self::with_timeout(pool, block_private, clock, REQUEST_TIMEOUT)
    }

    /// A worker whose requests time out after `timeout` (tests use a short one).
    fn with_timeout(pool: DbPool, block_private: bool, clock: Clock, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("Rehabit-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(target::GuardedResolver { block_private }))
            .build()
            .map_err(|e| format!("could not build the webhook HTTP client: {e}"))?;
        Ok(Worker {
            pool,
            http,
            clock,
            block_private,
            timeout,
            permits: Arc::new(Semaphore::new(CONCURRENCY)),
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            holding: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    fn busy_endpoints(&self) -> Vec<Uuid> {
        let in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        in_flight
            .iter()
            .filter(|(_, n)| **n >= PER_ENDPOINT)
            .map(|(id, _)| *id)
            .collect()
    }

    fn track(&self, webhook_id: Uuid, started: bool) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let n = in_flight.entry(webhook_id).or_insert(0);
        if started {
            *n += 1;
        } else {
            *n = n.saturating_sub(1);
            if *n == 0 {
                in_flight.remove(&webhook_id);
            }
        }
    }

    /// A connection of the worker's pool, closed rather than pooled if dropped mid-transaction.
    async fn conn(&self) -> Result<DbConn, String> {
        self.pool.get().await.map(DbConn::pooled).map_err(|e| e.to_string())
    }

    async fn claim(&self, max: usize) -> Result<Vec<Claimed>, String> {
        let now = self.now();
        let lease = now + ChronoDuration::seconds(LEASE_SECS);
        let mut conn = self.conn().await?;
        let claimed: Vec<Claimed> = diesel::sql_query(CLAIM_SQL)
            .bind::<Timestamptz, _>(now)
            .bind::<BigInt, _>(i64::try_from(max).unwrap_or(i64::MAX))
            .bind::<BigInt, _>(i64::try_from(PER_ENDPOINT).unwrap_or(1))
            .bind::<Array<SqlUuid>, _>(self.busy_endpoints())
            .bind::<BigInt, _>(SCAN)
            .bind::<Timestamptz, _>(lease)
            .load(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let mut holding = self.holding.lock().unwrap_or_else(|p| p.into_inner());
        for c in &claimed {
            self.track(c.webhook_id, true);
            holding.insert(c.id, lease);
        }
        Ok(claimed)
    }

    /// Gives the deliveries still held back to any worker, due now. Only leases still as
    /// claimed are touched: a delivery whose attempt was recorded meanwhile keeps its schedule.
    async fn release_held(&self) -> Result<usize, String> {
        let held: Vec<(Uuid, DateTime<Utc>)> = self.holding.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
        if held.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn().await?;
        let now = self.now();
        let mut released = 0;
        for (id, lease) in held {
            released += diesel::update(
                webhook_deliveries::table
                    .filter(webhook_deliveries::id.eq(id))
                    .filter(webhook_deliveries::state.eq(DeliveryState::Pending))
                    .filter(webhook_deliveries::next_attempt_at.eq(lease)),
            )
            .set(webhook_deliveries::next_attempt_at.eq(now))
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        }
        Ok(released)
    }

    /// Claims what is due now, sends it, and waits for every attempt to be recorded; answers
    /// how many deliveries were attempted. Tests drive the worker with this.
    pub async fn run_once(&self) -> Result<usize, String> {
        let claimed = self.claim(CONCURRENCY).await?;
        let n = claimed.len();
        futures_util::future::join_all(claimed.into_iter().map(|d| self.process(d))).await;
        Ok(n)
    }

    /// Runs until the process ends: claims whenever a slot is free, sends each delivery on a
    /// task of its own, and otherwise looks for due deliveries every `poll`.
    pub fn spawn(self, poll: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(poll, Shutdown::new(), Duration::ZERO))
    }

    /// Runs until `shutdown` begins to drain (as [`Worker::spawn`] does), then claims nothing
    /// more, waits up to `drain` for the deliveries in flight, releases the ones still unsent
    /// and ends. Register it with [`Shutdown::spawn`] so the process's exit waits for it.
    pub async fn run(self, poll: Duration, shutdown: Shutdown, drain: Duration) {
        let mut sends = tokio::task::JoinSet::new();
        let stopping = shutdown.reached(Phase::Draining);
        tokio::pin!(stopping);
        loop {
            while sends.try_join_next().is_some() {}
            let free = self.permits.available_permits();
            let mut more = false;
            if free > 0 {
                match self.claim(free).await {
                    Ok(batch) => {
                        more = batch.len() == free;
                        for d in batch {
                            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                                return;
                            };
                            let worker = self.clone();
                            sends.spawn(async move {
                                worker.process(d).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "webhook worker could not claim deliveries"),
                }
            }
            if shutdown.is_stopping() {
                break;
            }
            if !more {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = &mut stopping => break,
                }
            }
        }
        let in_flight = sends.len();
        let finished = async { while sends.join_next().await.is_some() {} };
        if tokio::time::timeout(drain, finished).await.is_err() {
            sends.abort_all();
            while sends.join_next().await.is_some() {}
        }
        match self.release_held().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                released = n,
                "webhook worker released unsent deliveries to other workers"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "webhook worker could not release its deliveries; their leases run out in a minute")
            }
        }
        tracing::info!(in_flight_at_stop = in_flight, "webhook worker stopped");
    }

    async fn process(&self, d: Claimed) {
        let attempted_at = self.now();
        let timestamp = attempted_at.timestamp();
        let body = d.body();
        let mut secrets = vec![d.secret.as_str()];
        if let (Some(previous), Some(until)) = (d.previous_secret.as_deref(), d.previous_secret_expires_at)
            && until > attempted_at
        {
            secrets.push(previous);
        }
        let signature = signing::header(&secrets, timestamp, &body);
        let started = Instant::now();
        let outcome = self.send(&d, body, timestamp, &signature).await;
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        if let Err(e) = self.record(&d, attempted_at, duration_ms, &outcome).await {
            // The endpoint may have been deleted meanwhile; otherwise the lease runs out and
            // the delivery is tried again.
            tracing::warn!(delivery = %d.id, error = %e, "could not record a webhook attempt");
        }
        self.holding.lock().unwrap_or_else(|p| p.into_inner()).remove(&d.id);
        self.track(d.webhook_id, false);
    }

    async fn send(&self, d: &Claimed, body: Vec<u8>, timestamp: i64, signature: &str) -> Outcome {
        let failed = |error: String| Outcome {
            status: None,
            error: Some(error),
        };
        let url = match target::parse_url(&d.url, false) {
            Ok(url) => url,
            Err(e) => return failed(format!("the endpoint URL {e}")),
        };
        if let Some(r) = target::literal_ip(&url).and_then(|ip| target::refusal(ip, self.block_private)) {
            return failed(format!("the endpoint's address is {}", r.describe()));
        }
        let sent = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("rehabit-event-id", d.event_id.to_string())
            .header("rehabit-delivery-id", d.id.to_string())
            .header("rehabit-timestamp", timestamp.to_string())
            .header("rehabit-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(res) => {
                let status = res.status().as_u16();
                Outcome {
                    status: Some(status),
                    error: (!res.status().is_success()).then(|| format!("the receiver answered {status}")),
                }
            }
            Err(e) if e.is_timeout() => failed(format!("no answer within {} seconds", self.timeout.as_secs_f32())),
            Err(e) => failed(describe(&e)),
        }
    }

    async fn record(
        &self,
        d: &Claimed,
        attempted_at: DateTime<Utc>,
        duration_ms: i32,
        outcome: &Outcome,
    ) -> Result<(), diesel::result::Error> {
        let mut conn = self
            .conn()
            .await
            .map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?;
        let now = self.now();
        let failures = u32::try_from(d.attempts + 1).unwrap_or(u32::MAX);
        let succeeded = outcome.succeeded();
        let next = (!succeeded)
            .then(|| next_attempt(failures, d.created_at, now))
            .flatten();
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            diesel::insert_into(webhook_attempts::table)
                .values((
                    webhook_attempts::id.eq(Uuid::now_v7()),
                    webhook_attempts::clinic_id.eq(d.clinic_id),
                    webhook_attempts::delivery_id.eq(d.id),
                    webhook_attempts::attempted_at.eq(attempted_at),
                    webhook_attempts::status_code.eq(outcome.status.map(i32::from)),
                    webhook_attempts::duration_ms.eq(duration_ms),
                    webhook_attempts::error.eq(outcome.error.as_deref()),
                ))
                .execute(conn)
                .await?;
            let state = match (succeeded, next) {
                (true, _) => DeliveryState::Succeeded,
                (false, Some(_)) => DeliveryState::Pending,
                (false, None) => DeliveryState::Failed,
            };
            diesel::update(
                webhook_deliveries::table
                    .filter(webhook_deliveries::id.eq(d.id))
                    .filter(webhook_deliveries::state.eq(DeliveryState::Pending)),
            )
            .set((
                webhook_deliveries::state.eq(state),
                webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                webhook_deliveries::last_attempt_at.eq(attempted_at),
                webhook_deliveries::next_attempt_at.eq(next),
                webhook_deliveries::completed_at.eq((state != DeliveryState::Pending).then_some(now)),
            ))
            .execute(conn)
            .await?;
            let endpoint = webhooks::table.filter(webhooks::id.eq(d.webhook_id));
            if succeeded {
                diesel::update(endpoint.filter(webhooks::failing_since.is_not_null()))
                    .set(webhooks::failing_since.eq(None::<DateTime<Utc>>))
                    .execute(conn)
                    .await?;
                return Ok(());
            }
            diesel::update(endpoint.filter(webhooks::failing_since.is_null()))
                .set(webhooks::failing_since.eq(now))
                .execute(conn)
                .await?;
            let failing_since: Option<DateTime<Utc>> = endpoint
                .select(webhooks::failing_since)
                .first(conn)
                .await
                .optional()?
                .flatten();
            // An endpoint that has failed every attempt for the whole retry window is turned off.
            if next.is_none()
                && let Some(since) = failing_since
                && now - since >= RETRY_WINDOW
            {
                let reason = format!(
                    "Disabled automatically at {}: every delivery attempt since {} failed (last: {}). Fix the receiver, then PATCH {{\"enabled\": true}}.",
                    crate::http::timestamp::format(&now),
                    crate::http::timestamp::format(&since),
                    outcome.error.as_deref().unwrap_or("unknown error"),
                );
                diesel::update(endpoint.filter(webhooks::enabled.eq(true)))
                    .set((
                        webhooks::enabled.eq(false),
                        webhooks::disabled_reason.eq(reason),
                        webhooks::disabled_at.eq(now),
                        webhooks::version.eq(webhooks::version + 1),
                        webhooks::updated_at.eq(now),
                    ))
                    .execute(conn)
                    .await?;
                tracing::warn!(webhook = %d.webhook_id, "webhook endpoint disabled after failing for the whole retry window");
            }
            Ok(())
        })
        .await
    }
}

/// A reqwest error with its causes, which say what actually went wrong (refused, DNS, TLS).
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
