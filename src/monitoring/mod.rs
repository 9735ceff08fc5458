//! The remote-monitoring ledger: episodes, interactions, and the day and minute counts with
//! the codes they support, computed by `ledger`. See docs/monitoring.md.

pub mod dto;
pub mod handlers;
pub mod ledger;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::create_monitoring_episode)
        .service(handlers::update_monitoring_episode)
        .service(handlers::create_interaction)
        .service(handlers::update_interaction)
        .service(handlers::delete_interaction)
        .service(handlers::get_client_monitoring)
        .service(handlers::list_monitoring);
}
