use crate::audit::note as audit;
use crate::auth::{Caller, Permission};
use crate::clients::queries as client_queries;
use crate::error::{ApiError, Problem};
use crate::http::etag::{IfMatch, with_etag};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageParams};
use crate::http::patch::Patch;
use crate::monitoring::dto::*;
use crate::monitoring::ledger::{self, SETUP, local_date};
use crate::monitoring::queries::{self, EpisodeRow, InteractionChanges, InteractionRow, LedgerInputs};
use crate::state::AppState;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{Duration, NaiveDate, SubsecRound, Utc};
use chrono_tz::Tz;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use std::collections::HashMap;
use uuid::Uuid;

/// The clinic's client named in a path, for staff and keys holding `permission`.
async fn client_of(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    client_id: Uuid,
    permission: Permission,
) -> Result<(client_queries::ClientRow, Tz), ApiError> {
    caller.require(permission)?;
    let found = client_queries::find_with_tz(conn, caller.clinic_id, client_id).await?;
    audit::client(client_id);
    Ok(found)
}

/// An episode's ledger on the client's `today`.
pub fn ledger_of(ep: &EpisodeRow, today: NaiveDate, inputs: &LedgerInputs) -> EpisodeLedger {
    let data = inputs.data.get(&ep.client_id).map_or(&[][..], Vec::as_slice);
    let contacts = inputs.contacts.get(&ep.client_id).map_or(&[][..], Vec::as_slice);
    let l = ledger::ledger(ep.start_date, ep.end_date, today, data, contacts);
    EpisodeLedger {
        id: ep.id,
        client_id: ep.client_id,
        start_date: ep.start_date,
        end_date: ep.end_date,
        version: ep.version,
        setup_code: l.setup_period.map(|period_start| SetupCode {
            code: SETUP.to_string(),
            period_start,
        }),
        periods: l.periods,
        months: l.months,
    }
}

/// A client's whole ledger (every episode and interaction).
pub async fn client_ledger(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    tz: Tz,
) -> Result<MonitoringResponse, ApiError> {
    let episodes = queries::episodes_of(conn, clinic_id, &[client_id]).await?;
    let from = episodes.iter().map(|e| e.start_date).min().unwrap_or(NaiveDate::MAX);
    let inputs = queries::ledger_inputs(conn, clinic_id, &HashMap::from([(client_id, tz)]), from).await?;
    let today = local_date(Utc::now(), tz);
    Ok(MonitoringResponse {
        timezone: tz.name().to_string(),
        episodes: episodes.iter().map(|e| ledger_of(e, today, &inputs)).collect(),
        interactions: inputs.interactions.iter().map(InteractionRow::to_response).collect(),
    })
}

fn episode_answer(status: u16, e: &EpisodeRow) -> HttpResponse {
    let mut res = if status == 201 {
        let mut r = HttpResponse::Created();
        r.insert_header((LOCATION, format!("/v1/clients/{}/monitoring", e.client_id)));
        r
    } else {
        HttpResponse::Ok()
    };
    with_etag(&mut res, e.version);
    res.json(e.to_response())
}

fn overlapping() -> ApiError {
    ApiError::conflict("Another monitoring episode of this client overlaps these dates: end it first.")
}

/// Start a monitoring episode
///
/// Remote therapeutic monitoring of a client from `start_date` (client's calendar), with
/// 30-day periods from that day; `end_date` may be left open. A client's episodes never
/// overlap (409).
#[utoipa::path(
    tag = "monitoring",
    operation_id = "create_monitoring_episode",
    params(("id" = Uuid, Path, description = "The client's id")),
    request_body = CreateEpisodeRequest,
    responses(
        (status = 201, description = "The new episode", body = EpisodeResponse,
            headers(("Location" = String, description = "The client's ledger"), ("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another episode overlaps, or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`end_date` is before `start_date`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["monitoring:write"]))
)]
#[post("/v1/clients/{id}/monitoring-episodes")]
pub async fn create_monitoring_episode(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<CreateEpisodeRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::MonitoringWrite)?;
    let req = body.into_inner().validate()?;
    let mut conn = state.conn().await?;
    let (client, _) = client_of(&mut conn, &caller, *id, Permission::MonitoringWrite).await?;
    let row = EpisodeRow::new(caller.clinic_id, client.id, req.start_date, req.end_date);
    let row = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            // The client's row lock keeps two overlapping episodes from being made at once.
            client_queries::find(conn, row.clinic_id, row.client_id, true).await?;
            if queries::overlaps(conn, row.clinic_id, row.client_id, None, row.start_date, row.end_date).await? {
                return Err(overlapping());
            }
            queries::insert_episode(conn, &row).await?;
            Ok(row)
        })
        .await?;
    Ok(episode_answer(201, &row))
}

/// End a monitoring episode
///
/// JSON Merge Patch: `end_date` ends the episode (not before its start); `null` opens it again.
/// Honours `If-Match`.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "update_monitoring_episode",
    params(
        ("id" = Uuid, Path, description = "The episode's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body(content = UpdateEpisodeRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The episode", body = EpisodeResponse, headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such episode in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Opening it again would overlap another episode", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`end_date` is before the start", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["monitoring:write"]))
)]
#[patch("/v1/monitoring-episodes/{id}")]
pub async fn update_monitoring_episode(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateEpisodeRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::MonitoringWrite)?;
    let change = body.into_inner().end_date;
    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    let row = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let current = queries::find_episode(conn, clinic_id, id, true)
                .await?
                .ok_or_else(|| ApiError::not_found("monitoring episode"))?;
            audit::client(current.client_id);
            if_match.check(current.version)?;
            let end = match change {
                Patch::Absent => return Ok(current),
                Patch::Null => None,
                Patch::Value(d) => Some(d),
            };
            if end.is_some_and(|e| e < current.start_date) {
                return Err(ApiError::validation(
                    "end_date",
                    "must not be before the episode's start date",
                ));
            }
            let (c, s) = (current.client_id, current.start_date);
            if queries::overlaps(conn, clinic_id, c, Some(id), s, end).await? {
                return Err(overlapping());
            }
            Ok(queries::set_end(conn, id, end).await?)
        })
        .await?;
    Ok(episode_answer(200, &row))
}

fn interaction_answer(mut res: actix_web::HttpResponseBuilder, i: &InteractionRow) -> HttpResponse {
    with_etag(&mut res, i.version);
    res.json(i.to_response())
}

/// Record an interaction
///
/// Management time spent on a client: a call, video, message or review, its minutes, and
/// whether it was a real-time interactive contact. It counts in the calendar month (client's
/// timezone) it happened in.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "create_interaction",
    params(("id" = Uuid, Path, description = "The client's id")),
    request_body = CreateInteractionRequest,
    responses(
        (status = 201, description = "Recorded", body = InteractionResponse,
            headers(("Location" = String, description = "The interaction"), ("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["monitoring:write"]))
)]
#[post("/v1/clients/{id}/interactions")]
pub async fn create_interaction(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<CreateInteractionRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::MonitoringWrite)?;
    let req = body.into_inner().validate()?;
    let mut conn = state.conn().await?;
    let (client, _) = client_of(&mut conn, &caller, *id, Permission::MonitoringWrite).await?;
    let now = Utc::now().trunc_subsecs(6);
    let row = InteractionRow {
        id: Uuid::now_v7(),
        clinic_id: caller.clinic_id,
        client_id: client.id,
        kind: req.kind,
        minutes: req.minutes,
        interactive: req.interactive,
        occurred_at: req.occurred_at.with_timezone(&Utc).trunc_subsecs(6),
        recorded_by: caller.practitioner_id(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    queries::insert_interaction(&mut conn, &row).await?;
    let mut res = HttpResponse::Created();
    res.insert_header((LOCATION, format!("/v1/interactions/{}", row.id)));
    Ok(interaction_answer(res, &row))
}

/// Correct an interaction
///
/// JSON Merge Patch of `kind`, `minutes`, `interactive`, `occurred_at`. Honours `If-Match`.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "update_interaction",
    params(
        ("id" = Uuid, Path, description = "The interaction's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body(content = UpdateInteractionRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The interaction", body = InteractionResponse, headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such interaction in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["monitoring:write"]))
)]
#[patch("/v1/interactions/{id}")]
pub async fn update_interaction(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateInteractionRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::MonitoringWrite)?;
    let req = body.into_inner().validate()?;
    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    let row = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let current = queries::find_interaction(conn, clinic_id, id)
                .await?
                .ok_or_else(|| ApiError::not_found("interaction"))?;
            audit::client(current.client_id);
            if_match.check(current.version)?;
            let changes = InteractionChanges {
                kind: req.kind,
                minutes: req.minutes,
                interactive: req.interactive,
                occurred_at: req.occurred_at.map(|t| t.with_timezone(&Utc).trunc_subsecs(6)),
            };
            if changes.kind.is_none()
                && changes.minutes.is_none()
                && changes.interactive.is_none()
                && changes.occurred_at.is_none()
            {
                return Ok(current);
            }
            Ok(queries::update_interaction(conn, id, &changes).await?)
        })
        .await?;
    Ok(interaction_answer(HttpResponse::Ok(), &row))
}

/// Delete an interaction
///
/// A mistaken record: afterwards it answers 404 and no longer counts. Honours `If-Match`.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "delete_interaction",
    params(
        ("id" = Uuid, Path, description = "The interaction's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such interaction in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["monitoring:write"]))
)]
#[delete("/v1/interactions/{id}")]
pub async fn delete_interaction(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::MonitoringWrite)?;
    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async move |conn| {
        let current = queries::find_interaction(conn, clinic_id, id)
            .await?
            .ok_or_else(|| ApiError::not_found("interaction"))?;
        audit::client(current.client_id);
        if_match.check(current.version)?;
        queries::delete_interaction(conn, id).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A client's monitoring ledger
///
/// Every episode with its 30-day periods (data days counted on the client's local dates from
/// client-entered data only, the codes each supports, whether it is frozen) and its calendar
/// months of management time with their codes; and the client's interactions. Rehabit reports
/// what the data supports; it does not bill.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "get_client_monitoring",
    params(("id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The ledger", body = MonitoringResponse),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["monitoring:read"]))
)]
#[get("/v1/clients/{id}/monitoring")]
pub async fn get_client_monitoring(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let (client, tz) = client_of(&mut conn, &caller, *id, Permission::MonitoringRead).await?;
    let ledger = client_ledger(&mut conn, caller.clinic_id, client.id, tz).await?;
    Ok(HttpResponse::Ok().json(ledger))
}

/// Keeps the periods and months that ended before `before`.
fn ended_before(mut l: EpisodeLedger, before: Option<NaiveDate>) -> EpisodeLedger {
    if let Some(b) = before {
        l.periods.retain(|p| p.end < b);
        l.months.retain(|m| {
            format!("{}-01", m.month)
                .parse::<NaiveDate>()
                .ok()
                .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
                .is_some_and(|next| next - Duration::days(1) < b)
        });
    }
    l
}

/// The clinic's monitoring ledger
///
/// For billing staff: the clinic's episodes (by id, cursor pages), each with its client, its
/// periods and months and the codes they support. `period_ending_before` keeps the periods and
/// months that ended before that date (and episodes that started before it).
#[utoipa::path(
    tag = "monitoring",
    operation_id = "list_monitoring",
    params(ClinicMonitoringQuery, PageParams),
    responses((status = 200, description = "A page of episodes with their ledgers", body = Page<ClinicEpisode>)),
    security(("bearer" = ["monitoring:read"]))
)]
#[get("/v1/monitoring")]
pub async fn list_monitoring(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ClinicMonitoringQuery>,
    p: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::MonitoringRead)?;
    let limit = p.limit()?;
    let after = p.after::<Uuid>()?;
    let before = q.period_ending_before;
    let mut conn = state.conn().await?;
    let rows = queries::clinic_episodes(&mut conn, caller.clinic_id, before, after, limit).await?;
    let page = Page::from_rows(rows, limit, |r| r.id, |r| r);
    audit::clients(page.items.iter().map(|e| e.client_id));
    let ids: Vec<Uuid> = page.items.iter().map(|e| e.client_id).collect();
    let people = client_queries::zones(&mut conn, caller.clinic_id, &ids).await?;
    let zones: HashMap<Uuid, Tz> = people.iter().map(|(id, (tz, _))| (*id, *tz)).collect();
    let from = page.items.iter().map(|e| e.start_date).min().unwrap_or(NaiveDate::MAX);
    let inputs = queries::ledger_inputs(&mut conn, caller.clinic_id, &zones, from).await?;
    let items = page
        .items
        .iter()
        .map(|e| {
            let (tz, external_id) = people.get(&e.client_id).cloned().unwrap_or((Tz::UTC, None));
            ClinicEpisode {
                client_id: e.client_id,
                external_id,
                ledger: ended_before(ledger_of(e, local_date(Utc::now(), tz), &inputs), before),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}
