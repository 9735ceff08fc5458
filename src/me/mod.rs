//! `/v1/me`: the signed-in person's own account in the clinic they act in.

pub mod handlers;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::get_me).service(handlers::update_me);
}
