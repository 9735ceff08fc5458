//! Outcome measures: questionnaire definitions (built-in PSFS and LEFS, and the clinic's own),
//! scored by one engine (`scoring`), assigned on a schedule, answered offline-safely, and
//! summarised as score series. See docs/outcomes.md.

pub mod builtin;
pub mod dto;
pub mod handlers;
pub mod queries;
pub mod scoring;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_questionnaires)
        .service(handlers::create_questionnaire)
        .service(handlers::get_questionnaire)
        .service(handlers::create_questionnaire_assignment)
        .service(handlers::list_questionnaire_assignments)
        .service(handlers::update_questionnaire_assignment)
        .service(handlers::list_my_due_questionnaires)
        .service(handlers::create_questionnaire_response)
        .service(handlers::get_client_outcomes)
        .service(handlers::get_my_outcomes);
}
