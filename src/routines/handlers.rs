use crate::auth::{Caller, Permission};
use crate::error::{ApiError, Problem, Validator};
use crate::events::{self, EventType};
use crate::exercises::handlers::parse_flag;
use crate::http::etag::{IfMatch, with_etag};
use crate::http::json::{Json, OptionalJson};
use crate::http::pagination::{Page, PageParams};
use crate::routines::dto::{CopyRoutineRequest, ItemFields, RoutineRequest, RoutineResponse, UpdateRoutineRequest};
use crate::routines::queries::{self, ItemRow, NewRoutine};
use crate::state::AppState;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, HttpResponseBuilder, delete, get, patch, post, put, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// The query parameters of `GET /v1/routines`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListRoutinesQuery {
    /// `true`: only built-ins; `false`: only the clinic's own. Both when absent.
    #[param(value_type = Option<bool>)]
    pub builtin: Option<String>,
    /// How many items to return, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; omit for the first page.
    pub cursor: Option<String>,
}

fn routine_answer(mut res: HttpResponseBuilder, routine: &RoutineResponse) -> HttpResponse {
    with_etag(&mut res, routine.version);
    res.json(routine)
}

fn created(routine: &RoutineResponse) -> HttpResponse {
    let mut res = HttpResponse::Created();
    res.insert_header((LOCATION, format!("/v1/routines/{}", routine.id)));
    routine_answer(res, routine)
}

async fn load(conn: &mut AsyncPgConnection, clinic_id: Uuid, id: Uuid) -> Result<RoutineResponse, ApiError> {
    queries::find_visible(conn, clinic_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("routine"))?
        .into_response()
}

/// The clinic's own routine, locked for a change: 403 for a built-in, 404 when not visible.
async fn own_for_change(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
) -> Result<queries::RoutineRow, ApiError> {
    if let Some(row) = queries::lock_own(conn, clinic_id, id).await? {
        return Ok(row);
    }
    if queries::is_builtin(conn, id).await? {
        return Err(ApiError::forbidden(
            "Built-in routines are read-only; POST /v1/routines/{id}/copy makes an editable copy for your clinic.",
        ));
    }
    Err(ApiError::not_found("routine"))
}

/// Resolves the items and turns them into a routine's rows.
async fn resolve_items(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    routine_id: Uuid,
    items: Vec<ItemFields>,
) -> Result<Vec<ItemRow>, ApiError> {
    Ok(queries::resolve_items(conn, clinic_id, items)
        .await?
        .into_iter()
        .enumerate()
        .map(|(position, item)| ItemRow {
            clinic_id,
            routine_id,
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

/// List routines
///
/// The built-in routine templates and the clinic's own, ordered by name, cursor-paginated, each
/// with its items (and each item's exercise name and summary).
#[utoipa::path(
    tag = "routines",
    operation_id = "list_routines",
    params(ListRoutinesQuery),
    responses(
        (status = 200, description = "One page of routines", body = Page<RoutineResponse>),
        (status = 422, description = "`builtin` is neither `true` nor `false`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["routines:read"]))
)]
#[get("/v1/routines")]
pub async fn list_routines(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListRoutinesQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::RoutinesRead)?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    let limit = page.limit()?;
    let mut v = Validator::new();
    let builtin = query.builtin.as_deref().and_then(|b| v.parse("builtin", parse_flag(b)));
    v.finish()?;
    let after = page.after::<(String, Uuid)>()?;
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, caller.clinic_id, builtin, after, limit).await?;
    let page = Page::from_rows(
        rows,
        limit,
        |r| (r.routine.name.clone(), r.routine.id),
        queries::RoutineView::into_response,
    );
    let items = page.items.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Create a routine
///
/// Creates a routine template with all its items in one request. Each item's exercise must be
/// the clinic's own or a built-in, and not archived.
#[utoipa::path(
    tag = "routines",
    operation_id = "create_routine",
    request_body = RoutineRequest,
    responses(
        (status = 201, description = "The new routine", body = RoutineResponse,
            headers(("ETag" = String, description = "Its version"), ("Location" = String, description = "Its URL"))),
        (status = 409, description = "The Idempotency-Key is in use by a request still running", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule (each one is named, e.g. `items[2].sets`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["routines:write"]))
)]
#[post("/v1/routines")]
pub async fn create_routine(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<RoutineRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::RoutinesWrite)?;
    let fields = body.into_inner().validate()?;
    let clinic_id = caller.clinic_id;
    let mut conn = state.conn().await?;
    let routine = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let id = Uuid::now_v7();
            let items = resolve_items(conn, clinic_id, id, fields.items).await?;
            queries::insert(
                conn,
                &NewRoutine {
                    id,
                    clinic_id,
                    name: &fields.name,
                    description: fields.description.as_deref(),
                },
            )
            .await?;
            queries::replace_items(conn, clinic_id, id, &items).await?;
            let routine = load(conn, clinic_id, id).await?;
            events::emit(conn, clinic_id, EventType::RoutineCreated, &routine).await?;
            Ok(routine)
        })
        .await?;
    Ok(created(&routine))
}

/// Get a routine
///
/// A built-in routine or one of the clinic's own, with its items in order; each item embeds
/// its exercise's name and summary.
#[utoipa::path(
    tag = "routines",
    operation_id = "get_routine",
    params(("id" = Uuid, Path, description = "The routine's id")),
    responses(
        (status = 200, description = "The routine", body = RoutineResponse,
            headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such routine in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["routines:read"]))
)]
#[get("/v1/routines/{id}")]
pub async fn get_routine(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::RoutinesRead)?;
    let mut conn = state.conn().await?;
    let routine = load(&mut conn, caller.clinic_id, id.into_inner()).await?;
    Ok(routine_answer(HttpResponse::Ok(), &routine))
}

/// Replace a routine
///
/// Replaces the clinic's own routine as a whole: name, description and all items, atomically.
/// A field left out is cleared (left-out `items` mean none). Built-ins are read-only (403).
/// Honours `If-Match`.
#[utoipa::path(
    tag = "routines",
    operation_id = "replace_routine",
    params(
        ("id" = Uuid, Path, description = "The routine's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body = RoutineRequest,
    responses(
        (status = 200, description = "The routine as replaced", body = RoutineResponse,
            headers(("ETag" = String, description = "The new version"))),
        (status = 403, description = "A built-in, or the caller may not change routine templates", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such routine in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule (each one is named)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["routines:write"]))
)]
#[put("/v1/routines/{id}")]
pub async fn replace_routine(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<RoutineRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::RoutinesWrite)?;
    let fields = body.into_inner().validate()?;
    let (clinic_id, id) = (caller.clinic_id, id.into_inner());
    let mut conn = state.conn().await?;
    let routine = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let current = own_for_change(conn, clinic_id, id).await?;
            if_match.check(current.version)?;
            let items = resolve_items(conn, clinic_id, id, fields.items).await?;
            queries::update(conn, id, Some(&fields.name), Some(fields.description.as_deref())).await?;
            queries::replace_items(conn, clinic_id, id, &items).await?;
            let routine = load(conn, clinic_id, id).await?;
            events::emit(conn, clinic_id, EventType::RoutineUpdated, &routine).await?;
            Ok(routine)
        })
        .await?;
    Ok(routine_answer(HttpResponse::Ok(), &routine))
}

/// Update a routine
///
/// Changes the clinic's own routine (JSON Merge Patch); `items`, when given, replaces all items
/// in the same transaction. Built-ins are read-only (403). Honours `If-Match`.
#[utoipa::path(
    tag = "routines",
    operation_id = "update_routine",
    params(
        ("id" = Uuid, Path, description = "The routine's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body(content = UpdateRoutineRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated routine", body = RoutineResponse,
            headers(("ETag" = String, description = "The new version"))),
        (status = 403, description = "A built-in, or the caller may not change routine templates", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such routine in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule (each one is named)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["routines:write"]))
)]
#[patch("/v1/routines/{id}")]
pub async fn update_routine(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateRoutineRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::RoutinesWrite)?;
    let changes = body.into_inner().validate()?;
    let (clinic_id, id) = (caller.clinic_id, id.into_inner());
    let mut conn = state.conn().await?;
    let routine = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let current = own_for_change(conn, clinic_id, id).await?;
            if_match.check(current.version)?;
            let items = match changes.items {
                Some(items) => Some(resolve_items(conn, clinic_id, id, items).await?),
                None => None,
            };
            let description = changes.description.as_ref().map(Option::as_deref);
            queries::update(conn, id, changes.name.as_deref(), description).await?;
            if let Some(items) = &items {
                queries::replace_items(conn, clinic_id, id, items).await?;
            }
            let routine = load(conn, clinic_id, id).await?;
            events::emit(conn, clinic_id, EventType::RoutineUpdated, &routine).await?;
            Ok(routine)
        })
        .await?;
    Ok(routine_answer(HttpResponse::Ok(), &routine))
}

/// Delete a routine
///
/// Deletes the clinic's own routine template and its items for good; afterwards it answers
/// 404. Homework already assigned from it is not affected: assignments keep their own copy of
/// the items. Built-ins are read-only (403). Honours `If-Match`.
#[utoipa::path(
    tag = "routines",
    operation_id = "delete_routine",
    params(
        ("id" = Uuid, Path, description = "The routine's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "A built-in, or the caller may not change routine templates", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such routine in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["routines:write"]))
)]
#[delete("/v1/routines/{id}")]
pub async fn delete_routine(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::RoutinesWrite)?;
    let (clinic_id, id) = (caller.clinic_id, id.into_inner());
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async move |conn| {
        let current = own_for_change(conn, clinic_id, id).await?;
        if_match.check(current.version)?;
        let routine = load(conn, clinic_id, id).await?;
        queries::delete(conn, id).await?;
        events::emit(conn, clinic_id, EventType::RoutineDeleted, &routine).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Copy a routine
///
/// Makes an editable copy of a built-in routine, or of one of the clinic's own, for the clinic:
/// the same description and items (item for item, dosage included), under the original's name
/// unless the optional body gives another.
#[utoipa::path(
    tag = "routines",
    operation_id = "copy_routine",
    params(("id" = Uuid, Path, description = "The routine to copy")),
    request_body(content = Option<CopyRoutineRequest>, description = "Optional; may be left out"),
    responses(
        (status = 201, description = "The copy", body = RoutineResponse,
            headers(("ETag" = String, description = "Its version"), ("Location" = String, description = "Its URL"))),
        (status = 404, description = "No such routine in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The Idempotency-Key is in use by a request still running", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["routines:write"]))
)]
#[post("/v1/routines/{id}/copy")]
pub async fn copy_routine(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: OptionalJson<CopyRoutineRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::RoutinesWrite)?;
    let name = body.0.unwrap_or_default().validate()?;
    let (clinic_id, source_id) = (caller.clinic_id, id.into_inner());
    let mut conn = state.conn().await?;
    let routine = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let source = queries::find_visible(conn, clinic_id, source_id)
                .await?
                .ok_or_else(|| ApiError::not_found("routine"))?
                .routine;
            let id = Uuid::now_v7();
            queries::insert(
                conn,
                &NewRoutine {
                    id,
                    clinic_id,
                    name: name.as_deref().unwrap_or(&source.name),
                    description: source.description.as_deref(),
                },
            )
            .await?;
            let items: Vec<ItemRow> = queries::items(conn, source.clinic_id, source.id)
                .await?
                .into_iter()
                .map(|item| ItemRow {
                    clinic_id,
                    routine_id: id,
                    ..item
                })
                .collect();
            queries::replace_items(conn, clinic_id, id, &items).await?;
            let routine = load(conn, clinic_id, id).await?;
            events::emit(conn, clinic_id, EventType::RoutineCreated, &routine).await?;
            Ok(routine)
        })
        .await?;
    Ok(created(&routine))
}
