//! Calendar feeds (issue 17): one per client, subscribed to by phone calendars through a URL
//! that holds a secret token. See docs/calendar.md.

pub mod handlers;
pub mod ics;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::create_client_calendar)
        .service(handlers::delete_client_calendar)
        .service(handlers::create_my_calendar)
        .service(handlers::delete_my_calendar)
        .service(handlers::get_calendar_feed);
}
