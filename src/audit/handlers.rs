//! `GET /v1/audit-events`, `GET /v1/clients/{id}/access-log` and `GET /v1/me/access-log`.

use super::dto::*;
use super::queries::{self, Filter};
use super::sink::AuditRow;
use crate::auth::{Caller, Permission, Role};
use crate::clients::queries as client_queries;
use crate::error::{ApiError, Problem, Validator};
use crate::http::pagination::{Page, PageParams};
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use uuid::Uuid;

fn response(r: AuditRow) -> AuditEventResponse {
    AuditEventResponse {
        id: r.id,
        occurred_at: r.occurred_at,
        actor: AuditActor {
            kind: r.actor_kind,
            id: r.actor_id,
            role: r.actor_role.and_then(|role| role.parse::<Role>().ok()),
        },
        action: r.action,
        resource: AuditResource {
            kind: r.resource_type,
            id: r.resource_id,
        },
        client_ids: r.client_ids,
        request_id: r.request_id,
        ip: r.ip,
        user_agent: r.user_agent,
        status: u16::try_from(r.status).unwrap_or(0),
    }
}

fn filter(q: ListAuditEventsQuery) -> Result<Filter, ApiError> {
    let mut v = Validator::new();
    if let Some(action) = &q.action {
        v.check(
            !action.is_empty()
                && action.len() <= 100
                && action
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()),
            "action",
            "must be an operation id such as `get_client` (lower case letters, digits and `_`, at most 100)",
        );
    }
    if let (Some(from), Some(to)) = (q.from, q.to) {
        v.check(to >= from, "to", "must not be before `from`");
    }
    v.finish()?;
    Ok(Filter {
        client_id: q.client_id,
        actor_id: q.actor_id,
        action: q.action,
        from: q.from,
        to: q.to,
        succeeded: false,
    })
}

/// List audit events
///
/// The clinic's audit trail, newest first: every read or change of a client's data, sign-ins
/// (failed ones too), refusals (403) and changes to keys, webhooks and memberships. Filter by
/// client, actor, action and time (`from` inclusive, `to` exclusive). Events hold ids, never
/// names or free text. Admins (`audit:read`).
#[utoipa::path(
    tag = "audit",
    operation_id = "list_audit_events",
    params(ListAuditEventsQuery, PageParams),
    responses(
        (status = 200, description = "A page of audit events, newest first", body = Page<AuditEventResponse>),
        (status = 422, description = "`action` is not an operation id, or `to` is before `from`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["audit:read"]))
)]
#[get("/v1/audit-events")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListAuditEventsQuery>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::AuditRead)?;
    let limit = page.limit()?;
    let before = page.after::<Uuid>()?;
    let f = filter(query.into_inner())?;
    if let Some(c) = f.client_id {
        crate::audit::note::client(c);
    }
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, caller.clinic_id, &f, before, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, response)))
}

/// A client's access log
///
/// Who read or changed this client's record, and when, newest first (the audit events that
/// name the client). Admins (`audit:read`).
#[utoipa::path(
    tag = "audit",
    operation_id = "get_client_access_log",
    params(("id" = Uuid, Path, description = "The client's id"), PageParams),
    responses(
        (status = 200, description = "A page of audit events, newest first", body = Page<AuditEventResponse>),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["audit:read"]))
)]
#[get("/v1/clients/{id}/access-log")]
pub async fn get_client_access_log(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::AuditRead)?;
    let limit = page.limit()?;
    let before = page.after::<Uuid>()?;
    let mut conn = state.conn().await?;
    client_queries::find(&mut conn, caller.clinic_id, *id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("client"))?;
    let f = Filter {
        client_id: Some(*id),
        ..Filter::default()
    };
    let rows = queries::list(&mut conn, caller.clinic_id, &f, before, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, response)))
}

/// The access-log entries of `client_id` with the actors named as the client may see them.
pub async fn access_log_entries(
    conn: &mut diesel_async::AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    rows: Vec<AuditRow>,
) -> Result<Vec<AccessLogEntry>, ApiError> {
    let mut ids: Vec<Uuid> = rows.iter().filter_map(|r| r.actor_id).collect();
    ids.sort();
    ids.dedup();
    let names = queries::actor_names(conn, clinic_id, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let named = r.actor_id.and_then(|id| names.get(&id));
            let is_self = named.is_some_and(|n| n.client_id == Some(client_id));
            // Another client's identity is never shown.
            let visible = named.filter(|n| n.role != Some(Role::Client) || n.client_id == Some(client_id));
            AccessLogEntry {
                id: r.id,
                occurred_at: r.occurred_at,
                actor: AccessLogActor {
                    kind: r.actor_kind,
                    name: visible.map(|n| n.name.clone()),
                    role: visible.and_then(|n| n.role),
                    is_self,
                },
                action: r.action,
                status: u16::try_from(r.status).unwrap_or(0),
            }
        })
        .collect())
}

/// My access log
///
/// For a client's login: who read or changed their record, and when, by name and role, newest
/// first (requests that succeeded; a refused or failed one read nothing). Another client is
/// never named.
#[utoipa::path(
    tag = "me",
    operation_id = "get_my_access_log",
    params(PageParams),
    responses(
        (status = 200, description = "A page of access-log entries, newest first", body = Page<AccessLogEntry>),
        (status = 403, description = "The caller is not a client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/me/access-log")]
pub async fn get_my_access_log(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let client_id = caller.require_own_client("access-log")?;
    let limit = page.limit()?;
    let before = page.after::<Uuid>()?;
    let mut conn = state.conn().await?;
    let f = Filter {
        client_id: Some(client_id),
        succeeded: true,
        ..Filter::default()
    };
    let rows = queries::list(&mut conn, caller.clinic_id, &f, before, limit).await?;
    let page = Page::from_rows(rows, limit, |r| r.id, |r| r);
    let items = access_log_entries(&mut conn, caller.clinic_id, client_id, page.items).await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}
