use crate::assignments::queries as assignment_queries;
use crate::audit::note as audit;
use crate::auth::extractor::Principal;
use crate::auth::{Caller, Permission, Role};
use crate::clients::queries as client_queries;
use crate::db::schema::assignment_items;
use crate::error::{ApiError, Problem, Validator};
use crate::events::{self, EventType};
use crate::http::etag::{IfMatch, with_etag};
use crate::http::json::{Json, OptionalJson};
use crate::http::pagination::{Page, PageParams};
use crate::sessions::dto::*;
use crate::sessions::queries::{self, Key, Logger, SessionChanges, SessionRow};
use crate::state::AppState;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, HttpResponseBuilder, delete, get, patch, post, web};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// How far in the future `performed_at` may be (clocks drift).
const FUTURE_SLACK_MINUTES: i64 = 5;

fn answer(mut res: HttpResponseBuilder, s: &SessionResponse) -> HttpResponse {
    with_etag(&mut res, s.version);
    res.json(s)
}

/// The first instant of a local date in `tz`.
fn start_of(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

fn check_performed_at(v: &mut Validator, at: DateTime<Utc>, start_date: NaiveDate, tz: Tz) {
    if at < start_of(start_date, tz) {
        v.add(
            "performed_at",
            format!(
                "must not be before the assignment's start date ({start_date}, {})",
                tz.name()
            ),
        );
    }
    if at > Utc::now() + Duration::minutes(FUTURE_SLACK_MINUTES) {
        v.add("performed_at", "must not be in the future");
    }
}

/// 422 unless every entry points at an item of this assignment (current or removed since).
async fn check_items_belong(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    assignment_id: Uuid,
    entries: &[EntryBody],
) -> Result<(), ApiError> {
    let ids: Vec<Uuid> = assignment_items::table
        .filter(assignment_items::clinic_id.eq(clinic_id))
        .filter(assignment_items::assignment_id.eq(assignment_id))
        .select(assignment_items::id)
        .load(conn)
        .await?;
    let mut v = Validator::new();
    for (i, e) in entries.iter().enumerate() {
        v.check(
            ids.contains(&e.assignment_item_id),
            format!("entries[{i}].assignment_item_id"),
            "is not an item of this assignment",
        );
    }
    v.finish()
}

/// Who is logging, as the log records it.
fn logger(caller: &Caller) -> Logger {
    let (role, by) = match &caller.principal {
        Principal::Member(m) if m.role == Role::Client => (LoggedByRole::Client, Some(m.membership_id)),
        Principal::Member(m) => (LoggedByRole::Practitioner, Some(m.membership_id)),
        Principal::ApiKey { .. } => (LoggedByRole::Integration, None),
    };
    Logger { role, by }
}

fn may_read(caller: &Caller, row: &SessionRow) -> Result<(), ApiError> {
    caller.require_client_access(row.client_id, Permission::SessionsRead, "session")
}

/// Changing a log: whoever logged it (an integration's logs: any key with `sessions:write`).
fn may_change(caller: &Caller, row: &SessionRow) -> Result<(), ApiError> {
    caller.require_client_access(row.client_id, Permission::SessionsWrite, "session")?;
    let me = logger(caller);
    if me.role == row.logged_by_role && me.by == row.logged_by {
        Ok(())
    } else {
        Err(ApiError::forbidden("Only whoever logged a session may change it."))
    }
}

/// The answer for a client-made id that cannot name a new log of this client, whatever the
/// reason (DESIGN.md: "Unusable ids reveal nothing").
fn unusable_id() -> ApiError {
    ApiError::validation(
        "id",
        "cannot be used for this log: choose another id (a new random UUID)",
    )
}

/// The assignment being logged, its client's timezone, for a caller that may log it.
async fn loggable(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    assignment_id: Uuid,
) -> Result<(assignment_queries::AssignmentRow, Tz), ApiError> {
    let assignment = assignment_queries::find(conn, caller.clinic_id, assignment_id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("assignment"))?;
    caller.require_client_access(assignment.client_id, Permission::SessionsWrite, "assignment")?;
    audit::client(assignment.client_id);
    let (client, _) = client_queries::find(conn, caller.clinic_id, assignment.client_id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("assignment"))?;
    if client.archived_at.is_some() {
        return Err(ApiError::conflict(
            "The client is archived: restore them before logging sessions.",
        ));
    }
    let tz = client.tz()?;
    Ok((assignment, tz))
}

/// The rules a log's content must keep with its assignment: its time, and items of its own.
async fn check_against_assignment(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    assignment: &assignment_queries::AssignmentRow,
    tz: Tz,
    content: &Content,
) -> Result<(), ApiError> {
    let mut v = Validator::new();
    check_performed_at(&mut v, content.performed_at, assignment.start_date, tz);
    v.finish()?;
    check_items_belong(conn, clinic_id, assignment.id, &content.entries).await
}

/// Writes a new log once: `(true, log)` when it is new; for an id that exists, `(false, log)`
/// for a retry of the same content, else the answer that id deserves. An id held by a log the
/// caller has no business knowing about answers exactly as any other unusable id, so an id
/// reveals nothing of other clients or clinics.
async fn log_once(
    conn: &mut AsyncPgConnection,
    row: SessionRow,
    content: &Content,
) -> Result<(bool, SessionResponse), ApiError> {
    let clinic_id = row.clinic_id;
    if !queries::insert_if_new(conn, &row).await? {
        let existing = queries::find_any(conn, row.id)
            .await?
            .filter(|e| e.clinic_id == clinic_id && e.client_id == row.client_id);
        return match existing {
            Some(e) if e.content_hash == row.content_hash && e.deleted_at.is_none() => {
                Ok((false, queries::response(conn, e).await?))
            }
            Some(e) if e.deleted_at.is_some() => Err(ApiError::conflict(
                "A log with this id was deleted; it is not logged again.",
            )),
            Some(_) => Err(ApiError::conflict(
                "A different log already has this id: a retry must send the same content, a new log needs a new id.",
            )),
            None => Err(unusable_id()),
        };
    }
    let entry_rows = queries::entry_rows(clinic_id, row.id, &content.entries);
    let measurement_rows = queries::measurement_rows(clinic_id, row.id, row.client_id, &content.measurements);
    queries::insert_details(conn, &entry_rows, &measurement_rows).await?;
    let flagged = row.flagged;
    let session = queries::response(conn, row).await?;
    events::emit(conn, clinic_id, EventType::SessionLogged, &session).await?;
    if flagged {
        events::emit(conn, clinic_id, EventType::SessionFlagged, &session).await?;
    }
    Ok((true, session))
}

/// Log a session
///
/// Records one performance of an assignment: by the client, or by a practitioner on the
/// client's behalf. **Offline sync:** send a client-made UUID `id`; the first request answers
/// 201, a retry with the same id and the same content (compared as values: the same instant in
/// another offset is the same) answers 200 with the stored log, and the same id with different
/// content answers 409. An id that cannot be used (taken by a log the caller cannot see, or by
/// another client's) answers 422 naming `id`: choose another. Concurrent retries make exactly
/// one log. A log with pain after of 7 or
/// more, or 3 more than before, is flagged for review. `performed_at` may be any time from the
/// assignment's start date (client's timezone) to 5 minutes from now.
#[utoipa::path(
    tag = "sessions",
    operation_id = "create_session",
    params(("id" = Uuid, Path, description = "The assignment's id")),
    request_body = CreateSessionRequest,
    responses(
        (status = 200, description = "A retry: the log stored under this id", body = SessionResponse,
            headers(("ETag" = String, description = "Its version"))),
        (status = 201, description = "Logged", body = SessionResponse,
            headers(("Location" = String, description = "The log"), ("ETag" = String, description = "Its version"))),
        (status = 403, description = "Needs `sessions:write` (or the client's own login)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such assignment visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another log of this client has this id, the client is archived, or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule (ranges, an entry of another assignment, a time outside the assignment), or the `id` cannot be used: choose another", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["sessions:write"]))
)]
#[post("/v1/assignments/{id}/sessions")]
pub async fn create_session(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<CreateSessionRequest>,
) -> Result<HttpResponse, ApiError> {
    let log = body.into_inner().validate()?;
    let mut conn = state.conn().await?;
    let (assignment, tz) = loggable(&mut conn, &caller, *id).await?;
    check_against_assignment(&mut conn, caller.clinic_id, &assignment, tz, &log.content).await?;
    let row = SessionRow::new(
        log.id.unwrap_or_else(Uuid::now_v7),
        caller.clinic_id,
        (assignment.id, assignment.client_id),
        tz,
        &log.content,
        logger(&caller),
    );
    let (created, session) = conn
        .transaction::<_, ApiError, _>(async move |conn| log_once(conn, row, &log.content).await)
        .await?;
    if created {
        let mut res = HttpResponse::Created();
        res.insert_header((LOCATION, format!("/v1/sessions/{}", session.id)));
        Ok(answer(res, &session))
    } else {
        Ok(answer(HttpResponse::Ok(), &session))
    }
}

async fn page(
    state: &AppState,
    clinic_id: Uuid,
    filter: ListFilter,
    page: &PageParams,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let after = page.after::<Key>()?;
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, clinic_id, &filter, after, limit).await?;
    let page = Page::from_rows(rows, limit, |r| (r.performed_at, r.id), |r| r);
    audit::clients(page.items.iter().map(|r| r.client_id));
    let items = queries::responses(&mut conn, clinic_id, page.items).await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// List a client's sessions
///
/// The client's logs, newest first; `from`/`to` are dates in the client's calendar.
#[utoipa::path(
    tag = "sessions",
    operation_id = "list_client_sessions",
    params(("id" = Uuid, Path, description = "The client's id"), ListSessionsQuery, PageParams),
    responses(
        (status = 200, description = "A page of logs", body = Page<SessionResponse>),
        (status = 422, description = "`to` is before `from`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client visible to the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["sessions:read"]))
)]
#[get("/v1/clients/{id}/sessions")]
pub async fn list_client_sessions(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    q: web::Query<ListSessionsQuery>,
    p: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_client_access(*id, Permission::SessionsRead, "client")?;
    let filter = q.filter(*id)?;
    {
        let mut conn = state.conn().await?;
        client_queries::find(&mut conn, caller.clinic_id, *id, false)
            .await?
            .ok_or_else(|| ApiError::not_found("client"))?;
    }
    page(&state, caller.clinic_id, filter, &p).await
}

/// List my sessions
///
/// For a client's login: their own logs, newest first.
#[utoipa::path(
    tag = "me",
    operation_id = "list_my_sessions",
    params(ListSessionsQuery, PageParams),
    responses(
        (status = 200, description = "A page of logs", body = Page<SessionResponse>),
        (status = 422, description = "`to` is before `from`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not a client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/me/sessions")]
pub async fn list_my_sessions(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ListSessionsQuery>,
    p: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let own = caller.require_own_client("sessions")?;
    page(&state, caller.clinic_id, q.filter(own)?, &p).await
}

/// List the clinic's sessions
///
/// Every client's logs, newest first. `flagged=true&reviewed=false` is the clinic's list of
/// open flags: logs with worrying pain that no practitioner has reviewed yet.
#[utoipa::path(
    tag = "sessions",
    operation_id = "list_sessions",
    params(ListClinicSessionsQuery, PageParams),
    responses(
        (status = 200, description = "A page of logs", body = Page<SessionResponse>),
    ),
    security(("bearer" = ["sessions:read"]))
)]
#[get("/v1/sessions")]
pub async fn list_sessions(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ListClinicSessionsQuery>,
    p: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::SessionsRead)?;
    let filter = ListFilter {
        client_id: None,
        assignment_id: None,
        from: None,
        to: None,
        flagged: q.flagged,
        reviewed: q.reviewed,
    };
    page(&state, caller.clinic_id, filter, &p).await
}

async fn live(conn: &mut AsyncPgConnection, clinic_id: Uuid, id: Uuid, lock: bool) -> Result<SessionRow, ApiError> {
    let row = queries::find(conn, clinic_id, id, lock)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found("session"))?;
    audit::client(row.client_id);
    Ok(row)
}

/// Get a session
#[utoipa::path(
    tag = "sessions",
    operation_id = "get_session",
    params(("id" = Uuid, Path, description = "The log's id")),
    responses(
        (status = 200, description = "The log", body = SessionResponse, headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such log visible to the caller (or it was deleted)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["sessions:read"]))
)]
#[get("/v1/sessions/{id}")]
pub async fn get_session(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let row = live(&mut conn, caller.clinic_id, *id, false).await?;
    may_read(&caller, &row)?;
    Ok(answer(HttpResponse::Ok(), &queries::response(&mut conn, row).await?))
}

/// Update a session
///
/// JSON Merge Patch, by whoever logged it; `entries` and `measurements` are replaced whole.
/// The flag is worked out again (a newly flagged log emits `session.flagged`). After a change,
/// a retry of the original log with its id answers 409, as the content differs. Honours
/// `If-Match`.
#[utoipa::path(
    tag = "sessions",
    operation_id = "update_session",
    params(
        ("id" = Uuid, Path, description = "The log's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body(content = UpdateSessionRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated log", body = SessionResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 403, description = "Not whoever logged it, or needs `sessions:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such log visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["sessions:write"]))
)]
#[patch("/v1/sessions/{id}")]
pub async fn update_session(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateSessionRequest>,
) -> Result<HttpResponse, ApiError> {
    let changes = body.into_inner().validate()?;
    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    let session = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let current = live(conn, clinic_id, id, true).await?;
            may_change(&caller, &current)?;
            if_match.check(current.version)?;
            let (assignment, tz) = loggable(conn, &caller, current.assignment_id).await?;
            let was_flagged = current.flagged;
            let content = changes.applied_to(&queries::response(conn, current).await?);
            check_against_assignment(conn, clinic_id, &assignment, tz, &content).await?;
            let row = queries::update(conn, id, &SessionChanges::content(&content, assignment.id, tz)).await?;
            let entry_rows = changes.entries.as_ref().map(|e| queries::entry_rows(clinic_id, id, e));
            let measurement_rows =
                (changes.measurements.as_ref()).map(|m| queries::measurement_rows(clinic_id, id, row.client_id, m));
            queries::replace_details(conn, clinic_id, id, entry_rows.as_deref(), measurement_rows.as_deref()).await?;
            let session = queries::response(conn, row).await?;
            events::emit(conn, clinic_id, EventType::SessionUpdated, &session).await?;
            if session.flagged && !was_flagged {
                events::emit(conn, clinic_id, EventType::SessionFlagged, &session).await?;
            }
            Ok(session)
        })
        .await?;
    Ok(answer(HttpResponse::Ok(), &session))
}

/// Delete a session
///
/// By whoever logged it, or by staff (`sessions:write`). Afterwards the log answers 404 and
/// no longer counts in the agenda or progress; the row is kept for the record. Honours
/// `If-Match`.
#[utoipa::path(
    tag = "sessions",
    operation_id = "delete_session",
    params(
        ("id" = Uuid, Path, description = "The log's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not whoever logged it, or needs `sessions:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such log visible to the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["sessions:write"]))
)]
#[delete("/v1/sessions/{id}")]
pub async fn delete_session(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async move |conn| {
        let current = live(conn, clinic_id, id, true).await?;
        // Whoever logged it may delete it; so may staff, to remove a mistaken log.
        if let Err(e) = may_change(&caller, &current) {
            if caller.own_client_id().is_some() {
                return Err(e);
            }
            caller.require_client_access(current.client_id, Permission::SessionsWrite, "session")?;
        }
        if_match.check(current.version)?;
        let row = queries::update(
            conn,
            id,
            &SessionChanges {
                deleted_at: Some(Some(Utc::now())),
                ..Default::default()
            },
        )
        .await?;
        let session = queries::response(conn, row).await?;
        events::emit(conn, clinic_id, EventType::SessionDeleted, &session).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Review a flagged session
///
/// A practitioner closes the flag of a log, with an optional note; it leaves the clinic's list
/// of open flags. The body may be left out.
#[utoipa::path(
    tag = "sessions",
    operation_id = "review_session",
    params(("id" = Uuid, Path, description = "The log's id")),
    request_body(content = ReviewSessionRequest, description = "Optional"),
    responses(
        (status = 200, description = "The reviewed log", body = SessionResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 403, description = "Needs `sessions:write` (staff)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such log in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The log is not flagged, or was reviewed already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The note breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["sessions:write"]))
)]
#[post("/v1/sessions/{id}/review")]
pub async fn review_session(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: OptionalJson<ReviewSessionRequest>,
) -> Result<HttpResponse, ApiError> {
    if caller.own_client_id().is_some() {
        return Err(ApiError::forbidden("Flags are reviewed by practitioners."));
    }
    caller.require(Permission::SessionsWrite)?;
    let note = body.0.unwrap_or_default().validate()?;
    let (clinic_id, id, reviewer) = (caller.clinic_id, *id, caller.practitioner_id());
    let mut conn = state.conn().await?;
    let session = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let current = live(conn, clinic_id, id, true).await?;
            if !current.flagged {
                return Err(ApiError::conflict(
                    "The session is not flagged: there is nothing to review.",
                ));
            }
            if current.reviewed_at.is_some() {
                return Err(ApiError::conflict("The flag was reviewed already."));
            }
            let changes = SessionChanges {
                reviewed_at: Some(Some(Utc::now())),
                reviewed_by: Some(reviewer),
                review_note: Some(note),
                ..Default::default()
            };
            let row = queries::update(conn, id, &changes).await?;
            let session = queries::response(conn, row).await?;
            events::emit(conn, clinic_id, EventType::SessionUpdated, &session).await?;
            Ok(session)
        })
        .await?;
    Ok(answer(HttpResponse::Ok(), &session))
}
