use crate::auth::{Caller, Permission};
use crate::error::{ApiError, Problem, Validator};
use crate::events::{self, EventType};
use crate::exercises::dto::{
    BodyRegion, Category, CreateExerciseRequest, Equipment, ExerciseResponse, UpdateExerciseRequest, limits,
};
use crate::exercises::queries::{self, After, ExerciseFilter, NewExercise};
use crate::http::etag::{IfMatch, with_etag};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::values::parse_text;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// The query parameters of `GET /v1/exercises`. Filter values are checked by the handler, so a
/// value outside a vocabulary is a 422 naming the parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListExercisesQuery {
    /// Full-text search over name, summary, steps and body regions, best match first. Web
    /// search syntax: words, `"a phrase"`, `-word` to exclude, `or`. At most 200 characters.
    #[param(example = "piriformis", schema_with = crate::values::openapi::search_text)]
    pub q: Option<String>,
    /// Only this category.
    #[param(value_type = Option<Category>)]
    pub category: Option<String>,
    /// Only exercises working on this body region.
    #[param(value_type = Option<BodyRegion>)]
    pub body_region: Option<String>,
    /// Only exercises that use this equipment (`none`: those that need nothing).
    #[param(value_type = Option<Equipment>)]
    pub equipment: Option<String>,
    /// Only this difficulty, 1–5.
    #[param(value_type = Option<i32>, minimum = 1, maximum = 5)]
    pub difficulty: Option<String>,
    /// `true`: only built-ins; `false`: only the clinic's own. Both when absent.
    #[param(value_type = Option<bool>)]
    pub builtin: Option<String>,
    /// `true` also lists archived exercises (default `false`).
    #[param(value_type = Option<bool>)]
    pub include_archived: Option<String>,
    /// How many items to return, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; omit for the first page.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// Parses a `true`/`false` query parameter.
pub fn parse_flag(raw: &str) -> Result<bool, String> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be `true` or `false`".into()),
    }
}

impl ListExercisesQuery {
    fn page(&self) -> PageParams {
        PageParams {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }

    fn filter(&self) -> Result<ExerciseFilter, ApiError> {
        let mut v = Validator::new();
        let q = self
            .q
            .as_deref()
            .filter(|q| !q.trim().is_empty())
            .and_then(|q| v.parse("q", parse_text(q, 200)));
        let difficulty = self.difficulty.as_deref().and_then(|d| {
            let (min, max) = limits::DIFFICULTY;
            let parsed = d
                .parse::<i32>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .and_then(|n| i16::try_from(n).ok());
            v.parse(
                "difficulty",
                parsed.ok_or_else(|| format!("must be a whole number from {min} to {max}")),
            )
        });
        let filter = ExerciseFilter {
            q,
            category: self.category.as_deref().and_then(|c| v.parse("category", c.parse())),
            body_region: self
                .body_region
                .as_deref()
                .and_then(|r| v.parse("body_region", r.parse())),
            equipment: self.equipment.as_deref().and_then(|e| v.parse("equipment", e.parse())),
            difficulty,
            builtin: self.builtin.as_deref().and_then(|b| v.parse("builtin", parse_flag(b))),
            include_archived: self
                .include_archived
                .as_deref()
                .and_then(|b| v.parse("include_archived", parse_flag(b)))
                .unwrap_or(false),
        };
        v.finish()?;
        Ok(filter)
    }
}

/// A single exercise with its `ETag`.
fn exercise_answer(mut res: actix_web::HttpResponseBuilder, exercise: &ExerciseResponse) -> HttpResponse {
    with_etag(&mut res, exercise.version);
    res.json(exercise)
}

/// The exercise as the API shows it, read in the current transaction.
async fn load(conn: &mut AsyncPgConnection, clinic_id: Uuid, id: Uuid) -> Result<ExerciseResponse, ApiError> {
    queries::find_visible(conn, clinic_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("exercise"))?
        .into_response()
}

/// The clinic's own exercise, locked for a change: 403 for a built-in, 404 when not visible.
async fn own_for_change(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
) -> Result<queries::ExerciseRow, ApiError> {
    if let Some(row) = queries::lock_own(conn, clinic_id, id).await? {
        return Ok(row);
    }
    if queries::is_builtin(conn, id).await? {
        return Err(ApiError::forbidden(
            "Built-in exercises are read-only. Create an exercise of your own instead (it may be a progression of this one).",
        ));
    }
    Err(ApiError::not_found("exercise"))
}

/// Checks that `target` may be what exercise `this` (none yet when creating) progresses from.
async fn check_progression(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    this: Option<Uuid>,
    target: Uuid,
) -> Result<(), ApiError> {
    const FIELD: &str = "progression_of";
    if this == Some(target) {
        return Err(ApiError::validation(FIELD, "cannot be the exercise itself"));
    }
    let found = queries::lock_visible(conn, clinic_id, &[target]).await?;
    match found.first() {
        None => Err(ApiError::validation(
            FIELD,
            "is not an exercise in this clinic's library",
        )),
        Some((_, true, _)) => Err(ApiError::validation(FIELD, "is archived")),
        Some(_) => match this {
            Some(id) if queries::would_loop(conn, id, target).await? => Err(ApiError::validation(
                FIELD,
                "already progresses from this exercise, directly or through others; the links would go round in a loop",
            )),
            _ => Ok(()),
        },
    }
}

/// List exercises
///
/// The built-in library and the clinic's own exercises, ordered by name (by best match with
/// `q`), cursor-paginated. Archived exercises are left out unless `include_archived=true`.
#[utoipa::path(
    tag = "exercises",
    operation_id = "list_exercises",
    params(ListExercisesQuery),
    responses(
        (status = 200, description = "One page of exercises", body = Page<ExerciseResponse>),
        (status = 403, description = "The caller may not read the library (clients read only their assignments' exercises)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter value outside its vocabulary or range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["exercises:read"]))
)]
#[get("/v1/exercises")]
pub async fn list_exercises(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListExercisesQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ExercisesRead)?;
    let page = query.page();
    let limit = page.limit()?;
    let filter = query.filter()?;
    let searching = filter.q.is_some();
    let after = if searching {
        page.after::<(f32, Uuid)>()?.map(|(rank, id)| After::Rank(rank, id))
    } else {
        page.after::<(String, Uuid)>()?.map(|(name, id)| After::Name(name, id))
    };
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, caller.clinic_id, &filter, after, limit).await?;
    let page = Page::from_rows(
        rows,
        limit,
        |r| {
            if searching {
                serde_json::json!([r.rank, r.exercise.id])
            } else {
                serde_json::json!([r.exercise.name, r.exercise.id])
            }
        },
        queries::ExerciseView::into_response,
    );
    let items = page.items.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Create an exercise
///
/// Adds an exercise to the clinic's library. `progression_of` may name one of the clinic's
/// exercises or a built-in.
#[utoipa::path(
    tag = "exercises",
    operation_id = "create_exercise",
    request_body = CreateExerciseRequest,
    responses(
        (status = 201, description = "The new exercise", body = ExerciseResponse,
            headers(("ETag" = String, description = "Its version"), ("Location" = String, description = "Its URL"))),
        (status = 409, description = "The Idempotency-Key is in use by a request still running", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule (each one is named)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["exercises:write"]))
)]
#[post("/v1/exercises")]
pub async fn create_exercise(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CreateExerciseRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ExercisesWrite)?;
    let fields = body.into_inner().validate()?;
    let clinic_id = caller.clinic_id;
    let mut conn = state.conn().await?;
    let exercise = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            if let Some(target) = fields.progression_of {
                check_progression(conn, clinic_id, None, target).await?;
            }
            let id = Uuid::now_v7();
            queries::insert(conn, &NewExercise::new(id, clinic_id, &fields)?).await?;
            let exercise = load(conn, clinic_id, id).await?;
            events::emit(conn, clinic_id, EventType::ExerciseCreated, &exercise).await?;
            Ok(exercise)
        })
        .await?;
    let mut res = HttpResponse::Created();
    res.insert_header((LOCATION, format!("/v1/exercises/{}", exercise.id)));
    Ok(exercise_answer(res, &exercise))
}

/// Get an exercise
///
/// A built-in or one of the clinic's own exercises (archived ones too), with its progressions
/// and regressions. A client's login may read the exercises its own homework uses (others are
/// 404 to it).
#[utoipa::path(
    tag = "exercises",
    operation_id = "get_exercise",
    params(("id" = Uuid, Path, description = "The exercise's id")),
    responses(
        (status = 200, description = "The exercise", body = ExerciseResponse,
            headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such exercise in this clinic's library (for a client: none in their homework)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["exercises:read"]))
)]
#[get("/v1/exercises/{id}")]
pub async fn get_exercise(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    // A client reads the exercises of their own homework, and nothing else of the library.
    match caller.own_client_id() {
        Some(client_id) => {
            if !queries::used_by_client(&mut conn, caller.clinic_id, client_id, id).await? {
                return Err(ApiError::not_found("exercise"));
            }
        }
        None => caller.require(Permission::ExercisesRead)?,
    }
    let exercise = load(&mut conn, caller.clinic_id, id).await?;
    Ok(exercise_answer(HttpResponse::Ok(), &exercise))
}

/// Update an exercise
///
/// Changes the clinic's own exercise (JSON Merge Patch). `archived: true` archives it: it
/// disappears from lists and cannot be added to routines any more, but stays readable and
/// stays wherever it is used; `archived: false` restores it. Built-ins are read-only (403).
/// Honours `If-Match`.
#[utoipa::path(
    tag = "exercises",
    operation_id = "update_exercise",
    params(
        ("id" = Uuid, Path, description = "The exercise's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body(content = UpdateExerciseRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated exercise", body = ExerciseResponse,
            headers(("ETag" = String, description = "The new version"))),
        (status = 403, description = "A built-in, or the caller may not change the library", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exercise in this clinic's library", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule (each one is named)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["exercises:write"]))
)]
#[patch("/v1/exercises/{id}")]
pub async fn update_exercise(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateExerciseRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ExercisesWrite)?;
    let changes = body.into_inner().validate()?;
    let (clinic_id, id) = (caller.clinic_id, id.into_inner());
    let mut conn = state.conn().await?;
    let exercise = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let current = own_for_change(conn, clinic_id, id).await?;
            if_match.check(current.version)?;
            if let Some(Some(target)) = changes.progression_of {
                check_progression(conn, clinic_id, Some(id), target).await?;
            }
            let archiving = changes.archived == Some(true) && current.archived_at.is_none();
            queries::update(conn, &current, changes).await?;
            let exercise = load(conn, clinic_id, id).await?;
            let event = if archiving {
                EventType::ExerciseArchived
            } else {
                EventType::ExerciseUpdated
            };
            events::emit(conn, clinic_id, event, &exercise).await?;
            Ok(exercise)
        })
        .await?;
    Ok(exercise_answer(HttpResponse::Ok(), &exercise))
}

/// Delete an exercise
///
/// Removes one of the clinic's own exercises for good; afterwards it answers 404. An exercise
/// that something refers to (a routine, another exercise's `progression_of`, later an
/// assignment) is not deleted: the answer is 409, and `PATCH {"archived": true}` archives it
/// instead. Built-ins are read-only (403). Honours `If-Match`.
#[utoipa::path(
    tag = "exercises",
    operation_id = "delete_exercise",
    params(
        ("id" = Uuid, Path, description = "The exercise's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "A built-in, or the caller may not change the library", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exercise in this clinic's library", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Something refers to the exercise; archive it instead", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["exercises:write"]))
)]
#[delete("/v1/exercises/{id}")]
pub async fn delete_exercise(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ExercisesWrite)?;
    let (clinic_id, id) = (caller.clinic_id, id.into_inner());
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async move |conn| {
        let current = own_for_change(conn, clinic_id, id).await?;
        if_match.check(current.version)?;
        let refs = queries::references(conn, clinic_id, id).await?;
        if refs.any() {
            return Err(ApiError::conflict(format!(
                "The exercise is in use ({} routine(s), {} assignment(s), {} exercise(s) progressing from it), so it \
                 cannot be deleted; archive it with PATCH {{\"archived\": true}} instead.",
                refs.routines, refs.assignments, refs.progressions
            )));
        }
        let exercise = load(conn, clinic_id, id).await?;
        queries::delete(conn, id).await?;
        events::emit(conn, clinic_id, EventType::ExerciseDeleted, &exercise).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
