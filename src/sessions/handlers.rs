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
use crate::sessions::queries::{self, Key, SessionChanges, SessionRow};
use crate::state::AppState;
use crate::values::parse_text;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, HttpResponseBuilder, delete, get, patch, post, web};
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, SubsecRound, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// How far in the future `performed_at` may be (clocks drift).
const FUTURE_SLACK_MINUTES: i64 = 5;
const NOTES: usize = 2000;
const ENTRY_NOTES: usize = 1000;

fn answer(mut res: HttpResponseBuilder, s: &SessionResponse) -> HttpResponse {
    with_etag(&mut res, s.version);
    res.json(s)
}

/// The content of a log after validation: what a replay is compared by. Shared with the demo
/// generator, whose logs must compare equal to a client's replay of them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Content {
    pub(crate) performed_at: DateTime<Utc>,
    pub(crate) duration_seconds: Option<i32>,
    pub(crate) pain_before: Option<i16>,
    pub(crate) pain_after: Option<i16>,
    pub(crate) effort: Option<i16>,
    pub(crate) notes: Option<String>,
    pub(crate) entries: Vec<EntryBody>,
    pub(crate) measurements: Vec<MeasurementBody>,
}

impl Content {
    /// SHA-256 of the content in canonical form: instants in UTC, so the same instant written
    /// with another offset is the same log.
    pub(crate) fn hash(&self, assignment_id: Uuid) -> Vec<u8> {
        let canonical = serde_json::json!({
            "assignment_id": assignment_id,
            "performed_at": self.performed_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "duration_seconds": self.duration_seconds,
            "pain_before": self.pain_before,
            "pain_after": self.pain_after,
            "effort": self.effort,
            "notes": self.notes,
            "entries": self.entries,
            "measurements": self.measurements,
        });
        Sha256::digest(canonical.to_string().as_bytes()).to_vec()
    }
}

fn check_score(v: &mut Validator, field: &str, value: Option<i16>) {
    if let Some(n) = value {
        v.check((0..=10).contains(&n), field, "must be between 0 and 10");
    }
}

fn check_notes(v: &mut Validator, field: &str, raw: Option<String>, max: usize) -> Option<String> {
    raw.filter(|n| !n.trim().is_empty())
        .and_then(|n| v.parse(field, parse_text(&n, max)))
}

fn check_entries(v: &mut Validator, entries: Vec<EntryBody>) -> Vec<EntryBody> {
    if entries.len() > 200 {
        v.add("entries", "must have at most 200 entries");
        return Vec::new();
    }
    entries
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            let f = |name: &str| format!("entries[{i}].{name}");
            let mut range = |name: &str, value: Option<i32>, max: i32| {
                if let Some(n) = value {
                    v.check((0..=max).contains(&n), f(name), format!("must be between 0 and {max}"));
                }
            };
            range("sets_done", e.sets_done, 100);
            range("reps_done", e.reps_done, 1000);
            range("hold_seconds", e.hold_seconds, 7200);
            check_score(v, &f("pain"), e.pain);
            e.notes = check_notes(v, &f("notes"), e.notes.take(), ENTRY_NOTES);
            e
        })
        .collect()
}

fn check_measurements(v: &mut Validator, measurements: &[MeasurementBody]) {
    v.check(
        measurements.len() <= 100,
        "measurements",
        "must have at most 100 measurements",
    );
    for (i, m) in measurements.iter().enumerate() {
        let spec = m.kind.spec();
        let field = |name: &str| format!("measurements[{i}].{name}");
        v.check(
            m.value.is_finite() && (spec.min..=spec.max).contains(&m.value),
            field("value"),
            format!(
                "must be between {} and {} {} for {}",
                spec.min, spec.max, spec.unit, m.kind
            ),
        );
        let side_ok = if spec.sided {
            m.side != MeasurementSide::None
        } else {
            m.side == MeasurementSide::None
        };
        v.check(
            side_ok,
            field("side"),
            if spec.sided {
                format!("must be `left` or `right` for {}", m.kind)
            } else {
                format!("must be `none` for {}", m.kind)
            },
        );
    }
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
fn logger(caller: &Caller) -> (LoggedByRole, Option<Uuid>) {
    match &caller.principal {
        Principal::Member(m) if m.role == Role::Client => (LoggedByRole::Client, Some(m.membership_id)),
        Principal::Member(m) => (LoggedByRole::Practitioner, Some(m.membership_id)),
        Principal::ApiKey { .. } => (LoggedByRole::Integration, None),
    }
}

fn may_read(caller: &Caller, row: &SessionRow) -> Result<(), ApiError> {
    caller.require_client_access(row.client_id, Permission::SessionsRead, "session")
}

/// Changing a log: whoever logged it (an integration's logs: any key with `sessions:write`).
fn may_change(caller: &Caller, row: &SessionRow) -> Result<(), ApiError> {
    caller.require_client_access(row.client_id, Permission::SessionsWrite, "session")?;
    let (role, by) = logger(caller);
    if role == row.logged_by_role && by == row.logged_by {
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
    let body = body.into_inner();
    let mut v = Validator::new();
    check_score(&mut v, "pain_before", body.pain_before);
    check_score(&mut v, "pain_after", body.pain_after);
    check_score(&mut v, "effort", body.effort);
    if let Some(d) = body.duration_seconds {
        v.check(
            (0..=86_400).contains(&d),
            "duration_seconds",
            "must be between 0 and 86400",
        );
    }
    let notes = check_notes(&mut v, "notes", body.notes, NOTES);
    let entries = check_entries(&mut v, body.entries);
    check_measurements(&mut v, &body.measurements);
    v.finish()?;
    // PostgreSQL keeps microseconds: the first answer must say what a replay will read back.
    let content = Content {
        performed_at: body.performed_at.with_timezone(&Utc).trunc_subsecs(6),
        duration_seconds: body.duration_seconds,
        pain_before: body.pain_before,
        pain_after: body.pain_after,
        effort: body.effort,
        notes,
        entries,
        measurements: body.measurements,
    };

    let mut conn = state.conn().await?;
    let (assignment, tz) = loggable(&mut conn, &caller, *id).await?;
    let mut v = Validator::new();
    check_performed_at(&mut v, content.performed_at, assignment.start_date, tz);
    v.finish()?;
    check_items_belong(&mut conn, caller.clinic_id, assignment.id, &content.entries).await?;

    let (role, by) = logger(&caller);
    let clinic_id = caller.clinic_id;
    let hash = content.hash(assignment.id);
    let now = Utc::now().trunc_subsecs(6);
    let row = SessionRow {
        id: body.id.unwrap_or_else(Uuid::now_v7),
        clinic_id,
        client_id: assignment.client_id,
        assignment_id: assignment.id,
        performed_at: content.performed_at,
        local_date: content.performed_at.with_timezone(&tz).date_naive(),
        duration_seconds: content.duration_seconds,
        pain_before: content.pain_before,
        pain_after: content.pain_after,
        effort: content.effort,
        notes: content.notes.clone(),
        logged_by: by,
        logged_by_role: role,
        flagged: queries::is_flagged(content.pain_before, content.pain_after),
        reviewed_at: None,
        reviewed_by: None,
        review_note: None,
        content_hash: hash.clone(),
        deleted_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let (created, session) = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            if !queries::insert_if_new(conn, &row).await? {
                // The id exists: a retry of this client's log, another of their logs, or a log
                // the caller has no business knowing about. The last answers exactly as any
                // other unusable id, so an id reveals nothing of other clients or clinics.
                let existing = queries::find_any(conn, row.id)
                    .await?
                    .filter(|e| e.clinic_id == clinic_id && e.client_id == row.client_id);
                return match existing {
                    Some(e) if e.content_hash == hash && e.deleted_at.is_none() => {
                        Ok((false, queries::response(conn, e).await?))
                    }
                    Some(e) if e.deleted_at.is_some() => {
                        Err(ApiError::conflict("A log with this id was deleted; it is not logged again."))
                    }
                    Some(_) => Err(ApiError::conflict(
                        "A different log already has this id: a retry must send the same content, a new log needs a new id.",
                    )),
                    None => Err(unusable_id()),
                };
            }
            let entry_rows = queries::entry_rows(clinic_id, row.id, &content.entries);
            let measurement_rows = queries::measurement_rows(clinic_id, row.id, row.client_id, &content.measurements);
            queries::replace_details(conn, clinic_id, row.id, Some(&entry_rows), Some(&measurement_rows)).await?;
            let flagged = row.flagged;
            let session = queries::response(conn, row).await?;
            events::emit(conn, clinic_id, EventType::SessionLogged, &session).await?;
            if flagged {
                events::emit(conn, clinic_id, EventType::SessionFlagged, &session).await?;
            }
            Ok((true, session))
        })
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
    let body = body.into_inner();
    let mut v = Validator::new();
    let performed_at = body
        .performed_at
        .required("performed_at", &mut v)
        .map(|t| t.with_timezone(&Utc).trunc_subsecs(6));
    let duration = body.duration_seconds.into_change();
    if let Some(Some(d)) = duration {
        v.check(
            (0..=86_400).contains(&d),
            "duration_seconds",
            "must be between 0 and 86400",
        );
    }
    let pain_before = body.pain_before.into_change();
    let pain_after = body.pain_after.into_change();
    let effort = body.effort.into_change();
    check_score(&mut v, "pain_before", pain_before.flatten());
    check_score(&mut v, "pain_after", pain_after.flatten());
    check_score(&mut v, "effort", effort.flatten());
    let notes = body.notes.into_change().map(|n| check_notes(&mut v, "notes", n, NOTES));
    let entries = body
        .entries
        .required("entries", &mut v)
        .map(|e| check_entries(&mut v, e));
    let measurements = body.measurements.required("measurements", &mut v);
    if let Some(m) = &measurements {
        check_measurements(&mut v, m);
    }
    v.finish()?;

    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    let session = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let current = live(conn, clinic_id, id, true).await?;
            may_change(&caller, &current)?;
            if_match.check(current.version)?;
            let (assignment, tz) = loggable(conn, &caller, current.assignment_id).await?;
            if let Some(at) = performed_at {
                let mut v = Validator::new();
                check_performed_at(&mut v, at, assignment.start_date, tz);
                v.finish()?;
            }
            if let Some(e) = &entries {
                check_items_belong(conn, clinic_id, assignment.id, e).await?;
            }
            let before = queries::response(conn, current.clone()).await?;
            let content = Content {
                performed_at: performed_at.unwrap_or(before.performed_at),
                duration_seconds: duration.unwrap_or(before.duration_seconds),
                pain_before: pain_before.unwrap_or(before.pain_before),
                pain_after: pain_after.unwrap_or(before.pain_after),
                effort: effort.unwrap_or(before.effort),
                notes: notes.clone().unwrap_or(before.notes.clone()),
                entries: entries.clone().unwrap_or(before.entries.clone()),
                measurements: measurements.clone().unwrap_or(before.measurements.clone()),
            };
            let flagged = queries::is_flagged(content.pain_before, content.pain_after);
            let changes = SessionChanges {
                performed_at: Some(content.performed_at),
                local_date: Some(content.performed_at.with_timezone(&tz).date_naive()),
                duration_seconds: Some(content.duration_seconds),
                pain_before: Some(content.pain_before),
                pain_after: Some(content.pain_after),
                effort: Some(content.effort),
                notes: Some(content.notes.clone()),
                flagged: Some(flagged),
                content_hash: Some(content.hash(assignment.id)),
                ..Default::default()
            };
            let row = queries::update(conn, id, &changes).await?;
            let entry_rows = entries.as_ref().map(|e| queries::entry_rows(clinic_id, id, e));
            let measurement_rows = measurements
                .as_ref()
                .map(|m| queries::measurement_rows(clinic_id, id, row.client_id, m));
            queries::replace_details(conn, clinic_id, id, entry_rows.as_deref(), measurement_rows.as_deref()).await?;
            let session = queries::response(conn, row).await?;
            events::emit(conn, clinic_id, EventType::SessionUpdated, &session).await?;
            if flagged && !current.flagged {
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
    let mut v = Validator::new();
    let note = check_notes(&mut v, "note", body.0.unwrap_or_default().note, NOTES);
    v.finish()?;
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
