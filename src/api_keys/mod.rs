//! API keys: server-to-server credentials of a clinic, each with a set of scopes (permissions),
//! stored only as hashes, rate limited per key.

pub mod dto;
pub mod handlers;
pub mod queries;
pub mod rate_limit;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_api_keys)
        .service(handlers::create_api_key)
        .service(handlers::delete_api_key);
}
