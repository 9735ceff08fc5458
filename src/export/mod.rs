//! A client's whole record as one JSON document (`rehabit-export/1`), for subject-access and
//! portability requests: `GET /v1/clients/{id}/export` and `GET /v1/me/export`.
//!
//! The document is read from one consistent snapshot (a `REPEATABLE READ, READ ONLY`
//! transaction on a connection of its own) and streamed as it is read, in pages, so memory
//! stays flat however many years of logs the client has. It ends with `"complete": true`; a
//! document without it was cut off. The format is described in `docs/stewardship.md`.

pub mod document;
pub mod handlers;

/// Every table holding a client's data, and where the export shows it. The stewardship tests
/// compare this with the database: a new table with a `client_id` column must be added here
/// (and to `erasure::TABLES`) before they pass.
pub const CLIENT_TABLES: &[(&str, &str)] = &[
    ("clients", "client"),
    ("memberships", "client.login (the client's login membership)"),
    ("users", "client.login.email"),
    ("assignments", "assignments"),
    (
        "assignment_items",
        "assignments[].items and assignments[].removed_items",
    ),
    ("assignment_pauses", "assignments[].pauses"),
    ("session_logs", "sessions"),
    ("session_entries", "sessions[].entries"),
    ("session_measurements", "sessions[].measurements"),
    ("questionnaire_assignments", "questionnaire_assignments"),
    (
        "questionnaire_responses",
        "questionnaire_responses (item-level answers included) and progress.outcomes",
    ),
    (
        "monitoring_episodes",
        "monitoring.episodes (with their periods, months and codes)",
    ),
    ("monitoring_interactions", "monitoring.interactions"),
    ("calendar_feeds", "calendar_feeds (without the token)"),
    ("audit_events", "access_log"),
];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::export_client).service(handlers::export_my_data);
}
