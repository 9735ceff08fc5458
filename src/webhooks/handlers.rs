use crate::auth::{Caller, Permission};
use crate::error::{ApiError, Problem, Validator};
use crate::events::EventType;
use crate::http::etag::{IfMatch, with_etag};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageParams};
use crate::secrets::random_token;
use crate::state::AppState;
use crate::webhooks::dto::*;
use crate::webhooks::queries::{self, AttemptRow, DeliveryRow, NewDelivery, NewWebhook, WebhookChanges, WebhookRow};
use crate::webhooks::{target, worker::PREVIOUS_SECRET_GRACE};
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use uuid::Uuid;

const SECRET_PREFIX: &str = "whsec_";

impl WebhookRow {
    pub fn into_response(self) -> WebhookResponse {
        WebhookResponse {
            id: self.id,
            url: self.url,
            description: self.description,
            events: self.event_types,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            disabled_at: self.disabled_at,
            previous_secret_expires_at: self.previous_secret_expires_at.filter(|t| *t > Utc::now()),
            created_by: match (self.created_by_membership, self.created_by_api_key) {
                (Some(id), _) => Some(CreatorResponse {
                    kind: CreatorKind::Practitioner,
                    id,
                }),
                (None, Some(id)) => Some(CreatorResponse {
                    kind: CreatorKind::ApiKey,
                    id,
                }),
                (None, None) => None,
            },
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

fn delivery_response(d: DeliveryRow, attempts: &[AttemptRow]) -> DeliveryResponse {
    DeliveryResponse {
        id: d.id,
        webhook_id: d.webhook_id,
        event_id: d.event_id,
        event_type: d.event_type,
        state: d.state,
        next_attempt_at: d.next_attempt_at.filter(|_| d.state == DeliveryState::Pending),
        redelivery_of: d.redelivery_of,
        created_at: d.created_at,
        completed_at: d.completed_at,
        attempts: attempts
            .iter()
            .filter(|a| a.delivery_id == d.id)
            .map(|a| AttemptResponse {
                attempted_at: a.attempted_at,
                status_code: a.status_code.and_then(|s| u16::try_from(s).ok()),
                duration_ms: a.duration_ms,
                error: a.error.clone(),
            })
            .collect(),
    }
}

fn answer(mut res: actix_web::HttpResponseBuilder, w: WebhookResponse) -> HttpResponse {
    with_etag(&mut res, w.version);
    res.json(w)
}

fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", random_token(32))
}

fn event_names(events: Vec<EventType>) -> Vec<String> {
    let mut events = events;
    events.sort();
    events.dedup();
    events.into_iter().map(|e| e.as_str().to_string()).collect()
}

/// List webhook endpoints
///
/// The clinic's endpoints in the order they were registered (secrets are never listed).
#[utoipa::path(
    tag = "webhooks",
    operation_id = "list_webhooks",
    params(PageParams),
    responses(
        (status = 200, description = "A page of endpoints", body = Page<WebhookResponse>),
    ),
    security(("bearer" = ["webhooks:read"]))
)]
#[get("/v1/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::WebhooksRead)?;
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, caller.clinic_id, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, WebhookRow::into_response)))
}

/// Register a webhook endpoint
///
/// From now on every event of the listed types is POSTed to `url` as `{id, type, occurred_at,
/// data}` with `Rehabit-Event-Id`, `Rehabit-Timestamp` and `Rehabit-Signature` headers; a 2xx
/// within 10 seconds is success, anything else is retried with exponential backoff for three
/// days. The answer carries the signing secret, shown only here. Plain `http` is accepted. With
/// `WEBHOOK_BLOCK_PRIVATE_NETWORKS=true` private and loopback targets are refused (422).
///
/// An `Idempotency-Key` replay answers the same endpoint and secret to the same caller (the
/// secret is kept by the service anyway: it signs every delivery).
#[utoipa::path(
    tag = "webhooks",
    operation_id = "create_webhook",
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "The new endpoint, with its signing secret (shown once)", body = CreatedWebhookResponse,
            headers(("Location" = String, description = "The new endpoint"), ("ETag" = String, description = "Its version"))),
        (status = 403, description = "Needs `webhooks:write`, and to read every event type subscribed to (`events:read` and the permission of its resource)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule (a bad or refused URL, an unknown event type)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:write"]))
)]
#[post("/v1/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CreateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::WebhooksWrite)?;
    let body = body.into_inner();
    let mut v = Validator::new();
    let url = v.parse(
        "url",
        target::parse_url(&body.url, state.config.webhook_block_private_networks),
    );
    v.check(!body.events.is_empty(), "events", "must name at least one event type");
    let description = parse_description(body.description.as_deref().unwrap_or(""), &mut v);
    v.finish()?;
    EventType::require_readable(&body.events, caller.permissions, "Subscribing to")?;
    let (Some(url), Some(description)) = (url, description) else {
        return Err(ApiError::internal("validated webhook fields missing"));
    };
    let secret = new_secret();
    let mut conn = state.conn().await?;
    let new = NewWebhook {
        id: Uuid::now_v7(),
        clinic_id: caller.clinic_id,
        url: url.as_str(),
        description: &description,
        event_types: event_names(body.events),
        secret: &secret,
        created_by_membership: caller.practitioner_id(),
        created_by_api_key: caller.api_key_id(),
    };
    crate::audit::note::resource("webhook", new.id);
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let row = queries::insert(conn, &new).await?;
            crate::audit::record(conn).await?;
            Ok(row)
        })
        .await?;
    let mut res = HttpResponse::Created();
    res.insert_header((LOCATION, format!("/v1/webhooks/{}", row.id)));
    with_etag(&mut res, row.version);
    Ok(res.json(CreatedWebhookResponse {
        webhook: row.into_response(),
        secret,
    }))
}

/// Get a webhook endpoint
#[utoipa::path(
    tag = "webhooks",
    operation_id = "get_webhook",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookResponse,
            headers(("ETag" = String, description = "The current version"))),
        (status = 404, description = "No such endpoint in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:read"]))
)]
#[get("/v1/webhooks/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::WebhooksRead)?;
    let mut conn = state.conn().await?;
    let row = queries::find(&mut conn, caller.clinic_id, *id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    Ok(answer(HttpResponse::Ok(), row.into_response()))
}

/// Update a webhook endpoint
///
/// JSON Merge Patch. `enabled: true` turns the endpoint back on, also after the service turned
/// it off for failing; deliveries that were waiting go out again. Whoever makes a change must
/// be able to read every event type the endpoint delivers afterwards (403 naming a type
/// otherwise), so a change of URL cannot redirect events the changer may not see. Honours
/// `If-Match`.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "update_webhook",
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body(content = UpdateWebhookRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated endpoint", body = WebhookResponse,
            headers(("ETag" = String, description = "The new version"))),
        (status = 403, description = "Needs `webhooks:write`, and to read every event type the endpoint delivers after the change (`events:read` and the permission of its resource)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:write"]))
)]
#[patch("/v1/webhooks/{id}")]
pub async fn update_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::WebhooksWrite)?;
    let edit = body
        .into_inner()
        .validate(state.config.webhook_block_private_networks)?;
    let (clinic_id, id, permissions) = (caller.clinic_id, *id, caller.permissions);
    let mut conn = state.conn().await?;
    let row = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let current = queries::find(conn, clinic_id, id, true)
                .await?
                .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
            if_match.check(current.version)?;
            // Whoever changes an endpoint (its URL included) must be able to read everything
            // it will deliver: otherwise a change could redirect events the changer may not see.
            let subscribed: Vec<EventType> = match &edit.events {
                Some(e) => e.clone(),
                None => current.event_types.iter().filter_map(|t| t.parse().ok()).collect(),
            };
            EventType::require_readable(&subscribed, permissions, "Delivering")?;
            let mut changes = WebhookChanges {
                url: edit.url.filter(|u| *u != current.url),
                description: edit.description.filter(|d| *d != current.description),
                event_types: edit.events.map(event_names).filter(|e| *e != current.event_types),
                enabled: edit.enabled.filter(|e| *e != current.enabled),
                ..Default::default()
            };
            if changes.is_empty() {
                return Ok(current);
            }
            if changes.enabled.is_some() {
                // Turned on or off by a person: the service's reason no longer applies.
                changes.disabled_reason = Some(None);
                changes.disabled_at = Some((changes.enabled == Some(false)).then(Utc::now));
                changes.failing_since = Some(None);
            }
            let row = queries::update(conn, id, &changes).await?;
            crate::audit::record(conn).await?;
            Ok(row)
        })
        .await?;
    Ok(answer(HttpResponse::Ok(), row.into_response()))
}

/// Delete a webhook endpoint
///
/// The endpoint and its deliveries are gone; nothing more is sent to it. Honours `If-Match`.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "delete_webhook",
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such endpoint in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:write"]))
)]
#[delete("/v1/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::WebhooksWrite)?;
    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async move |conn| {
        let current = queries::find(conn, clinic_id, id, true)
            .await?
            .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
        if_match.check(current.version)?;
        queries::delete(conn, id).await?;
        crate::audit::record(conn).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate a webhook's signing secret
///
/// Answers a new secret, shown only here. For the next 24 hours deliveries carry two `v1`
/// signatures, one per secret, so the receiver can switch to the new secret without losing any.
/// An `Idempotency-Key` replay answers the same new secret without rotating again.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "rotate_webhook_secret",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The new secret (shown once)", body = RotatedSecretResponse),
        (status = 404, description = "No such endpoint in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:write"]))
)]
#[post("/v1/webhooks/{id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::WebhooksWrite)?;
    let (clinic_id, id) = (caller.clinic_id, *id);
    let secret = new_secret();
    let until = Utc::now() + PREVIOUS_SECRET_GRACE;
    let mut conn = state.conn().await?;
    let rotated = secret.clone();
    conn.transaction::<_, ApiError, _>(async move |conn| {
        queries::find(conn, clinic_id, id, true)
            .await?
            .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
        queries::rotate_secret(conn, id, &rotated, until).await?;
        crate::audit::record(conn).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(RotatedSecretResponse {
        secret,
        previous_secret_expires_at: until,
    }))
}

/// Send a test event
///
/// Queues a `ping` event for this endpoint (`data: {webhook_id, message}`), signed like every
/// delivery; see its outcome under the endpoint's deliveries. The endpoint must be enabled.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "ping_webhook",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 202, description = "The queued delivery", body = DeliveryResponse),
        (status = 404, description = "No such endpoint in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The endpoint is disabled, or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:write"]))
)]
#[post("/v1/webhooks/{id}/ping")]
pub async fn ping_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::WebhooksWrite)?;
    let mut conn = state.conn().await?;
    let webhook = queries::find(&mut conn, caller.clinic_id, *id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    if !webhook.enabled {
        return Err(ApiError::conflict(
            "The endpoint is disabled; turn it on with PATCH {\"enabled\": true} first.",
        ));
    }
    let event_id = Uuid::now_v7();
    let now = Utc::now();
    let payload = serde_json::json!({
        "id": event_id,
        "type": "ping",
        "occurred_at": crate::http::timestamp::format(&now),
        "data": {"webhook_id": webhook.id, "message": "A test event from Rehabit."},
    });
    let row = queries::insert_delivery(
        &mut conn,
        &NewDelivery {
            id: Uuid::now_v7(),
            clinic_id: caller.clinic_id,
            webhook_id: webhook.id,
            event_id,
            event_type: "ping",
            payload: Some(&payload),
            next_attempt_at: now,
            redelivery_of: None,
        },
    )
    .await?;
    Ok(HttpResponse::Accepted().json(delivery_response(row, &[])))
}

/// List a webhook's deliveries
///
/// Newest first, each with every attempt: when, the answer's status, how long it took and what
/// went wrong.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "list_webhook_deliveries",
    params(("id" = Uuid, Path, description = "The endpoint's id"), ListDeliveriesQuery, PageParams),
    responses(
        (status = 200, description = "A page of deliveries", body = Page<DeliveryResponse>),
        (status = 404, description = "No such endpoint in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:read"]))
)]
#[get("/v1/webhooks/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    filter: web::Query<ListDeliveriesQuery>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::WebhooksRead)?;
    let limit = page.limit()?;
    let before = page.after::<Uuid>()?;
    let mut conn = state.conn().await?;
    queries::find(&mut conn, caller.clinic_id, *id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    let rows = queries::deliveries(&mut conn, caller.clinic_id, *id, filter.state, before, limit).await?;
    let ids: Vec<Uuid> = rows.iter().map(|d| d.id).collect();
    let attempts = queries::attempts_of(&mut conn, caller.clinic_id, &ids).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |d| d.id,
        |d| delivery_response(d, &attempts),
    )))
}

/// Redeliver an event
///
/// Queues the delivery's event again for this endpoint as a new delivery (same event id and
/// body, a fresh retry window), whatever became of the first. The endpoint must be enabled.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "redeliver_webhook_delivery",
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        ("delivery_id" = Uuid, Path, description = "The delivery to repeat"),
    ),
    responses(
        (status = 202, description = "The new delivery", body = DeliveryResponse),
        (status = 404, description = "No such endpoint or delivery in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The endpoint is disabled, or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:write"]))
)]
#[post("/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver")]
pub async fn redeliver_webhook_delivery(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::WebhooksWrite)?;
    let (webhook_id, delivery_id) = path.into_inner();
    let mut conn = state.conn().await?;
    let webhook = queries::find(&mut conn, caller.clinic_id, webhook_id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    let original = queries::delivery(&mut conn, caller.clinic_id, webhook_id, delivery_id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    if !webhook.enabled {
        return Err(ApiError::conflict(
            "The endpoint is disabled; turn it on with PATCH {\"enabled\": true} first.",
        ));
    }
    let row = queries::insert_delivery(
        &mut conn,
        &NewDelivery {
            id: Uuid::now_v7(),
            clinic_id: caller.clinic_id,
            webhook_id,
            event_id: original.event_id,
            event_type: &original.event_type,
            payload: original.payload.as_ref(),
            next_attempt_at: Utc::now(),
            redelivery_of: Some(original.id),
        },
    )
    .await?;
    Ok(HttpResponse::Accepted().json(delivery_response(row, &[])))
}
