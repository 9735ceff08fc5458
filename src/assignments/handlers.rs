use crate::assignments::dto::*;
use crate::assignments::queries::{self, AssignmentChanges, AssignmentRow, Giving, ItemRow};
use crate::assignments::schedule::{local_date, occurrence_status};
use crate::audit::note as audit;
use crate::auth::{Caller, Permission};
use crate::clients::queries as client_queries;
use crate::error::{ApiError, Problem, Validator};
use crate::events::{self, EventType};
use crate::http::etag::{IfMatch, with_etag};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageParams};
use crate::routines::dto::ItemFields;
use crate::routines::queries as routine_queries;
use crate::state::AppState;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, HttpResponseBuilder, get, patch, post, web};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

/// The longest agenda, in days.
pub const MAX_AGENDA_DAYS: i64 = 92;

fn answer(mut res: HttpResponseBuilder, a: &AssignmentResponse) -> HttpResponse {
    with_etag(&mut res, a.version);
    res.json(a)
}

/// Turns validated items into rows: exercises resolved (visible, not archived), default
/// dosages filled in, existing ids kept and new ones minted.
async fn item_rows(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    assignment_id: Uuid,
    items: Vec<CheckedItem>,
) -> Result<Vec<ItemRow>, ApiError> {
    let (ids, fields): (Vec<Option<Uuid>>, Vec<ItemFields>) = items.into_iter().unzip();
    let resolved = routine_queries::resolve_items(conn, clinic_id, fields).await?;
    Ok(ids
        .into_iter()
        .zip(resolved)
        .enumerate()
        .map(|(position, (id, item))| ItemRow {
            id: id.unwrap_or_else(Uuid::now_v7),
            clinic_id,
            assignment_id,
            position: i32::try_from(position).unwrap_or(i32::MAX),
            exercise_id: item.exercise_id,
            sets: item.sets,
            reps: item.reps,
            hold_seconds: item.hold_seconds,
            duration_seconds: item.duration_seconds,
            rest_seconds: item.rest_seconds,
            side: item.side.unwrap_or_default(),
            notes: item.notes,
        })
        .collect())
}

/// Builds the answers for assignment rows with two more queries (items, pauses), whatever
/// their number.
pub(crate) async fn responses(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    rows: Vec<AssignmentRow>,
) -> Result<Vec<AssignmentResponse>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut items = queries::items(conn, clinic_id, &ids).await?;
    let pauses = queries::pauses(conn, clinic_id, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let p = pauses
                .iter()
                .filter(|p| p.assignment_id == row.id)
                .map(|p| PauseResponse {
                    paused_at: p.paused_at,
                    resumed_at: p.resumed_at,
                })
                .collect();
            let i = items.remove(&row.id).unwrap_or_default();
            row.into_response(i, p)
        })
        .collect())
}

async fn response(conn: &mut AsyncPgConnection, row: AssignmentRow) -> Result<AssignmentResponse, ApiError> {
    let clinic_id = row.clinic_id;
    responses(conn, clinic_id, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("assignment vanished"))
}

async fn list_for(
    state: &AppState,
    clinic_id: Uuid,
    client_id: Uuid,
    filter: &ListAssignmentsQuery,
    page: &PageParams,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let before = page.after::<Uuid>()?;
    let mut conn = state.conn().await?;
    client_queries::find_with_tz(&mut conn, clinic_id, client_id).await?;
    let rows = queries::list_for_client(&mut conn, clinic_id, client_id, filter.status, before, limit).await?;
    let page = Page::from_rows(rows, limit, |r| r.id, |r| r);
    let items = responses(&mut conn, clinic_id, page.items).await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// List a client's homework
///
/// The client's assignments, newest first, each with its items (exercise embedded) and pauses.
#[utoipa::path(
    tag = "assignments",
    operation_id = "list_client_assignments",
    params(("id" = Uuid, Path, description = "The client's id"), ListAssignmentsQuery, PageParams),
    responses(
        (status = 200, description = "A page of assignments", body = Page<AssignmentResponse>),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["assignments:read"]))
)]
#[get("/v1/clients/{id}/assignments")]
pub async fn list_client_assignments(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    filter: web::Query<ListAssignmentsQuery>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_client_access(*id, Permission::AssignmentsRead, "client")?;
    list_for(&state, caller.clinic_id, *id, &filter, &page).await
}

/// List my homework
///
/// For a client's login: their own assignments, newest first, with each item's exercise
/// embedded (name, steps, media, cautions) so an app draws today's homework from one call.
#[utoipa::path(
    tag = "me",
    operation_id = "list_my_assignments",
    params(ListAssignmentsQuery, PageParams),
    responses(
        (status = 200, description = "A page of assignments", body = Page<AssignmentResponse>),
        (status = 403, description = "The caller is not a client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/me/assignments")]
pub async fn list_my_assignments(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<ListAssignmentsQuery>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let client_id = caller.require_own_client("assignments")?;
    list_for(&state, caller.clinic_id, client_id, &filter, &page).await
}

/// Give a client homework
///
/// From a routine template (its items are copied: later edits of the template never change
/// this homework), from explicit `items`, or both (the given items replace the copied ones).
/// `start_date` may be in the past.
#[utoipa::path(
    tag = "assignments",
    operation_id = "create_assignment",
    params(("id" = Uuid, Path, description = "The client's id")),
    request_body = CreateAssignmentRequest,
    responses(
        (status = 201, description = "The assignment", body = AssignmentResponse,
            headers(("Location" = String, description = "The new assignment"), ("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client is archived, or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule (a bad schedule, an unknown routine or exercise, no items)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["assignments:write"]))
)]
#[post("/v1/clients/{id}/assignments")]
pub async fn create_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<CreateAssignmentRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::AssignmentsWrite)?;
    let mut new = body.into_inner().validate()?;
    let giving = Giving {
        id: Uuid::now_v7(),
        clinic_id: caller.clinic_id,
        client_id: *id,
        assigned_by: caller.practitioner_id(),
    };
    let mut conn = state.conn().await?;
    let created = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let (clinic_id, assignment_id) = (giving.clinic_id, giving.id);
            require_active_client(conn, clinic_id, giving.client_id).await?;
            let routine = match new.routine_id {
                Some(rid) => Some(
                    routine_queries::find_visible(conn, clinic_id, rid)
                        .await?
                        .ok_or_else(|| {
                            ApiError::validation("routine_id", "is not a routine of this clinic's library")
                        })?,
                ),
                None => None,
            };
            let items = match (new.items.take(), &routine) {
                (Some(items), _) => item_rows(conn, clinic_id, assignment_id, items).await?,
                (None, Some(r)) => routine_queries::items(conn, r.routine.clinic_id, r.routine.id)
                    .await?
                    .iter()
                    .map(|i| ItemRow::copy_of(i, Uuid::now_v7(), clinic_id, assignment_id))
                    .collect(),
                (None, None) => Vec::new(),
            };
            if items.is_empty() {
                return Err(ApiError::validation("items", "homework needs at least one exercise"));
            }
            let name = new
                .name
                .take()
                .or_else(|| routine.map(|r| r.routine.name))
                .unwrap_or_default();
            let row = queries::insert(conn, &AssignmentRow::new(giving, &new, name)).await?;
            queries::insert_items(conn, &items).await?;
            let created = response(conn, row).await?;
            events::emit(conn, clinic_id, EventType::AssignmentCreated, &created).await?;
            Ok(created)
        })
        .await?;
    let mut res = HttpResponse::Created();
    res.insert_header((LOCATION, format!("/v1/assignments/{}", created.id)));
    Ok(answer(res, &created))
}

/// Get an assignment
///
/// Staff read any assignment of the clinic; a client reads their own (another client's is 404).
#[utoipa::path(
    tag = "assignments",
    operation_id = "get_assignment",
    params(("id" = Uuid, Path, description = "The assignment's id")),
    responses(
        (status = 200, description = "The assignment", body = AssignmentResponse,
            headers(("ETag" = String, description = "The current version"))),
        (status = 404, description = "No such assignment visible to the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["assignments:read"]))
)]
#[get("/v1/assignments/{id}")]
pub async fn get_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let row = queries::find(&mut conn, caller.clinic_id, *id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("assignment"))?;
    caller.require_client_access(row.client_id, Permission::AssignmentsRead, "assignment")?;
    audit::client(row.client_id);
    Ok(answer(HttpResponse::Ok(), &response(&mut conn, row).await?))
}

/// Update an assignment
///
/// JSON Merge Patch: name, instructions, the schedule (replaced whole), the items (existing
/// ones by `id` are adjusted in place, new ones added, unlisted ones removed) and the status
/// (`active` ⇄ `paused`, either to `completed` or `cancelled`, `completed` back to `active`;
/// `cancelled` is final). Pauses are remembered, so the agenda keeps its history. Honours
/// `If-Match`.
#[utoipa::path(
    tag = "assignments",
    operation_id = "update_assignment",
    params(
        ("id" = Uuid, Path, description = "The assignment's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body(content = UpdateAssignmentRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated assignment", body = AssignmentResponse,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such assignment in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A status change that is not allowed, or the assignment is cancelled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["assignments:write"]))
)]
#[patch("/v1/assignments/{id}")]
pub async fn update_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateAssignmentRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::AssignmentsWrite)?;
    let mut edit = body.into_inner().validate()?;
    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    let updated = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let current = queries::find(conn, clinic_id, id, true)
                .await?
                .ok_or_else(|| ApiError::not_found("assignment"))?;
            audit::client(current.client_id);
            if_match.check(current.version)?;
            let now = Utc::now();
            let new_status = change_status(conn, &current, edit.status, now).await?;
            let fields_changed = edit.changes_fields();
            if let Some(items) = edit.items.take() {
                replace_items(conn, clinic_id, id, items).await?;
            }
            let days = edit.schedule.as_ref().map(ScheduleBody::days);
            let changes = AssignmentChanges::of(&edit, days.as_deref(), new_status, now);
            let row = queries::update(conn, id, &changes).await?;
            let updated = response(conn, row).await?;
            if fields_changed {
                events::emit(conn, clinic_id, EventType::AssignmentUpdated, &updated).await?;
            }
            if new_status.is_some() {
                events::emit(conn, clinic_id, EventType::AssignmentStatusChanged, &updated).await?;
            }
            Ok(updated)
        })
        .await?;
    Ok(answer(HttpResponse::Ok(), &updated))
}

/// Homework goes only to a client of this clinic who is not archived.
async fn require_active_client(conn: &mut AsyncPgConnection, clinic_id: Uuid, client_id: Uuid) -> Result<(), ApiError> {
    let (client, _) = client_queries::find_with_tz(conn, clinic_id, client_id).await?;
    if client.archived_at.is_some() {
        return Err(ApiError::conflict(
            "The client is archived: restore them before giving homework.",
        ));
    }
    Ok(())
}

/// Moves the assignment to `status` if that is a change and allowed, remembering pauses;
/// returns the status it moved to. A cancelled assignment takes no change at all.
async fn change_status(
    conn: &mut AsyncPgConnection,
    current: &AssignmentRow,
    status: Option<AssignmentStatus>,
    now: chrono::DateTime<Utc>,
) -> Result<Option<AssignmentStatus>, ApiError> {
    if current.status == AssignmentStatus::Cancelled {
        return Err(ApiError::conflict(
            "The assignment is cancelled, which is final: give new homework instead.",
        ));
    }
    let Some(to) = status.filter(|s| *s != current.status) else {
        return Ok(None);
    };
    if !current.status.can_become(to) {
        return Err(ApiError::conflict(format!(
            "An assignment cannot go from `{}` to `{to}`.",
            current.status
        )));
    }
    match to {
        AssignmentStatus::Paused => queries::pause(conn, current.clinic_id, current.id, now).await?,
        _ => queries::resume(conn, current.clinic_id, current.id, now).await?,
    };
    Ok(Some(to))
}

/// Replaces the items: ids given must be current items (kept and adjusted), the rest are new.
async fn replace_items(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
    items: Vec<CheckedItem>,
) -> Result<(), ApiError> {
    let current_ids = queries::current_item_ids(conn, clinic_id, id).await?;
    let mut v = Validator::new();
    for (i, (item_id, _)) in items.iter().enumerate() {
        if let Some(item_id) = item_id {
            v.check(
                current_ids.contains(item_id),
                format!("items[{i}].id"),
                "is not a current item of this assignment",
            );
        }
    }
    v.check(!items.is_empty(), "items", "homework needs at least one exercise");
    v.finish()?;
    let rows = item_rows(conn, clinic_id, id, items).await?;
    queries::replace_items(conn, clinic_id, id, &rows).await?;
    Ok(())
}

/// Builds an agenda from already loaded rows.
fn build_agenda(
    from: NaiveDate,
    to: NaiveDate,
    tz: Tz,
    today: NaiveDate,
    assignments: &[AssignmentRow],
    pauses: &[queries::PauseRow],
    logged: &std::collections::HashMap<(Uuid, NaiveDate), u32>,
) -> AgendaResponse {
    let schedules: Vec<_> = assignments.iter().map(|a| (a.id, a.schedule(pauses, tz))).collect();
    let days = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|date| AgendaDay {
            date,
            occurrences: schedules
                .iter()
                .filter(|(_, s)| s.is_due_on(date))
                .flat_map(|(id, s)| {
                    let logs = logged.get(&(*id, date)).copied().unwrap_or(0);
                    (1..=s.times_per_day).map(move |slot| OccurrenceResponse {
                        date,
                        assignment_id: *id,
                        slot,
                        status: occurrence_status(date, slot, logs, today),
                    })
                })
                .collect(),
        })
        .collect();
    AgendaResponse {
        from,
        to,
        timezone: tz.name().to_string(),
        days,
    }
}

async fn agenda_for(
    state: &AppState,
    clinic_id: Uuid,
    client_id: Uuid,
    q: &AgendaQuery,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let (_, tz) = client_queries::find_with_tz(&mut conn, clinic_id, client_id).await?;
    let today = local_date(Utc::now(), tz);
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let from = q.from.unwrap_or(monday);
    let to = q.to.unwrap_or(from + Duration::days(6));
    if to < from {
        return Err(ApiError::validation("to", "must not be before `from`"));
    }
    if (to - from).num_days() >= MAX_AGENDA_DAYS {
        return Err(ApiError::validation(
            "to",
            format!(
                "must be less than {MAX_AGENDA_DAYS} days after `from`: an agenda covers at most {MAX_AGENDA_DAYS} days"
            ),
        ));
    }
    // Three queries whatever the range: assignments, their pauses, their logs per day.
    let assignments = queries::overlapping(&mut conn, clinic_id, client_id, from, to).await?;
    let ids: Vec<Uuid> = assignments.iter().map(|a| a.id).collect();
    let pauses = queries::pauses(&mut conn, clinic_id, &ids).await?;
    let logged = crate::sessions::queries::logged_per_day(&mut conn, clinic_id, &ids, from, to).await?;
    Ok(HttpResponse::Ok().json(build_agenda(from, to, tz, today, &assignments, &pauses, &logged)))
}

/// A client's agenda
///
/// What is due when, day by day in the client's timezone: for each date of the range, each
/// occurrence `{date, assignment_id, slot, status}`. Paused days, dates before `start_date` and
/// after `end_date` (or after the day an assignment was completed or cancelled) have none.
/// At most 92 days; by default the current week (Monday to Sunday).
#[utoipa::path(
    tag = "assignments",
    operation_id = "get_client_agenda",
    params(("id" = Uuid, Path, description = "The client's id"), AgendaQuery),
    responses(
        (status = 200, description = "The agenda", body = AgendaResponse),
        (status = 422, description = "`to` is before `from`, or the range is longer than 92 days", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["assignments:read"]))
)]
#[get("/v1/clients/{id}/agenda")]
pub async fn get_client_agenda(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    q: web::Query<AgendaQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_client_access(*id, Permission::AssignmentsRead, "client")?;
    agenda_for(&state, caller.clinic_id, *id, &q).await
}

/// My agenda
///
/// For a client's login: what is due when, day by day in their timezone (see the client
/// agenda).
#[utoipa::path(
    tag = "me",
    operation_id = "get_my_agenda",
    params(AgendaQuery),
    responses(
        (status = 200, description = "The agenda", body = AgendaResponse),
        (status = 422, description = "`to` is before `from`, or the range is longer than 92 days", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not a client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/me/agenda")]
pub async fn get_my_agenda(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<AgendaQuery>,
) -> Result<HttpResponse, ApiError> {
    let client_id = caller.require_own_client("assignments")?;
    agenda_for(&state, caller.clinic_id, client_id, &q).await
}
