use crate::assignments::schedule::local_date;
use crate::audit::note as audit;
use crate::auth::{Caller, Permission, Role, queries as auth_queries};
use crate::clients::dto::*;
use crate::clients::queries::{self, ClientChanges, ClientRow, ListFilter, NewClient};
use crate::error::{ApiError, Problem, Validator, is_unique_violation};
use crate::events::{self, EventType};
use crate::http::etag::{IfMatch, with_etag};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageParams};
use crate::http::patch::Patch;
use crate::invitations::{self, InvitationResponse};
use crate::practitioners::queries::{NewMembership, insert_membership};
use crate::progress::recent;
use crate::state::AppState;
use crate::values::{Email, parse_external_id, parse_name, parse_timezone};
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

fn translate(e: diesel::result::Error) -> ApiError {
    if is_unique_violation(&e, "clients_clinic_external_id_key") {
        ApiError::conflict("Another client of this clinic already has that external_id.")
    } else {
        e.into()
    }
}

fn answer(mut res: actix_web::HttpResponseBuilder, c: &ClientResponse) -> HttpResponse {
    with_etag(&mut res, c.version);
    res.json(c)
}

/// Validated field values of a create, patch or upsert; `None` = not given.
#[derive(Default)]
struct Fields {
    name: Option<String>,
    email: Option<Option<String>>,
    timezone: Option<String>,
    external_id: Option<Option<String>>,
    primary_practitioner_id: Option<Option<Uuid>>,
}

fn nullable_email(p: Patch<String>, v: &mut Validator) -> Option<Option<String>> {
    p.into_change()
        .map(|e| e.and_then(|e| v.parse("email", Email::parse(&e)).map(Email::into_string)))
}

fn required_name(p: Patch<String>, v: &mut Validator) -> Option<String> {
    p.required("name", v).and_then(|n| v.parse("name", parse_name(&n)))
}

fn required_timezone(p: Patch<String>, v: &mut Validator) -> Option<String> {
    p.required("timezone", v)
        .and_then(|t| v.parse("timezone", parse_timezone(&t)))
        .map(|tz| tz.name().to_string())
}

impl Fields {
    /// The changes these fields make to `current`; unchanged values are left out.
    fn changes<'a>(&'a self, current: &ClientRow) -> ClientChanges<'a> {
        ClientChanges {
            name: self.name.as_deref().filter(|n| *n != current.name),
            email: self
                .email
                .as_ref()
                .map(|e| e.as_deref())
                .filter(|e| *e != current.email.as_deref()),
            timezone: self.timezone.as_deref().filter(|t| *t != current.timezone),
            external_id: self
                .external_id
                .as_ref()
                .map(|e| e.as_deref())
                .filter(|e| *e != current.external_id.as_deref()),
            primary_practitioner_id: self
                .primary_practitioner_id
                .filter(|p| *p != current.primary_practitioner_id),
            archived_at: None,
        }
    }
}

/// 422 unless a newly set primary practitioner is an active practitioner of the clinic.
async fn check_practitioner(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Option<Option<Uuid>>,
) -> Result<(), ApiError> {
    if let Some(Some(id)) = id
        && !queries::is_active_practitioner(conn, clinic_id, id).await?
    {
        return Err(ApiError::validation(
            "primary_practitioner_id",
            "is not an active practitioner of this clinic",
        ));
    }
    Ok(())
}

async fn create(conn: &mut AsyncPgConnection, clinic_id: Uuid, f: &Fields) -> Result<ClientResponse, ApiError> {
    check_practitioner(conn, clinic_id, f.primary_practitioner_id).await?;
    let (Some(name), Some(timezone)) = (f.name.as_deref(), f.timezone.as_deref()) else {
        return Err(ApiError::internal("create without name or timezone"));
    };
    let row = queries::insert(
        conn,
        &NewClient {
            id: Uuid::now_v7(),
            clinic_id,
            name,
            email: f.email.clone().flatten().as_deref(),
            timezone,
            primary_practitioner_id: f.primary_practitioner_id.flatten(),
            external_id: f.external_id.clone().flatten().as_deref(),
        },
    )
    .await
    .map_err(translate)?;
    let client = row.into_response(None);
    events::emit(conn, clinic_id, EventType::ClientCreated, &client).await?;
    Ok(client)
}

/// Applies field changes and an archive toggle, emitting the events they amount to.
async fn apply(
    conn: &mut AsyncPgConnection,
    current: ClientRow,
    login: Option<DateTime<Utc>>,
    mut changes: ClientChanges<'_>,
    archive: Option<bool>,
) -> Result<ClientResponse, ApiError> {
    let fields_changed = !changes.is_empty();
    let toggled = archive.filter(|a| *a != current.archived_at.is_some());
    if !fields_changed && toggled.is_none() {
        return Ok(current.into_response(login));
    }
    check_practitioner(conn, current.clinic_id, changes.primary_practitioner_id).await?;
    if let Some(archive) = toggled {
        changes.archived_at = Some(archive.then(Utc::now));
    }
    let row = queries::update(conn, current.id, &changes).await.map_err(translate)?;
    queries::sync_login(conn, &row).await?;
    if toggled == Some(true)
        && let Some(membership_id) = queries::login_membership(conn, row.id).await?
    {
        // Archiving ends the client's sign-ins; after a restore they sign in again.
        auth_queries::end_sign_ins(conn, membership_id).await?;
    }
    let clinic_id = row.clinic_id;
    let client = row.into_response(login);
    if fields_changed {
        events::emit(conn, clinic_id, EventType::ClientUpdated, &client).await?;
    }
    match toggled {
        Some(true) => events::emit(conn, clinic_id, EventType::ClientArchived, &client).await?,
        Some(false) => events::emit(conn, clinic_id, EventType::ClientRestored, &client).await?,
        None => Uuid::nil(),
    };
    Ok(client)
}

/// List clients
///
/// The clinic's clients in the order they were added; current ones unless `archived=true`.
/// `q` searches name, email and external id. Each item also says what a practitioner scans
/// first: `last_session_at`, `adherence_14d` and `open_flags` (read in the page's one query).
/// Practitioners and admins; a client gets 403.
#[utoipa::path(
    tag = "clients",
    operation_id = "list_clients",
    params(ListClientsQuery, PageParams),
    responses(
        (status = 200, description = "A page of clients", body = Page<ClientListItem>),
    ),
    security(("bearer" = ["clients:read"]))
)]
#[get("/v1/clients")]
pub async fn list_clients(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<ListClientsQuery>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ClientsRead)?;
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let filter = filter.into_inner();
    let filter = ListFilter {
        q: filter.q,
        primary_practitioner_id: filter.primary_practitioner_id,
        archived: filter.archived.unwrap_or(false),
    };
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, caller.clinic_id, &filter, after, limit).await?;
    // A list read names every client it returned.
    audit::clients(
        rows.iter()
            .take(usize::try_from(limit).unwrap_or(0))
            .map(|(c, ..)| c.id),
    );
    let now = Utc::now();
    // Scores are outcome data: shown only to callers who may read outcomes.
    let scores = caller.permissions.contains(Permission::OutcomesRead);
    let items = rows
        .into_iter()
        .map(|(c, login, summary)| {
            let tz = c.tz()?;
            let adherence_14d = recent::adherence(
                summary.recent_assignments.as_ref(),
                summary.recent_logs.as_ref(),
                tz,
                local_date(now, tz),
                queries::SUMMARY_DAYS,
            )
            .map_err(|e| ApiError::internal(format!("the recent homework of a client does not read: {e}")))?;
            Ok(ClientListItem {
                client: c.into_response(login),
                last_session_at: summary.last_session_at,
                adherence_14d,
                open_flags: summary.open_flags,
                latest_score: summary
                    .latest_score
                    .filter(|_| scores)
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(|e| ApiError::internal(format!("a latest score does not read: {e}")))?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(HttpResponse::Ok().json(Page::from_rows(items, limit, |i| i.client.id, |i| i)))
}

/// Add a client
///
/// Creates a client record (no login yet: invite the client for that). `email` is needed only
/// for the invitation; `external_id` is the booking system's id, unique in the clinic; a
/// `primary_practitioner_id` must be an active practitioner of the clinic. Practitioners and
/// admins.
#[utoipa::path(
    tag = "clients",
    operation_id = "create_client",
    request_body = CreateClientRequest,
    responses(
        (status = 201, description = "The new client", body = ClientResponse,
            headers(("Location" = String, description = "The new client"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "The external_id is taken, or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:write"]))
)]
#[post("/v1/clients")]
pub async fn create_client(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CreateClientRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ClientsWrite)?;
    let body = body.into_inner();
    let mut v = Validator::new();
    let fields = Fields {
        name: v.parse("name", parse_name(&body.name)),
        email: body
            .email
            .map(|e| v.parse("email", Email::parse(&e)).map(Email::into_string)),
        timezone: v
            .parse("timezone", parse_timezone(&body.timezone))
            .map(|tz| tz.name().to_string()),
        external_id: body.external_id.map(|e| v.parse("external_id", parse_external_id(&e))),
        primary_practitioner_id: body.primary_practitioner_id.map(Some),
    };
    v.finish()?;
    let clinic_id = caller.clinic_id;
    let mut conn = state.conn().await?;
    let client = conn
        .transaction::<_, ApiError, _>(async move |conn| create(conn, clinic_id, &fields).await)
        .await?;
    let mut res = HttpResponse::Created();
    res.insert_header((LOCATION, format!("/v1/clients/{}", client.id)));
    Ok(answer(res, &client))
}

/// Get a client
///
/// One client of the clinic, archived or not, with its `ETag`. A client of another clinic is a
/// 404. Practitioners and admins.
#[utoipa::path(
    tag = "clients",
    operation_id = "get_client",
    params(("id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client", body = ClientResponse,
            headers(("ETag" = String, description = "The current version"))),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:read"]))
)]
#[get("/v1/clients/{id}")]
pub async fn get_client(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ClientsRead)?;
    let mut conn = state.conn().await?;
    let (row, login) = queries::find(&mut conn, caller.clinic_id, *id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("client"))?;
    Ok(answer(HttpResponse::Ok(), &row.into_response(login)))
}

/// Update a client
///
/// JSON Merge Patch. `archived: true` archives the client and ends their access at once,
/// every sign-in of their login included; `false` restores the record, and the client signs in
/// again. Honours `If-Match`.
#[utoipa::path(
    tag = "clients",
    operation_id = "update_client",
    params(
        ("id" = Uuid, Path, description = "The client's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body(content = UpdateClientRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated client", body = ClientResponse,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The external_id is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:write"]))
)]
#[patch("/v1/clients/{id}")]
pub async fn update_client(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateClientRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ClientsWrite)?;
    let body = body.into_inner();
    let mut v = Validator::new();
    let fields = Fields {
        name: required_name(body.name, &mut v),
        email: nullable_email(body.email, &mut v),
        timezone: required_timezone(body.timezone, &mut v),
        external_id: body
            .external_id
            .into_change()
            .map(|e| e.and_then(|e| v.parse("external_id", parse_external_id(&e)))),
        primary_practitioner_id: body.primary_practitioner_id.into_change(),
    };
    let archive = body.archived.required("archived", &mut v);
    v.finish()?;
    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    let client = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let (current, login) = queries::find(conn, clinic_id, id, true)
                .await?
                .ok_or_else(|| ApiError::not_found("client"))?;
            if_match.check(current.version)?;
            let changes = fields.changes(&current);
            apply(conn, current, login, changes, archive).await
        })
        .await?;
    Ok(answer(HttpResponse::Ok(), &client))
}

/// Get a client by external id
///
/// For booking systems: the client with the booking system's own id.
#[utoipa::path(
    tag = "clients",
    operation_id = "get_client_by_external_id",
    params(("external_id" = crate::values::openapi::ExternalId, Path, description = "The booking system's id for the client")),
    responses(
        (status = 200, description = "The client", body = ClientResponse,
            headers(("ETag" = String, description = "The current version"))),
        (status = 404, description = "No client of this clinic has that external id", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:read"]))
)]
#[get("/v1/clients/by-external-id/{external_id}")]
pub async fn get_client_by_external_id(
    state: web::Data<AppState>,
    caller: Caller,
    external_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ClientsRead)?;
    let mut conn = state.conn().await?;
    let (row, login) = queries::find_by_external_id(&mut conn, caller.clinic_id, &external_id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("client"))?;
    audit::resource("client", row.id);
    audit::client(row.id);
    Ok(answer(HttpResponse::Ok(), &row.into_response(login)))
}

/// Upsert a client by external id
///
/// For booking systems: creates the client with this external id (201) or updates it (200).
/// On update, fields left out keep their values (the booking system owns only what it sends),
/// and a request that changes nothing emits no event. An archived client answers 409 (restore
/// it with `PATCH /v1/clients/{id}` first). Concurrent upserts of one external id make one
/// client. Honours `If-Match`.
#[utoipa::path(
    tag = "clients",
    operation_id = "upsert_client",
    params(
        ("external_id" = crate::values::openapi::ExternalId, Path, description = "The booking system's id for the client"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body = UpsertClientRequest,
    responses(
        (status = 200, description = "Updated (or already as asked)", body = ClientResponse,
            headers(("ETag" = String, description = "The current version"))),
        (status = 201, description = "Created", body = ClientResponse,
            headers(("Location" = String, description = "The new client"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "That client is archived", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` is stale (or given for a client that does not exist)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:write"]))
)]
#[put("/v1/clients/by-external-id/{external_id}")]
pub async fn upsert_client(
    state: web::Data<AppState>,
    caller: Caller,
    external_id: web::Path<String>,
    if_match: IfMatch,
    body: Json<UpsertClientRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ClientsWrite)?;
    let body = body.into_inner();
    let mut v = Validator::new();
    let external_id = v.parse("external_id", parse_external_id(&external_id));
    let fields = Fields {
        name: required_name(body.name, &mut v),
        email: nullable_email(body.email, &mut v),
        timezone: required_timezone(body.timezone, &mut v),
        external_id: external_id.clone().map(Some),
        primary_practitioner_id: body.primary_practitioner_id.into_change(),
    };
    v.finish()?;
    let clinic_id = caller.clinic_id;
    let Some(external_id) = external_id else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let mut conn = state.conn().await?;
    // Upserts of one external id run one after the other, so exactly one creates it.
    let (status, client) = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            crate::db::lock_key(conn, &format!("client:{clinic_id}:{external_id}")).await?;
            match queries::find_by_external_id(conn, clinic_id, &external_id, true).await? {
                Some((current, login)) => {
                    audit::resource("client", current.id);
                    audit::client(current.id);
                    if_match.check(current.version)?;
                    if current.archived_at.is_some() {
                        return Err(ApiError::conflict(format!(
                            "The client with external id `{external_id}` is archived; restore it with PATCH /v1/clients/{} {{\"archived\": false}} before updating it.",
                            current.id
                        )));
                    }
                    let changes = fields.changes(&current);
                    Ok((StatusCode::OK, apply(conn, current, login, changes, None).await?))
                }
                None => {
                    if_match.check_absent("client with this external id")?;
                    let mut v = Validator::new();
                    v.check(fields.name.is_some(), "name", "is required to create a client");
                    v.check(fields.timezone.is_some(), "timezone", "is required to create a client");
                    v.finish()?;
                    audit::success_status(StatusCode::CREATED.as_u16());
                    Ok((StatusCode::CREATED, create(conn, clinic_id, &fields).await?))
                }
            }
        })
        .await?;
    let mut res = HttpResponse::build(status);
    if status == StatusCode::CREATED {
        res.insert_header((LOCATION, format!("/v1/clients/{}", client.id)));
    }
    Ok(answer(res, &client))
}

/// Invite a client
///
/// A single-use invitation (valid 7 days; older unused ones stop working) that gives the client
/// a login for the mobile app, tied to this client record. Needs the client's email.
#[utoipa::path(
    tag = "clients",
    operation_id = "create_client_invitation",
    params(("id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 201, description = "The invitation", body = InvitationResponse),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client is archived; the email already belongs to another member of the clinic; the client's login is shared with another clinic (`code`: `login_shared`), so only they can change its password; or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The client has no email", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:write"]))
)]
#[post("/v1/clients/{id}/invitation")]
pub async fn create_client_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::ClientsWrite)?;
    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    let invitation = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let (client, _) = queries::find(conn, clinic_id, id, true)
                .await?
                .ok_or_else(|| ApiError::not_found("client"))?;
            if client.archived_at.is_some() {
                return Err(ApiError::conflict(
                    "The client is archived: restore them before inviting.",
                ));
            }
            let Some(email) = client.email.as_deref() else {
                return Err(ApiError::validation(
                    "email",
                    "is required to invite the client: set it with PATCH first",
                ));
            };
            let membership_id = match queries::login_membership(conn, client.id).await? {
                Some(m) => m,
                None => {
                    let user_id = auth_queries::ensure_user(conn, email).await?;
                    let new = NewMembership {
                        id: Uuid::now_v7(),
                        clinic_id,
                        user_id,
                        role: Role::Client,
                        name: &client.name,
                        accepted_at: None,
                        client_id: Some(client.id),
                        external_id: None,
                    };
                    insert_membership(conn, &new)
                        .await
                        .map_err(|e| {
                            if is_unique_violation(&e, "memberships_clinic_user_key") {
                                ApiError::conflict("This email already belongs to another member of the clinic.")
                            } else {
                                e.into()
                            }
                        })?
                        .id
                }
            };
            invitations::issue(conn, clinic_id, membership_id).await
        })
        .await?;
    Ok(HttpResponse::Created().json(invitation))
}
