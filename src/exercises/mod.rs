//! The exercise library: built-ins (owned by the system clinic, read-only) and each clinic's own
//! exercises, with full-text search, filters, progressions and archiving.

pub mod dto;
pub mod handlers;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_exercises)
        .service(handlers::create_exercise)
        .service(handlers::get_exercise)
        .service(handlers::update_exercise)
        .service(handlers::delete_exercise);
}
