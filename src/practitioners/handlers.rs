use crate::auth::{Caller, Permission, Role, queries as auth_queries};
use crate::error::{ApiError, Problem, Validator, is_unique_violation};
use crate::events::{self, EventType};
use crate::http::etag::{IfMatch, with_etag};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageParams};
use crate::invitations::{self, InvitationResponse};
use crate::practitioners::dto::*;
use crate::practitioners::queries::{self, MembershipChanges, MembershipRow, NewMembership};
use crate::state::AppState;
use crate::values::{Email, parse_external_id, parse_name};
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, get, patch, post, put, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

fn answer(mut res: actix_web::HttpResponseBuilder, p: &PractitionerResponse) -> HttpResponse {
    with_etag(&mut res, p.version);
    res.json(p)
}

fn translate(e: diesel::result::Error) -> ApiError {
    if is_unique_violation(&e, "memberships_clinic_external_id_key") {
        ApiError::conflict("Another practitioner of this clinic already has that external_id.")
    } else if is_unique_violation(&e, "memberships_clinic_user_key") {
        ApiError::conflict("A login with this email is already a member of this clinic.")
    } else {
        e.into()
    }
}

/// Creates the login (if needed), the pending membership and its invitation.
async fn create_staff(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    name: &str,
    email: &Email,
    role: Role,
    external_id: Option<&str>,
) -> Result<PractitionerInvitedResponse, ApiError> {
    let user_id = auth_queries::ensure_user(conn, email.as_str()).await?;
    let row = queries::insert_membership(
        conn,
        &NewMembership {
            id: Uuid::now_v7(),
            clinic_id,
            user_id,
            role,
            name,
            accepted_at: None,
            client_id: None,
            external_id,
        },
    )
    .await
    .map_err(translate)?;
    let invitation = invitations::issue(conn, clinic_id, row.id).await?;
    let practitioner = row.into_practitioner(email.to_string());
    events::emit(conn, clinic_id, EventType::PractitionerCreated, &practitioner).await?;
    Ok(PractitionerInvitedResponse {
        practitioner,
        invitation,
    })
}

/// Applies changes under the rules (the last active admin stays an active admin).
async fn apply_changes(
    conn: &mut AsyncPgConnection,
    current: &MembershipRow,
    email: String,
    changes: MembershipChanges<'_>,
) -> Result<PractitionerResponse, ApiError> {
    let loses_admin = current.role == Role::Admin
        && current.active
        && (changes.active == Some(false) || changes.role.is_some_and(|r| r != Role::Admin));
    if loses_admin && queries::other_active_admins(conn, current.clinic_id, current.id).await? == 0 {
        return Err(ApiError::conflict(
            "This is the clinic's last active admin: make someone else an admin first.",
        ));
    }
    let ends_access =
        (current.active && changes.active == Some(false)) || changes.role.is_some_and(|r| r != current.role);
    let row = queries::update(conn, current.id, &changes).await.map_err(translate)?;
    if ends_access {
        auth_queries::end_sign_ins(conn, current.id).await?;
    }
    let practitioner = row.into_practitioner(email);
    events::emit(conn, current.clinic_id, EventType::PractitionerUpdated, &practitioner).await?;
    Ok(practitioner)
}

/// List practitioners
///
/// The clinic's staff (admins and practitioners), in the order they were added.
#[utoipa::path(
    tag = "practitioners",
    operation_id = "list_practitioners",
    params(ListPractitionersQuery, PageParams),
    responses(
        (status = 200, description = "A page of practitioners", body = Page<PractitionerResponse>),
    ),
    security(("bearer" = ["practitioners:read"]))
)]
#[get("/v1/practitioners")]
pub async fn list_practitioners(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<ListPractitionersQuery>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::PractitionersRead)?;
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, caller.clinic_id, filter.active, after, limit).await?;
    let page = Page::from_rows(rows, limit, |(r, _)| r.id, |(r, email)| r.into_practitioner(email));
    Ok(HttpResponse::Ok().json(page))
}

/// Add a practitioner
///
/// Adds a practitioner (or admin) to the clinic and answers a single-use invitation, valid 7
/// days, that the clinic hands over its own way. Admins only.
#[utoipa::path(
    tag = "practitioners",
    operation_id = "create_practitioner",
    request_body = CreatePractitionerRequest,
    responses(
        (status = 201, description = "The practitioner and the invitation", body = PractitionerInvitedResponse,
            headers(("Location" = String, description = "The new practitioner"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "The email is already a member of this clinic, the external_id is taken, or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["practitioners:write"]))
)]
#[post("/v1/practitioners")]
pub async fn create_practitioner(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CreatePractitionerRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::PractitionersWrite)?;
    let body = body.into_inner();
    let mut v = Validator::new();
    let name = v.parse("name", parse_name(&body.name));
    let email = v.parse("email", Email::parse(&body.email));
    let role = check_staff_role(body.role, &mut v);
    let external_id = body
        .external_id
        .as_deref()
        .and_then(|e| v.parse("external_id", parse_external_id(e)));
    v.finish()?;
    let (Some(name), Some(email)) = (name, email) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let clinic_id = caller.clinic_id;
    let mut conn = state.conn().await?;
    let created = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            create_staff(conn, clinic_id, &name, &email, role, external_id.as_deref()).await
        })
        .await?;
    let mut res = HttpResponse::Created();
    res.insert_header((LOCATION, format!("/v1/practitioners/{}", created.practitioner.id)));
    with_etag(&mut res, created.practitioner.version);
    Ok(res.json(created))
}

/// Get a practitioner
///
/// One member of the clinic's staff, with its status and `ETag`. A practitioner of another
/// clinic is a 404.
#[utoipa::path(
    tag = "practitioners",
    operation_id = "get_practitioner",
    params(("id" = Uuid, Path, description = "The practitioner's id")),
    responses(
        (status = 200, description = "The practitioner", body = PractitionerResponse,
            headers(("ETag" = String, description = "The current version"))),
        (status = 404, description = "No such practitioner in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["practitioners:read"]))
)]
#[get("/v1/practitioners/{id}")]
pub async fn get_practitioner(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::PractitionersRead)?;
    let mut conn = state.conn().await?;
    let (row, email) = queries::find(&mut conn, caller.clinic_id, *id)
        .await?
        .ok_or_else(|| ApiError::not_found("practitioner"))?;
    Ok(answer(HttpResponse::Ok(), &row.into_practitioner(email)))
}

/// Update a practitioner
///
/// JSON Merge Patch of name, external id, role and `active`. `active: false` and a role change
/// end the practitioner's sign-ins at once, access tokens included: after a reactivation or
/// with the new role, they sign in again. Honours `If-Match`. Admins only.
#[utoipa::path(
    tag = "practitioners",
    operation_id = "update_practitioner",
    params(
        ("id" = Uuid, Path, description = "The practitioner's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body(content = UpdatePractitionerRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated practitioner", body = PractitionerResponse,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such practitioner in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The external_id is taken, or this is the last active admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["practitioners:write"]))
)]
#[patch("/v1/practitioners/{id}")]
pub async fn update_practitioner(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdatePractitionerRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::PractitionersWrite)?;
    let body = body.into_inner();
    let mut v = Validator::new();
    let name = body
        .name
        .required("name", &mut v)
        .and_then(|n| v.parse("name", parse_name(&n)));
    let external_id = body
        .external_id
        .into_change()
        .map(|e| e.and_then(|e| v.parse("external_id", parse_external_id(&e))));
    let active = body.active.required("active", &mut v);
    let role = body
        .role
        .required("role", &mut v)
        .map(|r| check_staff_role(Some(r), &mut v));
    v.finish()?;
    let (clinic_id, id) = (caller.clinic_id, *id);
    let mut conn = state.conn().await?;
    let updated = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let (current, email) = queries::find_for_update(conn, clinic_id, id)
                .await?
                .ok_or_else(|| ApiError::not_found("practitioner"))?;
            if_match.check(current.version)?;
            let changes = MembershipChanges {
                name: name.as_deref(),
                external_id: external_id.as_ref().map(|e| e.as_deref()),
                active,
                role,
            };
            apply_changes(conn, &current, email, changes).await
        })
        .await?;
    Ok(answer(HttpResponse::Ok(), &updated))
}

/// Invite a practitioner again
///
/// A fresh single-use invitation (older unused ones stop working). For someone who already has
/// a login used only at this clinic it works as a password reset; a login another clinic uses
/// or ever used belongs to the person and answers 409 `login_shared`. Admins only.
#[utoipa::path(
    tag = "practitioners",
    operation_id = "create_practitioner_invitation",
    params(("id" = Uuid, Path, description = "The practitioner's id")),
    responses(
        (status = 201, description = "The new invitation", body = InvitationResponse),
        (status = 404, description = "No such practitioner in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The practitioner is deactivated; or their login is shared with another clinic (`code`: `login_shared`), so only they can change its password; or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["practitioners:write"]))
)]
#[post("/v1/practitioners/{id}/invitation")]
pub async fn create_practitioner_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::PractitionersWrite)?;
    let mut conn = state.conn().await?;
    let (row, _) = queries::find(&mut conn, caller.clinic_id, *id)
        .await?
        .ok_or_else(|| ApiError::not_found("practitioner"))?;
    if !row.active {
        return Err(ApiError::conflict(
            "The practitioner is deactivated: reactivate them before inviting.",
        ));
    }
    let invitation = invitations::issue(&mut conn, caller.clinic_id, row.id).await?;
    Ok(HttpResponse::Created().json(invitation))
}

/// Upsert a practitioner by external id
///
/// For booking systems: creates the practitioner with this external id (201, with an
/// invitation) or updates it (200); on update, fields left out keep their values, and a change
/// that changes nothing emits no event. Concurrent upserts of one external id make one
/// practitioner. Honours `If-Match`. Needs `practitioners:write`.
#[utoipa::path(
    tag = "practitioners",
    operation_id = "upsert_practitioner",
    params(
        ("external_id" = crate::values::openapi::ExternalId, Path, description = "The booking system's id for the practitioner"),
        ("If-Match" = Option<String>, Header, description = "The ETag last seen; 412 when stale"),
    ),
    request_body = UpsertPractitionerRequest,
    responses(
        (status = 200, description = "Updated", body = PractitionerResponse,
            headers(("ETag" = String, description = "The current version"))),
        (status = 201, description = "Created, with the invitation", body = PractitionerInvitedResponse,
            headers(("Location" = String, description = "The new practitioner"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "The email is already a member of this clinic under another external id, or this is the last active admin", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` is stale (or given for a practitioner that does not exist)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["practitioners:write"]))
)]
#[put("/v1/practitioners/by-external-id/{external_id}")]
pub async fn upsert_practitioner(
    state: web::Data<AppState>,
    caller: Caller,
    external_id: web::Path<String>,
    if_match: IfMatch,
    body: Json<UpsertPractitionerRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::PractitionersWrite)?;
    let upsert = body.into_inner().validate(&external_id)?;
    let clinic_id = caller.clinic_id;
    let mut conn = state.conn().await?;

    // Upserts of one external id run one after the other, so exactly one creates it.
    let outcome = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            crate::db::lock_key(conn, &format!("practitioner:{clinic_id}:{}", upsert.external_id)).await?;
            match queries::find_by_external_id_for_update(conn, clinic_id, &upsert.external_id).await? {
                Some((current, current_email)) => {
                    if_match.check(current.version)?;
                    upsert_existing(conn, current, current_email, upsert).await
                }
                None => {
                    if_match.check_absent("practitioner with this external id")?;
                    upsert_new(conn, clinic_id, upsert).await.map(Upserted::Created)
                }
            }
        })
        .await?;
    match outcome {
        Upserted::Created(created) => {
            let mut res = HttpResponse::Created();
            res.insert_header((LOCATION, format!("/v1/practitioners/{}", created.practitioner.id)));
            with_etag(&mut res, created.practitioner.version);
            Ok(res.json(created))
        }
        Upserted::Updated(p) | Upserted::Unchanged(p) => Ok(answer(HttpResponse::Ok(), &p)),
    }
}

/// An upsert of a practitioner who exists: changes what differs; the email is their login and
/// stays.
async fn upsert_existing(
    conn: &mut AsyncPgConnection,
    current: MembershipRow,
    current_email: String,
    upsert: PractitionerUpsert,
) -> Result<Upserted, ApiError> {
    if upsert.email.as_ref().is_some_and(|e| e.as_str() != current_email) {
        return Err(ApiError::validation(
            "email",
            "cannot be changed: it is the practitioner's login (they can change it themselves)",
        ));
    }
    let changes = MembershipChanges {
        name: upsert.name.as_deref().filter(|n| *n != current.name),
        external_id: None,
        active: upsert.active.filter(|a| *a != current.active),
        role: upsert.role.filter(|r| *r != current.role),
    };
    if changes.name.is_none() && changes.active.is_none() && changes.role.is_none() {
        return Ok(Upserted::Unchanged(current.into_practitioner(current_email)));
    }
    Ok(Upserted::Updated(
        apply_changes(conn, &current, current_email, changes).await?,
    ))
}

/// An upsert of a practitioner who does not exist yet: needs a name and an email, and may
/// create them inactive.
async fn upsert_new(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    upsert: PractitionerUpsert,
) -> Result<PractitionerInvitedResponse, ApiError> {
    let mut v = Validator::new();
    v.check(upsert.name.is_some(), "name", "is required to create a practitioner");
    v.check(upsert.email.is_some(), "email", "is required to create a practitioner");
    v.finish()?;
    let (Some(name), Some(email)) = (upsert.name, upsert.email) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let role = upsert.role.unwrap_or(Role::Practitioner);
    let mut created = create_staff(conn, clinic_id, &name, &email, role, Some(&upsert.external_id)).await?;
    if upsert.active == Some(false) {
        let changes = MembershipChanges {
            active: Some(false),
            ..Default::default()
        };
        let row = queries::update(conn, created.practitioner.id, &changes).await?;
        created.practitioner = row.into_practitioner(email.into_string());
    }
    Ok(created)
}

enum Upserted {
    Created(PractitionerInvitedResponse),
    Updated(PractitionerResponse),
    Unchanged(PractitionerResponse),
}
