//! Printable handouts of homework and routine templates: the same words as an HTML page or a
//! PDF made in-process (docs/handouts.md says which crates and why).

pub mod content;
pub mod dto;
pub mod handlers;
pub mod html;
pub mod pdf;
pub mod qr;
pub mod queries;

pub use dto::{Format, HandoutQuery, Paper, PdfDocument};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::get_assignment_handout)
        .service(handlers::get_routine_handout);
}
