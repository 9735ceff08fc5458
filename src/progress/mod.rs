//! Progress: adherence, streaks, pain, measurements and monitoring windows.

pub mod compute;
pub mod dto;
pub mod handlers;
pub mod queries;
pub mod recent;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::get_client_progress)
        .service(handlers::get_my_progress);
}
