//! The one place where every feature's endpoints are mounted.

use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.configure(crate::ops::configure)
        .configure(crate::clinics::configure)
        .configure(crate::oauth::configure)
        .configure(crate::invitations::configure)
        .configure(crate::me::configure)
        .configure(crate::practitioners::configure)
        .configure(crate::clients::configure)
        .configure(crate::exercises::configure)
        .configure(crate::routines::configure)
        .configure(crate::assignments::configure)
        .configure(crate::calendar::configure)
        .configure(crate::handouts::configure)
        .configure(crate::sessions::configure)
        .configure(crate::progress::configure)
        .configure(crate::outcomes::configure)
        .configure(crate::monitoring::configure)
        .configure(crate::api_keys::configure)
        .configure(crate::events::configure)
        .configure(crate::webhooks::configure)
        .configure(crate::audit::configure)
        .configure(crate::export::configure)
        .configure(crate::fhir::configure)
        .configure(crate::erasure::configure);
}
