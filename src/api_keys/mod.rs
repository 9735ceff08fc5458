//! API keys: server-to-server credentials of a clinic, each with a set of scopes (permissions),
//! stored only as hashes. Their lookup and rate limits belong to authentication (`auth::keys`,
//! `auth::rate_limit`).

pub mod dto;
pub mod handlers;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_api_keys)
        .service(handlers::create_api_key)
        .service(handlers::delete_api_key);
}
