//! Operations endpoints: liveness, readiness and Prometheus metrics.

use crate::error::{ApiError, Problem};
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};
use serde::Serialize;
use utoipa::ToSchema;

/// Metrics the service exports besides actix-web-prom's request counters and histograms.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pool_size: IntGauge,
    pool_available: IntGauge,
    pool_waiting: IntGauge,
    db_unavailable: IntCounterVec,
    db_outages: IntCounter,
    db_reachable: IntGauge,
    request_timeouts: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let db_unavailable = IntCounterVec::new(
            Opts::new(
                "rehabit_db_unavailable_answers_total",
                "503 answers because the database was unreachable or too busy",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(db_unavailable.clone()))?;
        Ok(Metrics {
            db_unavailable,
            db_outages: counter(
                "rehabit_db_outages_total",
                "Times the database went from reachable to unreachable",
            )?,
            db_reachable: gauge(
                "rehabit_db_reachable",
                "1 unless requests are finding the database unreachable",
            )?,
            request_timeouts: counter(
                "rehabit_request_timeouts_total",
                "Requests cut by REQUEST_TIMEOUT_SECS (answered 503)",
            )?,
            pool_size: gauge("rehabit_db_pool_connections", "Connections open in the database pool")?,
            pool_available: gauge("rehabit_db_pool_idle", "Idle connections in the database pool")?,
            pool_waiting: gauge("rehabit_db_pool_waiting", "Requests waiting for a database connection")?,
            registry,
        })
    }
}

/// The service's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`, or `unavailable` when a dependency is down.
    #[schema(example = "ok")]
    pub status: String,
}

/// Liveness
///
/// Answers 200 while the process serves requests; it checks nothing else.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_health",
    responses(
        (status = 200, description = "The process is alive", body = HealthResponse),
    ),
    security(())
)]
#[get("/healthz")]
pub async fn get_health() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse { status: "ok".into() })
}

/// Readiness
///
/// Answers 200 when the database answers a query, 503 otherwise, and 503 as soon as the service
/// has been told to stop (it still serves for `SHUTDOWN_DRAIN_SECS`, so a load balancer can
/// take it out of rotation first). The check uses connections kept apart for it, so it does not
/// wait behind requests' work.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_readiness",
    responses(
        (status = 200, description = "Ready to serve", body = HealthResponse),
        (status = 503, description = "The database is not reachable, or the service is stopping", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/readyz")]
pub async fn get_readiness(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.shutdown.is_stopping() {
        return Err(ApiError::unavailable(
            "The service is stopping; it finishes the requests it has and takes no new ones.",
        ));
    }
    let down = || ApiError::unavailable("The database does not answer.");
    let mut conn = state.auth_conn().await.map_err(|_| down())?;
    if crate::db::ping(&mut conn).await {
        Ok(HttpResponse::Ok().json(HealthResponse { status: "ok".into() }))
    } else {
        Err(down())
    }
}

/// Metrics
///
/// Prometheus text format: requests by route pattern and status, latency histograms, and the
/// database pool's use.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_metrics",
    responses(
        (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"),
    ),
    security(())
)]
#[get("/metrics")]
pub async fn get_metrics(state: web::Data<AppState>, metrics: web::Data<Metrics>) -> Result<HttpResponse, ApiError> {
    let status = state.pool.status();
    metrics.pool_size.set(i64::try_from(status.size).unwrap_or(i64::MAX));
    metrics
        .pool_available
        .set(i64::try_from(status.available).unwrap_or(i64::MAX));
    metrics
        .pool_waiting
        .set(i64::try_from(status.waiting).unwrap_or(i64::MAX));
    // The outage counts are the process's; the counters catch up with them at each scrape.
    let catch_up = |counter: &IntCounter, total: u64| counter.inc_by(total.saturating_sub(counter.get()));
    let outage = crate::db::outage::counts();
    catch_up(
        &metrics.db_unavailable.with_label_values(&["unreachable"]),
        outage.unreachable_answers,
    );
    catch_up(
        &metrics.db_unavailable.with_label_values(&["busy"]),
        outage.busy_answers,
    );
    catch_up(&metrics.db_outages, outage.outages);
    catch_up(&metrics.request_timeouts, crate::http::limits::timed_out_requests());
    metrics.db_reachable.set(i64::from(!outage.down));
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&metrics.registry.gather(), &mut out)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(out))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_health).service(get_readiness).service(get_metrics);
}
