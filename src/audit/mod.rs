//! The audit trail: who read or changed whose data, when, from where, and how it ended.
//!
//! One hook covers every route: [`middleware`] opens a [`note`] for each request to a documented
//! operation (all of them but the few in [`routes::EXEMPT`]) and, when the answer is sent, turns
//! it into one audit event. Handlers only add facts to the note (the client behind an
//! assignment, the clients a list returned). Where the event is written:
//! - a change: inside its own transaction. [`crate::events::emit`] calls [`record`], so every
//!   change that reaches the outbox is audited with it; writes without an event (keys,
//!   webhooks) call [`record`] themselves. If the transaction rolls back, so does the event,
//!   and the middleware records the failed request instead.
//! - everything else (reads, refusals, failures, sign-ins): the middleware hands the event to
//!   the [`sink::Sink`], which writes batches in the background, at most a second later.
//!
//! Events never hold names, emails or free text. The table is append-only (a trigger refuses
//! UPDATE and DELETE outside the retention purge) and [`chain`] links each clinic's events by
//! SHA-256 so that `rehabit audit verify` can name the first altered or missing one.

pub mod chain;
pub mod dto;
pub mod handlers;
pub mod note;
pub mod queries;
pub mod routes;
pub mod sink;

pub use note::{Actor, Note};
pub use sink::{AuditRow, Sink};

use crate::db::schema::audit_events;
use crate::state::AppState;
use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::USER_AGENT;
use actix_web::middleware::Next;
use actix_web::web;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::cell::RefCell;
use std::rc::Rc;
use uuid::Uuid;

/// The rows a note amounts to with this status (one per clinic; none without an actor).
fn rows(n: &Note, status: u16) -> Vec<AuditRow> {
    let Some((actor, clinics)) = n.actor() else {
        return Vec::new();
    };
    let now = Utc::now();
    clinics
        .into_iter()
        .map(|clinic_id| AuditRow {
            clinic_id,
            id: Uuid::now_v7(),
            occurred_at: now,
            actor_kind: actor.kind.to_string(),
            actor_id: actor.id,
            actor_role: actor.role.map(|r| r.as_str().to_string()),
            action: n.action.clone(),
            resource_type: n.resource.as_ref().map(|(t, _)| t.clone()),
            resource_id: n.resource.as_ref().map(|(_, id)| *id),
            client_ids: n.client_ids.clone(),
            request_id: n.origin.request_id,
            ip: n.origin.ip.clone(),
            user_agent: n.origin.user_agent.clone(),
            status: i16::try_from(status).unwrap_or(i16::MAX),
        })
        .collect()
}

/// Records the request's audit event in the caller's transaction (once per request; later
/// calls and calls outside a request do nothing). The event says the operation succeeded: if
/// the transaction rolls back, the middleware records the failure instead.
pub async fn record(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    let pending = note::with(|n| {
        if n.written || !(n.audited || n.acting.is_some()) {
            return Vec::new();
        }
        n.resolve_caller();
        let rows = rows(n, n.success_status);
        n.written = !rows.is_empty();
        rows
    })
    .unwrap_or_default();
    if pending.is_empty() {
        return Ok(());
    }
    let inserted = diesel::insert_into(audit_events::table)
        .values(&pending)
        .execute(conn)
        .await;
    if inserted.is_err() {
        note::with(|n| n.written = false);
    }
    inserted.map(|_| ())
}

/// The audit hook (wrap with `actix_web::middleware::from_fn`).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(route) = crate::http::routes::of_request(&req) else {
        // Not a documented operation (a 404 or 405 of the default service, the docs' assets).
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let mut n = Note {
        action: route.operation_id.clone(),
        audited: routes::is_audited(&route.operation_id),
        success_status: route.success_status,
        own_record: route.is_me(),
        origin: note::Origin {
            request_id: req
                .extensions()
                .get::<tracing_actix_web::RequestId>()
                .map(|id| Uuid::from(*id)),
            ip: req.peer_addr().map(|a| a.ip().to_string()),
            user_agent: req
                .headers()
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(512).collect()),
        },
        ..Note::default()
    };
    // The path names the resource: the record after the last parameter's collection.
    for (collection, value) in route.params(req.path()) {
        if let Ok(id) = value.parse::<Uuid>() {
            n.set_resource(&routes::singular(collection), id, 0);
            if collection == "clients" {
                n.add_client(id);
            }
        }
    }
    let n = Rc::new(RefCell::new(n));
    let res = note::scope(n.clone(), next.call(req)).await?;
    let status = res.status();
    let mut n = n.take();
    // After the handler, the caller the extractor found is in the request itself.
    if n.caller.is_none() {
        n.caller = res.request().extensions().get::<crate::auth::Caller>().cloned();
    }
    n.resolve_caller();
    // A request refused before its handler ran (a body that does not parse) never met the
    // `Caller` extractor: who sent it is still worth knowing. Bad credentials (401) stay
    // anonymous, and cost nothing more.
    if n.caller.is_none()
        && n.audited
        && status != StatusCode::UNAUTHORIZED
        && crate::auth::extractor::has_credential(res.request())
    {
        n.caller = crate::auth::extractor::authenticate(res.request()).await.ok();
        n.resolve_caller();
    }
    // Refusals are audited on every route; sign-ins where their handler names the actor.
    let audited = n.audited || n.acting.is_some() || status.as_u16() == 403;
    if audited && !(n.written && status.is_success()) {
        let rows = rows(&n, status.as_u16());
        if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
            state.audit.push(rows);
        }
    }
    Ok(res.map_into_boxed_body())
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_audit_events)
        .service(handlers::get_client_access_log)
        .service(handlers::get_my_access_log);
}
