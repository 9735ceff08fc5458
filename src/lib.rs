//! Rehabit: an API-first home exercise program service.
//!
//! [`build_app`] assembles the actix application; `main.rs` serves it and the tests drive it
//! in-process.

pub mod api_keys;
pub mod assignments;
pub mod audit;
pub mod auth;
pub mod calendar;
pub mod cli;
pub mod clients;
pub mod clinics;
pub mod config;
pub mod db;
pub mod demo;
pub mod erasure;
pub mod error;
pub mod events;
pub mod exercises;
pub mod export;
pub mod fhir;
pub mod handouts;
pub mod housekeeping;
pub mod http;
pub mod invitations;
pub mod library;
pub mod me;
pub mod monitoring;
pub mod oauth;
pub mod openapi;
pub mod ops;
pub mod outcomes;
pub mod practitioners;
pub mod progress;
pub mod reminders;
pub mod routes;
pub mod routines;
pub mod secrets;
pub mod sessions;
pub mod shutdown;
pub mod state;
pub mod telemetry;
pub mod values;
pub mod webhooks;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, web};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use state::AppState;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

/// The OpenAPI document, generated from the routes themselves.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .configure(routes::configure)
        .split_for_parts();
    openapi::finish(doc)
}

/// Request metrics shared by all workers of one server.
pub fn request_metrics(metrics: &ops::Metrics) -> Result<PrometheusMetrics, String> {
    PrometheusMetricsBuilder::new("rehabit")
        .registry(metrics.registry.clone())
        .mask_unmatched_patterns("UNMATCHED")
        .exclude_regex("^/swagger-ui")
        .build()
        .map_err(|e| e.to_string())
}

/// The interactive docs' settings: the page makes no request outside this service (no online
/// validator of the document).
fn docs_config() -> utoipa_swagger_ui::Config<'static> {
    utoipa_swagger_ui::Config::default().validator_url("none")
}

/// The whole application: routes, documentation, conventions and middleware.
pub fn build_app(
    state: AppState,
    metrics: ops::Metrics,
    request_metrics: PrometheusMetrics,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, doc) = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .configure(routes::configure)
        .split_for_parts();
    let doc = openapi::finish(doc);
    let routes = http::routes::Routes::from_openapi(&doc);
    let query_rules = http::query::QueryRules::from_openapi(&doc);
    // Registered once per registry; the other workers of the server find it there.
    let _ = metrics.registry.register(Box::new(state.audit.unwritten.clone()));
    // The caller cache on its own, so `auth` needs nothing of the state that holds it.
    app.app_data(web::Data::from(std::sync::Arc::clone(&state.auth_cache)))
        .app_data(web::Data::new(state))
        .app_data(web::Data::new(routes))
        .app_data(web::Data::new(query_rules))
        .app_data(web::Data::new(metrics))
        .app_data(web::QueryConfig::default().error_handler(http::rejections::query_error_handler))
        .app_data(web::PathConfig::default().error_handler(http::rejections::path_error_handler))
        .app_data(web::FormConfig::default().error_handler(http::rejections::form_error_handler))
        .service(
            SwaggerUi::new("/swagger-ui/{_:.*}")
                .url("/openapi.json", doc)
                .config(docs_config()),
        )
        // The service's root leads to its docs.
        .route(
            "/",
            web::get().to(|| async { HttpResponse::Found().insert_header(("Location", "/docs")).finish() }),
        )
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::Found()
                    .insert_header(("Location", "/swagger-ui/"))
                    .finish()
            }),
        )
        .default_service(web::to(http::rejections::not_found_route))
        .wrap(from_fn(http::idempotency::middleware))
        .wrap(from_fn(auth::cache::middleware))
        .wrap(from_fn(http::query::strict_query))
        .wrap(from_fn(audit::middleware))
        .wrap(from_fn(http::limits::middleware))
        .wrap(from_fn(http::reject_nul))
        .wrap(from_fn(auth::rate_limit::headers_middleware))
        .wrap(request_metrics)
        .wrap(from_fn(http::request_id_header))
        .wrap(actix_web::middleware::Compress::default())
        .wrap(from_fn(http::compression::choose_encoding))
        .wrap(tracing_actix_web::TracingLogger::<telemetry::RootSpan>::new())
}
