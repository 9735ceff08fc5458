//! Session logs: what clients did, with offline-safe retries, flags and reviews.

pub mod dto;
pub mod handlers;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::create_session)
        .service(handlers::list_client_sessions)
        .service(handlers::list_my_sessions)
        .service(handlers::list_sessions)
        .service(handlers::get_session)
        .service(handlers::update_session)
        .service(handlers::delete_session)
        .service(handlers::review_session);
}
