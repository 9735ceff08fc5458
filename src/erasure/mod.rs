//! Erasure (GDPR art. 17): `POST /v1/clients/{id}/erase` removes a client's personal data from
//! every table in one transaction. Irreversible; archiving stays the default (clinical records
//! must often be kept for years), so the docs send clinics to archiving first.

pub mod handlers;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::erase_client);
}

/// Every table that holds, or once held, a person's data, and what erasure does to it. The
/// stewardship tests compare this with the database: a new table with a `client_id` column
/// must be added here (and to `export::CLIENT_TABLES`) before they pass. docs/stewardship.md
/// shows the same list.
pub const TABLES: &[(&str, &str)] = &[
    (
        "clients",
        "deleted: the client record (name, email, timezone, external id)",
    ),
    (
        "memberships",
        "deleted: the client's login membership (its name is the client's)",
    ),
    (
        "users",
        "deleted: the login, only when it has no membership in another clinic",
    ),
    (
        "token_families",
        "deleted: the login's sign-ins in this clinic, so its tokens stop working at once",
    ),
    ("refresh_tokens", "deleted with their sign-ins"),
    ("invitations", "deleted: the client's invitations"),
    (
        "login_throttle",
        "deleted: the failed-sign-in counter of a deleted login's email",
    ),
    ("assignments", "deleted: the client's homework"),
    ("assignment_items", "deleted with their assignments (notes included)"),
    ("assignment_pauses", "deleted with their assignments"),
    (
        "session_logs",
        "deleted: every log, deleted ones too (notes, pain, reviews)",
    ),
    ("session_entries", "deleted with their logs"),
    ("session_measurements", "deleted with their logs"),
    (
        "questionnaire_responses",
        "deleted: every response with its item-level answers",
    ),
    (
        "questionnaire_assignments",
        "deleted: the client's questionnaire schedules",
    ),
    (
        "monitoring_episodes",
        "deleted: the client's remote-monitoring episodes",
    ),
    (
        "monitoring_interactions",
        "deleted: the clinic's recorded interactions with the client",
    ),
    (
        "calendar_feeds",
        "deleted: the client's calendar feed (its URL stops working)",
    ),
    (
        "reminder_emissions",
        "deleted with their assignments: which reminder events were sent (the events are scrubbed)",
    ),
    (
        "idempotency_keys",
        "deleted: stored answers the client's login got, and any naming the client",
    ),
    (
        "events",
        "scrubbed: payloads about the client keep type, ids and time only; a `client.erased` event is added",
    ),
    (
        "webhook_deliveries",
        "scrubbed: the bodies of those events, the same way",
    ),
    (
        "webhook_attempts",
        "kept: status codes, durations and the service's own error texts",
    ),
    (
        "audit_events",
        "kept: ids, actions and statuses only, never names or free text",
    ),
    (
        "erased_activity_weekly",
        "added to: the client's logged sessions per week, without any id",
    ),
];
