use crate::assignments::schedule::local_date;
use crate::audit::note as audit;
use crate::auth::extractor::Principal;
use crate::auth::{Caller, Permission, Role};
use crate::clients::queries as client_queries;
use crate::error::{ApiError, OnConstraint, Problem, Validator};
use crate::events::{self, EventType};
use crate::http::etag::{IfMatch, with_etag};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageParams};
use crate::outcomes::dto::*;
use crate::outcomes::queries::{self, AssignmentRow, QuestionnaireRow, ResponseRow};
use crate::outcomes::scoring;
use crate::state::AppState;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, HttpResponseBuilder, get, patch, post, web};
use chrono::{Duration, SubsecRound, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use std::collections::HashMap;
use uuid::Uuid;

/// How far in the future `answered_at` may be (clocks drift).
const FUTURE_SLACK_MINUTES: i64 = 5;

/// A questionnaire the caller may read: staff and keys with `outcomes:read` see the clinic's
/// and the built-ins; a client's login sees those assigned to them (others are 404 to it).
pub async fn readable_questionnaire(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<QuestionnaireRow, ApiError> {
    let row = queries::find(conn, caller.clinic_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("questionnaire"))?;
    match caller.own_client_id() {
        Some(own) if queries::is_assigned(conn, caller.clinic_id, own, id).await? => Ok(row),
        Some(_) => Err(ApiError::not_found("questionnaire")),
        None => {
            caller.require(Permission::OutcomesRead)?;
            Ok(row)
        }
    }
}

/// List questionnaires
///
/// The clinic's own questionnaires and the built-ins (`psfs`, `lefs`), by id.
#[utoipa::path(
    tag = "outcomes",
    operation_id = "list_questionnaires",
    params(PageParams),
    responses((status = 200, description = "A page of questionnaires", body = Page<QuestionnaireResponse>)),
    security(("bearer" = ["outcomes:read"]))
)]
#[get("/v1/questionnaires")]
pub async fn list_questionnaires(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::OutcomesRead)?;
    let limit = p.limit()?;
    let after = p.after::<Uuid>()?;
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, caller.clinic_id, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, QuestionnaireRow::into_response)))
}

/// Create a questionnaire
///
/// A definition with typed items and a scoring rule. 422 when the score cannot be computed
/// from the items (no scored item, `min_answered` out of reach, a scale without bounds, a
/// choice without two options, `percent_of_max` over items that cannot differ). Definitions
/// never change: a new version is a new questionnaire with its own code.
#[utoipa::path(
    tag = "outcomes",
    operation_id = "create_questionnaire",
    request_body = CreateQuestionnaireRequest,
    responses(
        (status = 201, description = "The new questionnaire", body = QuestionnaireResponse,
            headers(("Location" = String, description = "Its URL"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "The clinic has a questionnaire with this code, or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule, or the scoring cannot be computed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["outcomes:write"]))
)]
#[post("/v1/questionnaires")]
pub async fn create_questionnaire(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CreateQuestionnaireRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::OutcomesWrite)?;
    let new = body.into_inner().validate()?;
    let mut conn = state.conn().await?;
    let row = queries::insert(&mut conn, &QuestionnaireRow::new(Uuid::now_v7(), caller.clinic_id, new))
        .await
        .on_unique("questionnaires_clinic_code_key", || {
            ApiError::conflict("The clinic has a questionnaire with this code: choose another code.")
        })?;
    let q = row.into_response();
    let mut res = HttpResponse::Created();
    res.insert_header((LOCATION, format!("/v1/questionnaires/{}", q.id)));
    with_etag(&mut res, q.version);
    Ok(res.json(q))
}

/// Get a questionnaire
///
/// A built-in or one of the clinic's own. A client's login may read the questionnaires
/// assigned to it (others are 404 to it).
#[utoipa::path(
    tag = "outcomes",
    operation_id = "get_questionnaire",
    params(("id" = Uuid, Path, description = "The questionnaire's id")),
    responses(
        (status = 200, description = "The questionnaire", body = QuestionnaireResponse, headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such questionnaire visible to the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["outcomes:read"]))
)]
#[get("/v1/questionnaires/{id}")]
pub async fn get_questionnaire(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let q = readable_questionnaire(&mut conn, &caller, *id).await?.into_response();
    let mut res = HttpResponse::Ok();
    with_etag(&mut res, q.version);
    Ok(res.json(q))
}

fn assignment_answer(mut res: HttpResponseBuilder, a: &QuestionnaireAssignmentResponse) -> HttpResponse {
    with_etag(&mut res, a.version);
    res.json(a)
}

/// The client named in a path, for a caller that may reach their data with `permission`.
async fn client_of(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    client_id: Uuid,
    permission: Permission,
) -> Result<(client_queries::ClientRow, chrono_tz::Tz), ApiError> {
    caller.require_client_access(client_id, permission, "client")?;
    let (client, tz) = client_queries::find_with_tz(conn, caller.clinic_id, client_id).await?;
    audit::client(client_id);
    Ok((client, tz))
}

/// Assign a questionnaire
///
/// Gives a built-in or one of the clinic's questionnaires to a client, due on `start_date` and
/// every `every` days or weeks after it (client's calendar) until `end_date`.
#[utoipa::path(
    tag = "outcomes",
    operation_id = "create_questionnaire_assignment",
    params(("id" = Uuid, Path, description = "The client's id")),
    request_body = CreateQuestionnaireAssignmentRequest,
    responses(
        (status = 201, description = "The new assignment", body = QuestionnaireAssignmentResponse,
            headers(("Location" = String, description = "Its URL"), ("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such client visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client is archived, or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule, or no such questionnaire (`questionnaire_id`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["outcomes:write"]))
)]
#[post("/v1/clients/{id}/questionnaire-assignments")]
pub async fn create_questionnaire_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<CreateQuestionnaireAssignmentRequest>,
) -> Result<HttpResponse, ApiError> {
    if caller.own_client_id().is_some() {
        return Err(ApiError::forbidden("Questionnaires are assigned by the clinic."));
    }
    caller.require(Permission::OutcomesWrite)?;
    let req = body.into_inner().validate()?;
    let mut conn = state.conn().await?;
    let (client, tz) = client_of(&mut conn, &caller, *id, Permission::OutcomesWrite).await?;
    if client.archived_at.is_some() {
        return Err(ApiError::conflict(
            "The client is archived: restore them before assigning.",
        ));
    }
    let q = queries::find(&mut conn, caller.clinic_id, req.questionnaire_id)
        .await?
        .ok_or_else(|| {
            ApiError::validation(
                "questionnaire_id",
                "is not a questionnaire of this clinic or a built-in",
            )
        })?;
    let row = AssignmentRow::new(caller.clinic_id, client.id, q.id, &req.schedule);
    queries::insert_assignment(&mut conn, &row).await?;
    let a = row.into_response(q.code, local_date(Utc::now(), tz), None);
    let mut res = HttpResponse::Created();
    res.insert_header((LOCATION, format!("/v1/questionnaire-assignments/{}", a.id)));
    Ok(assignment_answer(res, &a))
}

/// The assignments as the API shows them, on the client's `today`.
pub async fn assignment_responses(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    rows: Vec<AssignmentRow>,
    tz: chrono_tz::Tz,
) -> Result<Vec<QuestionnaireAssignmentResponse>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let qids: Vec<Uuid> = rows.iter().map(|r| r.questionnaire_id).collect();
    let last = queries::last_answered(conn, clinic_id, &ids).await?;
    let codes = queries::codes(conn, clinic_id, &qids).await?;
    let today = local_date(Utc::now(), tz);
    Ok(rows
        .into_iter()
        .map(|r| {
            let (last, code) = (last.get(&r.id).copied(), codes.get(&r.questionnaire_id).cloned());
            r.into_response(code.unwrap_or_default(), today, last)
        })
        .collect())
}

/// List a client's questionnaire assignments
///
/// Oldest first, stopped ones too, each with the due date not answered yet.
#[utoipa::path(
    tag = "outcomes",
    operation_id = "list_questionnaire_assignments",
    params(("id" = Uuid, Path, description = "The client's id"), PageParams),
    responses(
        (status = 200, description = "A page of assignments", body = Page<QuestionnaireAssignmentResponse>),
        (status = 404, description = "No such client visible to the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["outcomes:read"]))
)]
#[get("/v1/clients/{id}/questionnaire-assignments")]
pub async fn list_questionnaire_assignments(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    p: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = p.limit()?;
    let after = p.after::<Uuid>()?;
    let mut conn = state.conn().await?;
    let (_, tz) = client_of(&mut conn, &caller, *id, Permission::OutcomesRead).await?;
    let rows = queries::client_assignments(&mut conn, caller.clinic_id, *id, false, after, limit).await?;
    let page = Page::from_rows(rows, limit, |r| r.id, |r| r);
    let items = assignment_responses(&mut conn, caller.clinic_id, page.items, tz).await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Stop a questionnaire assignment
///
/// JSON Merge Patch; `{"status": "stopped"}` stops it for good (nothing more is due; responses
/// made before still count). Stopping a stopped one changes nothing. Honours `If-Match`.
#[utoipa::path(
    tag = "outcomes",
    operation_id = "update_questionnaire_assignment",
    params(
        ("id" = Uuid, Path, description = "The questionnaire assignment's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body(content = UpdateQuestionnaireAssignmentRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The assignment", body = QuestionnaireAssignmentResponse, headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such assignment visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`status` may only become `stopped`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["outcomes:write"]))
)]
#[patch("/v1/questionnaire-assignments/{id}")]
pub async fn update_questionnaire_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateQuestionnaireAssignmentRequest>,
) -> Result<HttpResponse, ApiError> {
    if caller.own_client_id().is_some() {
        return Err(ApiError::forbidden(
            "Questionnaire assignments are changed by the clinic.",
        ));
    }
    caller.require(Permission::OutcomesWrite)?;
    let status = body.into_inner().status;
    if status == Some(QuestionnaireAssignmentStatus::Active) {
        return Err(ApiError::validation(
            "status",
            "may only become `stopped`: assign the questionnaire again to restart it",
        ));
    }
    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    let row = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let current = queries::find_assignment(conn, clinic_id, id, true)
                .await?
                .ok_or_else(|| ApiError::not_found("questionnaire assignment"))?;
            audit::client(current.client_id);
            if_match.check(current.version)?;
            if status.is_none() || current.status == QuestionnaireAssignmentStatus::Stopped {
                return Ok(current);
            }
            Ok(queries::stop_assignment(conn, id).await?)
        })
        .await?;
    let (_, tz) = client_queries::find_with_tz(&mut conn, clinic_id, row.client_id).await?;
    let a = assignment_responses(&mut conn, clinic_id, vec![row], tz)
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("an assignment vanished"))?;
    Ok(assignment_answer(HttpResponse::Ok(), &a))
}

/// My due questionnaires
///
/// For a client's login: each active questionnaire whose latest due date (in the client's
/// calendar) has no response on or after it, with the questionnaire to show.
#[utoipa::path(
    tag = "me",
    operation_id = "list_my_due_questionnaires",
    responses(
        (status = 200, description = "What is due", body = DueQuestionnairesResponse),
        (status = 403, description = "The caller is not a client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/me/questionnaires/due")]
pub async fn list_my_due_questionnaires(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let own = caller.require_own_client("questionnaires")?;
    let mut conn = state.conn().await?;
    let (_, tz) = client_queries::find_with_tz(&mut conn, caller.clinic_id, own).await?;
    audit::client(own);
    let rows = queries::client_assignments(&mut conn, caller.clinic_id, own, true, None, 1000).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let last = queries::last_answered(&mut conn, caller.clinic_id, &ids).await?;
    let today = local_date(Utc::now(), tz);
    let due: Vec<(Uuid, Uuid, chrono::NaiveDate)> = rows
        .iter()
        .filter_map(|r| {
            Some((
                r.id,
                r.questionnaire_id,
                r.schedule().due_since(today, last.get(&r.id).copied())?,
            ))
        })
        .collect();
    let qids: Vec<Uuid> = due.iter().map(|(_, q, _)| *q).collect();
    let defs: HashMap<Uuid, QuestionnaireRow> = queries::find_many(&mut conn, caller.clinic_id, &qids)
        .await?
        .into_iter()
        .map(|q| (q.id, q))
        .collect();
    let items = due
        .into_iter()
        .filter_map(|(assignment_id, q, due_since)| {
            Some(DueQuestionnaire {
                assignment_id,
                due_since,
                questionnaire: defs.get(&q)?.clone().into_response(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(DueQuestionnairesResponse { items }))
}

/// Who is answering, as the response records it.
fn answerer(caller: &Caller) -> (AnsweredBy, Option<Uuid>) {
    match &caller.principal {
        Principal::Member(m) if m.role == Role::Client => (AnsweredBy::Client, Some(m.membership_id)),
        Principal::Member(m) => (AnsweredBy::Practitioner, Some(m.membership_id)),
        Principal::ApiKey { .. } => (AnsweredBy::Integration, None),
    }
}

/// The answer for a client-made id that cannot name a new response of this client, whatever
/// the reason (DESIGN.md: "Unusable ids reveal nothing").
fn unusable_id() -> ApiError {
    ApiError::validation(
        "id",
        "cannot be used for this response: choose another id (a new random UUID)",
    )
}

/// Writes a new response once: `(true, it)` when new; for an id that exists, `(false, it)` for
/// a retry of the same content, else the answer that id deserves.
async fn answer_once(
    conn: &mut AsyncPgConnection,
    row: ResponseRow,
) -> Result<(bool, QuestionnaireAnswersResponse), ApiError> {
    if !queries::insert_response_if_new(conn, &row).await? {
        let existing = queries::find_response_any(conn, row.id)
            .await?
            .filter(|e| e.clinic_id == row.clinic_id && e.client_id == row.client_id);
        return match existing {
            Some(e) if e.content_hash == row.content_hash => Ok((false, e.into_response())),
            Some(_) => Err(ApiError::conflict(
                "A different response already has this id: a retry must send the same content, a new response needs a new id.",
            )),
            None => Err(unusable_id()),
        };
    }
    let clinic_id = row.clinic_id;
    let answered = row.into_response();
    events::emit(conn, clinic_id, EventType::QuestionnaireCompleted, &answered).await?;
    Ok((true, answered))
}

/// Answer a questionnaire
///
/// Records a completed questionnaire of an assignment: by the client, or by staff on the
/// client's behalf (`answered_by` says so; it is not a monitoring data day). Every item-level
/// answer is kept with its score. **Offline sync:** send a client-made UUID `id`; the first
/// request answers 201, a retry with the same id and content answers 200 with the stored
/// response, the same id with other content 409, and an id that cannot be used (another
/// client's, or unseen) 422 naming `id`. An answer out of its item's bounds, an unknown option
/// or a required item left out is a 422 naming the answer and the item.
#[utoipa::path(
    tag = "outcomes",
    operation_id = "create_questionnaire_response",
    params(("id" = Uuid, Path, description = "The questionnaire assignment's id")),
    request_body = CreateQuestionnaireAnswersRequest,
    responses(
        (status = 200, description = "A retry: the response stored under this id", body = QuestionnaireAnswersResponse),
        (status = 201, description = "Recorded", body = QuestionnaireAnswersResponse,
            headers(("Location" = String, description = "The client's outcomes"))),
        (status = 404, description = "No such assignment visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another response has this id, the assignment was stopped before, the client is archived, or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An answer breaks its item's rules (named), `answered_at` is out of range, or the `id` cannot be used", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["outcomes:write"]))
)]
#[post("/v1/questionnaire-assignments/{id}/responses")]
pub async fn create_questionnaire_response(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<CreateQuestionnaireAnswersRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner().validate()?;
    let mut conn = state.conn().await?;
    let assignment = queries::find_assignment(&mut conn, caller.clinic_id, *id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("questionnaire assignment"))?;
    caller.require_client_access(
        assignment.client_id,
        Permission::OutcomesWrite,
        "questionnaire assignment",
    )?;
    audit::client(assignment.client_id);
    let (client, tz) = client_queries::find_with_tz(&mut conn, caller.clinic_id, assignment.client_id).await?;
    if client.archived_at.is_some() {
        return Err(ApiError::conflict(
            "The client is archived: restore them before answering.",
        ));
    }
    let now = Utc::now().trunc_subsecs(6);
    let answered_at = req.answered_at.map_or(now, |t| t.with_timezone(&Utc));
    let mut v = Validator::new();
    v.check(
        local_date(answered_at, tz) >= assignment.start_date,
        "answered_at",
        format!(
            "must not be before the assignment's start date ({}, {})",
            assignment.start_date,
            tz.name()
        ),
    );
    v.check(
        answered_at <= now + Duration::minutes(FUTURE_SLACK_MINUTES),
        "answered_at",
        "must not be in the future",
    );
    v.finish()?;
    if assignment.stopped_at.is_some_and(|s| answered_at >= s) {
        return Err(ApiError::conflict(
            "The assignment was stopped before this response was made.",
        ));
    }
    let q = queries::find(&mut conn, caller.clinic_id, assignment.questionnaire_id)
        .await?
        .ok_or_else(|| ApiError::internal("an assigned questionnaire vanished"))?;
    let scored = scoring::score(&q.item_list(), &q.scoring(), &req.answers)?;
    let (role, by) = answerer(&caller);
    let row = ResponseRow {
        id: req.id.unwrap_or_else(Uuid::now_v7),
        clinic_id: caller.clinic_id,
        client_id: assignment.client_id,
        assignment_id: assignment.id,
        questionnaire_id: q.id,
        answered_at,
        local_date: local_date(answered_at, tz),
        answered_by: by,
        answered_by_role: role,
        answers: serde_json::to_value(&scored.answers).map_err(ApiError::internal)?,
        score: scored.score,
        answered_items: i32::try_from(scored.answered).unwrap_or(i32::MAX),
        content_hash: req.content_hash(assignment.id),
        created_at: now,
    };
    let (created, answered) = conn
        .transaction::<_, ApiError, _>(async move |conn| answer_once(conn, row).await)
        .await?;
    if created {
        let mut res = HttpResponse::Created();
        res.insert_header((LOCATION, format!("/v1/clients/{}/outcomes", answered.client_id)));
        Ok(res.json(answered))
    } else {
        Ok(HttpResponse::Ok().json(answered))
    }
}

/// A client's score series, one per questionnaire, with change from the first score.
pub async fn outcomes_of(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
) -> Result<Vec<OutcomeSeries>, ApiError> {
    let rows = queries::scores(conn, clinic_id, client_id).await?;
    let mut order: Vec<Uuid> = Vec::new();
    let mut series: HashMap<Uuid, Vec<ScorePoint>> = HashMap::new();
    for (q, response_id, answered_at, score) in rows {
        let Some(score) = score else { continue };
        if !series.contains_key(&q) {
            order.push(q);
        }
        series.entry(q).or_default().push(ScorePoint {
            response_id,
            answered_at,
            score,
        });
    }
    let defs: HashMap<Uuid, QuestionnaireRow> = queries::find_many(conn, clinic_id, &order)
        .await?
        .into_iter()
        .map(|q| (q.id, q))
        .collect();
    Ok(order
        .into_iter()
        .filter_map(|id| {
            let q = defs.get(&id)?;
            let points = series.remove(&id).unwrap_or_default();
            let (change, reaches_mcid) = change(q.direction, q.mcid, &points);
            Some(OutcomeSeries {
                questionnaire_id: id,
                code: q.code.clone(),
                name: q.name.clone(),
                direction: q.direction,
                mcid: q.mcid,
                series: points,
                change,
                reaches_mcid,
            })
        })
        .collect())
}

/// A client's outcomes
///
/// Per questionnaire answered with a score: the series of scores (oldest first), the change
/// from the first score to the latest, and whether it reaches the MCID in the better direction.
#[utoipa::path(
    tag = "outcomes",
    operation_id = "get_client_outcomes",
    params(("id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The outcomes", body = OutcomesResponse),
        (status = 404, description = "No such client visible to the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["outcomes:read"]))
)]
#[get("/v1/clients/{id}/outcomes")]
pub async fn get_client_outcomes(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    client_of(&mut conn, &caller, *id, Permission::OutcomesRead).await?;
    let items = outcomes_of(&mut conn, caller.clinic_id, *id).await?;
    Ok(HttpResponse::Ok().json(OutcomesResponse { items }))
}

/// My outcomes
///
/// For a client's login: their own score series, as `GET /v1/clients/{id}/outcomes`.
#[utoipa::path(
    tag = "me",
    operation_id = "get_my_outcomes",
    responses(
        (status = 200, description = "The outcomes", body = OutcomesResponse),
        (status = 403, description = "The caller is not a client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/me/outcomes")]
pub async fn get_my_outcomes(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let own = caller.require_own_client("outcomes")?;
    let mut conn = state.conn().await?;
    audit::client(own);
    let items = outcomes_of(&mut conn, caller.clinic_id, own).await?;
    Ok(HttpResponse::Ok().json(OutcomesResponse { items }))
}
