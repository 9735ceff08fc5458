//! Webhooks: endpoints that receive the clinic's events as signed POSTs, a delivery worker with
//! retries, and the record of every attempt.

pub mod dto;
pub mod handlers;
pub mod queries;
pub mod schedule;
pub mod signing;
pub mod target;
pub mod worker;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_webhooks)
        .service(handlers::create_webhook)
        .service(handlers::get_webhook)
        .service(handlers::update_webhook)
        .service(handlers::delete_webhook)
        .service(handlers::rotate_webhook_secret)
        .service(handlers::ping_webhook)
        .service(handlers::list_webhook_deliveries)
        .service(handlers::redeliver_webhook_delivery);
}
