//! Homework: routines given to clients with a schedule in their timezone, and the agenda.

pub mod dto;
pub mod handlers;
pub mod queries;
pub mod schedule;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_client_assignments)
        .service(handlers::create_assignment)
        .service(handlers::get_assignment)
        .service(handlers::update_assignment)
        .service(handlers::list_my_assignments)
        .service(handlers::get_client_agenda)
        .service(handlers::get_my_agenda);
}
