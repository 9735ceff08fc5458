//! Creating, replacing and revoking a client's calendar feed, and serving it as `.ics`.

use super::ics::{self, FeedAssignment};
use super::queries::{self, FeedRow};
use crate::assignments::dto::parse_reminder_time;
use crate::assignments::queries as assignment_queries;
use crate::assignments::schedule::local_date;
use crate::audit::note;
use crate::auth::{Caller, Permission};
use crate::clients::queries as client_queries;
use crate::error::{ApiError, Problem, Validator};
use crate::http::idempotency::StoredBody;
use crate::http::json::OptionalJson;
use crate::secrets::{random_token, sha256};
use crate::state::AppState;
use actix_web::http::header::{self, HttpDate};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Random bytes in a feed token: 256 bits (the contract asks for at least 128).
const TOKEN_BYTES: usize = 32;

/// Options for a new calendar feed.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCalendarRequest {
    /// When the URL stops working; `null` or absent: until replaced or revoked.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new calendar feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarFeedResponse {
    /// The feed's URL, to subscribe to from a calendar app. It is a credential: whoever holds
    /// it reads the homework's schedule. Shown once; `null` in an `Idempotency-Key` replay.
    #[schema(example = "https://api.example.com/v1/calendar/3kF9...Zq.ics", nullable)]
    pub url: Option<String>,
    /// When the URL stops working; `null`: until replaced or revoked.
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    #[schema(nullable)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Makes (or replaces) the feed of `client_id` in the caller's clinic.
async fn create(
    state: &AppState,
    caller: &Caller,
    client_id: Uuid,
    body: Option<CreateCalendarRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.unwrap_or_default();
    let mut v = Validator::new();
    if let Some(at) = body.expires_at {
        v.check(at > Utc::now(), "expires_at", "must be in the future");
    }
    v.finish()?;
    let token = random_token(TOKEN_BYTES);
    let row = FeedRow {
        id: Uuid::now_v7(),
        clinic_id: caller.clinic_id,
        client_id,
        token_hash: sha256(&token),
        expires_at: body.expires_at,
        created_by: caller.member().ok().map(|m| m.membership_id),
        created_at: Utc::now(),
    };
    note::resource("calendar_feed", row.id);
    note::client(client_id);
    let mut conn = state.conn().await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (client, _) = client_queries::find(conn, caller.clinic_id, client_id, true)
                .await?
                .ok_or_else(|| ApiError::not_found("client"))?;
            if client.archived_at.is_some() {
                return Err(ApiError::conflict(
                    "The client is archived: their homework has no calendar.",
                ));
            }
            let row = queries::replace(conn, &row).await?;
            crate::audit::record(conn).await?;
            Ok(row)
        })
        .await?;
    let mut answer = CalendarFeedResponse {
        url: None,
        expires_at: row.expires_at,
    };
    // A replay answers everything but the URL, which is never stored.
    let stored = serde_json::to_vec(&answer).map_err(ApiError::internal)?;
    answer.url = Some(format!(
        "{}/v1/calendar/{token}.ics",
        state.config.public_base_url.trim_end_matches('/')
    ));
    let mut res = HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(&answer);
    res.extensions_mut().insert(StoredBody(stored));
    Ok(res)
}

async fn revoke(state: &AppState, caller: &Caller, client_id: Uuid) -> Result<HttpResponse, ApiError> {
    note::client(client_id);
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        client_queries::find(conn, caller.clinic_id, client_id, false)
            .await?
            .ok_or_else(|| ApiError::not_found("client"))?;
        queries::revoke(conn, caller.clinic_id, client_id).await?;
        crate::audit::record(conn).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A feed shows the client's homework: staff and keys need `assignments:write` (whose answers
/// already show whole assignments, so it implies reading them); clients use `/v1/me/calendar`.
fn require_feed_access(caller: &Caller) -> Result<(), ApiError> {
    caller.require(Permission::AssignmentsWrite)
}

/// Create a client's calendar feed
///
/// Answers a URL that calendar apps (Google, Apple, Outlook) subscribe to: the client's
/// homework as recurring events in their timezone, with alarms at the schedule's
/// `reminder_times`. One feed per client: posting again replaces it, and the old URL stops
/// working at once. The URL holds a secret token (256 bits; only its hash is kept) and is
/// shown once: an `Idempotency-Key` replay answers `url: null`. Built from the service's
/// `PUBLIC_BASE_URL`, never from the request. Needs `assignments:write` (which implies reading
/// assignments: its answers show them whole).
#[utoipa::path(
    tag = "calendar",
    operation_id = "create_client_calendar",
    params(("id" = Uuid, Path, description = "The client's id")),
    request_body(content = CreateCalendarRequest, description = "Optional"),
    responses(
        (status = 201, description = "The feed's URL (shown once)", body = CalendarFeedResponse),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client is archived, or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`expires_at` is not in the future", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["assignments:write"]))
)]
#[post("/v1/clients/{id}/calendar")]
pub async fn create_client_calendar(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: OptionalJson<CreateCalendarRequest>,
) -> Result<HttpResponse, ApiError> {
    require_feed_access(&caller)?;
    create(&state, &caller, *id, body.0).await
}

/// Revoke a client's calendar feed
///
/// The URL stops working at once (404). Answers 204 whether or not a feed existed. Needs
/// `assignments:write`.
#[utoipa::path(
    tag = "calendar",
    operation_id = "delete_client_calendar",
    params(("id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["assignments:write"]))
)]
#[delete("/v1/clients/{id}/calendar")]
pub async fn delete_client_calendar(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_feed_access(&caller)?;
    revoke(&state, &caller, *id).await
}

/// Create my calendar feed
///
/// For a client's login: a calendar URL for their own homework (see the client calendar).
#[utoipa::path(
    tag = "me",
    operation_id = "create_my_calendar",
    request_body(content = CreateCalendarRequest, description = "Optional"),
    responses(
        (status = 201, description = "The feed's URL (shown once)", body = CalendarFeedResponse),
        (status = 403, description = "The caller is not a client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`expires_at` is not in the future", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/me/calendar")]
pub async fn create_my_calendar(
    state: web::Data<AppState>,
    caller: Caller,
    body: OptionalJson<CreateCalendarRequest>,
) -> Result<HttpResponse, ApiError> {
    let client_id = caller.require_own_client("calendar")?;
    create(&state, &caller, client_id, body.0).await
}

/// Revoke my calendar feed
///
/// For a client's login: their calendar URL stops working at once.
#[utoipa::path(
    tag = "me",
    operation_id = "delete_my_calendar",
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "The caller is not a client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/v1/me/calendar")]
pub async fn delete_my_calendar(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let client_id = caller.require_own_client("calendar")?;
    revoke(&state, &caller, client_id).await
}

/// Loads the feed's homework and renders it; answers the body and when it last changed.
async fn render(conn: &mut AsyncPgConnection, feed: &FeedRow) -> Result<Option<(String, DateTime<Utc>)>, ApiError> {
    let Some((client, _)) = client_queries::find(conn, feed.clinic_id, feed.client_id, false).await? else {
        return Ok(None);
    };
    let tz = client.tz()?;
    let rows = assignment_queries::client_page(conn, feed.clinic_id, feed.client_id, None, i64::MAX).await?;
    let ids: Vec<Uuid> = rows.iter().map(|a| a.id).collect();
    let pauses = assignment_queries::pauses(conn, feed.clinic_id, &ids).await?;
    let mut items = assignment_queries::items(conn, feed.clinic_id, &ids).await?;
    let mut changed = client.updated_at.max(feed.created_at);
    let feed_rows: Vec<FeedAssignment> = rows
        .into_iter()
        .map(|a| {
            changed = changed.max(a.updated_at);
            FeedAssignment {
                id: a.id,
                schedule: a.schedule(&pauses, tz),
                reminders: a.reminder_times.iter().filter_map(|t| parse_reminder_time(t)).collect(),
                exercises: items
                    .remove(&a.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| i.exercise.name)
                    .collect(),
                name: a.name,
                changed_at: a.updated_at,
            }
        })
        .collect();
    for p in &pauses {
        changed = changed.max(p.paused_at).max(p.resumed_at.unwrap_or(p.paused_at));
    }
    let today = local_date(Utc::now(), tz);
    Ok(Some((ics::calendar(tz, today, &feed_rows), changed)))
}

/// A calendar feed
///
/// The client's homework as an iCalendar (RFC 5545) document: one recurring event per
/// assignment and daily session (`UID` `<assignment id>-<slot>@rehabit`), in the client's
/// timezone (with its `VTIMEZONE`), paused days as `EXDATE`s, an alarm at each reminder time.
/// It names the homework and its exercises, never the client, notes or pain. No header is
/// needed: the token in the URL is the credential. An unknown, replaced, revoked or expired
/// token is 404, without saying which. Answers `ETag` and `Last-Modified`, so a calendar app
/// polling every few minutes gets a 304 while nothing changed. Never compressed.
#[utoipa::path(
    tag = "calendar",
    operation_id = "get_calendar_feed",
    params(("token" = String, Path, description = "The secret token of the feed's URL")),
    responses(
        (status = 200, description = "The calendar", content_type = "text/calendar", body = String,
            headers(("ETag" = String, description = "The document's tag, for If-None-Match"),
                    ("Last-Modified" = String, description = "When the homework last changed"))),
        (status = 304, description = "Not modified since the ETag or date the request names"),
        (status = 404, description = "No live feed has this token", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/calendar/{token}.ics")]
pub async fn get_calendar_feed(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let hash = sha256(&token);
    let mut conn = state.conn().await?;
    let Some(feed) = queries::by_token(&mut conn, &hash, Utc::now()).await? else {
        return Err(ApiError::not_found("calendar"));
    };
    note::acting(
        note::Actor {
            kind: "calendar_feed",
            id: Some(feed.id),
            role: None,
        },
        vec![feed.clinic_id],
    );
    note::client(feed.client_id);
    note::resource("calendar_feed", feed.id);
    let Some((body, changed)) = render(&mut conn, &feed).await? else {
        return Err(ApiError::not_found("calendar"));
    };
    let etag = format!("\"{}\"", &hex::encode(sha256(&body))[..32]);
    // HTTP dates have whole seconds.
    let modified = SystemTime::from(DateTime::<Utc>::from_timestamp(changed.timestamp(), 0).unwrap_or(changed));
    let headers = req.headers();
    let not_modified = match headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(tags) => tags.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        }),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<HttpDate>().ok())
            .is_some_and(|since| modified <= SystemTime::from(since)),
    };
    let mut res = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::LAST_MODIFIED, HttpDate::from(modified)))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    if not_modified {
        return Ok(res.finish());
    }
    Ok(res.content_type("text/calendar; charset=utf-8").body(body))
}
