//! Clients: the people receiving care, created by practitioners or upserted by booking systems.

pub mod dto;
pub mod handlers;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_clients)
        .service(handlers::create_client)
        .service(handlers::get_client_by_external_id)
        .service(handlers::upsert_client)
        .service(handlers::get_client)
        .service(handlers::update_client)
        .service(handlers::create_client_invitation);
}
