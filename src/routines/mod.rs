//! Routine templates: ordered exercises with their dosage, created and replaced with all their
//! items in one request. Built-in routines are read-only; a copy makes them the clinic's own.

pub mod dto;
pub mod handlers;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_routines)
        .service(handlers::create_routine)
        .service(handlers::get_routine)
        .service(handlers::replace_routine)
        .service(handlers::update_routine)
        .service(handlers::delete_routine)
        .service(handlers::copy_routine);
}
