//! Clinics, the tenants, and sign-up: `POST /v1/clinics` creates a clinic with its first admin.

pub mod dto;
pub mod handlers;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::create_clinic);
}
