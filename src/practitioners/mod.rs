//! Practitioners: the staff memberships of a clinic (role admin or practitioner).

pub mod dto;
pub mod handlers;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_practitioners)
        .service(handlers::create_practitioner)
        .service(handlers::get_practitioner)
        .service(handlers::update_practitioner)
        .service(handlers::create_practitioner_invitation)
        .service(handlers::upsert_practitioner);
}
