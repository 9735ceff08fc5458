use crate::auth::extractor::Member;
use crate::auth::{Caller, Role, password, queries as auth_queries, throttle};
use crate::clients::queries::{self as client_queries, ClientChanges};
use crate::clinics::dto::ClinicRef;
use crate::db::schema::{clinics, memberships, users};
use crate::error::{ApiError, Problem, Validator};
use crate::events::{self, EventType};
use crate::http::etag::{IfMatch, with_etag};
use crate::http::json::Json;
use crate::http::patch::Patch;
use crate::practitioners::queries::MembershipChanges;
use crate::state::AppState;
use crate::values::parse_name;
use actix_web::{HttpResponse, get, patch, web};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// The signed-in person, in the clinic their token acts in.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// The login's id.
    pub id: Uuid,
    /// Display name in this clinic.
    #[schema(example = "Ana Ruiz")]
    pub name: String,
    /// The login's email.
    #[schema(example = "ana@clinic.example")]
    pub email: String,
    /// Role in this clinic.
    pub role: Role,
    /// The clinic the token acts in.
    pub clinic: ClinicRef,
    /// For a client: their client record's id; `null` for staff.
    pub client_id: Option<Uuid>,
    /// For staff: their practitioner id; `null` for clients.
    pub practitioner_id: Option<Uuid>,
    /// Increases with every change; send it back in `If-Match`.
    pub version: i64,
}

/// Changes to one's own account (JSON Merge Patch).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    /// A new display name (1–200 characters).
    #[serde(default)]
    #[schema(value_type = crate::values::openapi::Name, example = "Ana Ruiz-Lee")]
    pub name: Patch<String>,
    /// A new password (at least 10 characters); needs `current_password`. Ends every other
    /// sign-in of this login.
    #[serde(default)]
    #[schema(value_type = String, min_length = 10, max_length = 256)]
    pub password: Patch<String>,
    /// The current password, required to set a new one.
    #[serde(default)]
    #[schema(value_type = String)]
    pub current_password: Patch<String>,
}

/// Changes to one's own account, every rule checked.
struct MeChanges {
    name: Option<String>,
    /// A new password with the current one that must authorise it.
    password: Option<(String, String)>,
}

impl UpdateMeRequest {
    fn validate(self) -> Result<MeChanges, ApiError> {
        let mut v = Validator::new();
        let name = self
            .name
            .required("name", &mut v)
            .and_then(|n| v.parse("name", parse_name(&n)));
        let new_password = self.password.required("password", &mut v);
        let current_password = self.current_password.required("current_password", &mut v);
        if let Some(p) = &new_password {
            v.parse("password", password::check_password_rules(p));
            v.check(
                current_password.is_some(),
                "current_password",
                "is required to set a new password",
            );
        }
        v.finish()?;
        Ok(MeChanges {
            name,
            password: new_password.zip(current_password),
        })
    }
}

/// The hash of `new` once `current` proves to be the login's password. Guesses count against
/// the login's sign-in allowance: a stolen access token must not be a way to try passwords
/// without limit.
async fn checked_new_password(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    (new, current): (String, String),
) -> Result<String, ApiError> {
    let user = auth_queries::user_by_id(conn, user_id).await?;
    let keys = [(throttle::account_key(&user.email), throttle::PER_ACCOUNT)];
    throttle::check(conn, &keys).await?;
    if !password::verify(current, user.password_hash).await? {
        throttle::record_failure(conn, &keys).await?;
        return Err(ApiError::validation(
            "current_password",
            "is not the login's current password",
        ));
    }
    password::hash(new).await
}

/// Writes the changes if the account is still at `expected_version` (412 otherwise): the
/// membership's name (and a client's record, which carries the same name), the password
/// (ending the login's other sign-ins).
async fn apply(
    conn: &mut AsyncPgConnection,
    member: &Member,
    expected_version: i64,
    name: Option<&str>,
    new_hash: Option<&str>,
) -> Result<MeResponse, ApiError> {
    let changed = diesel::update(
        memberships::table
            .filter(memberships::id.eq(member.membership_id))
            .filter(memberships::version.eq(expected_version)),
    )
    .set((
        MembershipChanges {
            name,
            ..Default::default()
        },
        memberships::version.eq(memberships::version + 1),
        memberships::updated_at.eq(chrono::Utc::now()),
    ))
    .execute(conn)
    .await?;
    if changed == 0 {
        // Someone else changed the account between our read and our write.
        return Err(ApiError::precondition_failed(expected_version + 1));
    }
    if let (Some(client_id), Some(name)) = (member.client_id, name) {
        let changes = ClientChanges {
            name: Some(name),
            ..Default::default()
        };
        let row = client_queries::update(conn, client_id, &changes).await?;
        let clinic_id = row.clinic_id;
        let client = row.into_response(Some(chrono::Utc::now()));
        events::emit(conn, clinic_id, EventType::ClientUpdated, &client).await?;
    }
    if let Some(hash) = new_hash {
        auth_queries::set_password(conn, member.user_id, hash).await?;
        auth_queries::revoke_other_families(conn, member.user_id, member.family_id).await?;
    }
    load_me(conn, member.membership_id).await
}

async fn load_me(conn: &mut AsyncPgConnection, membership_id: Uuid) -> Result<MeResponse, ApiError> {
    let (user_id, name, role, client_id, version, email, clinic_id, clinic_name) = memberships::table
        .inner_join(users::table)
        .inner_join(clinics::table)
        .filter(memberships::id.eq(membership_id))
        .select((
            memberships::user_id,
            memberships::name,
            memberships::role,
            memberships::client_id,
            memberships::version,
            users::email,
            clinics::id,
            clinics::name,
        ))
        .first::<(Uuid, String, Role, Option<Uuid>, i64, String, Uuid, String)>(conn)
        .await?;
    Ok(MeResponse {
        id: user_id,
        name,
        email,
        role,
        clinic: ClinicRef {
            id: clinic_id,
            name: clinic_name,
        },
        client_id,
        practitioner_id: role.is_staff().then_some(membership_id),
        version,
    })
}

fn me_answer(me: MeResponse) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    with_etag(&mut res, me.version);
    res.json(me)
}

/// Who am I
///
/// The signed-in person: login, role, and the clinic the token acts in.
#[utoipa::path(
    tag = "me",
    operation_id = "get_me",
    responses(
        (status = 200, description = "The signed-in person", body = MeResponse,
            headers(("ETag" = String, description = "The current version"))),
        (status = 403, description = "The caller is an API key, not a person", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/me")]
pub async fn get_me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let member = caller.member()?;
    let mut conn = state.conn().await?;
    Ok(me_answer(load_me(&mut conn, member.membership_id).await?))
}

/// Update my account
///
/// Changes one's display name, or password (with `current_password`). A new password ends every
/// other sign-in of the login. A wrong `current_password` is a 422 naming it (the access token
/// stays valid) and counts as a failed sign-in of the login: after 5 in 15 minutes, 429.
/// Honours `If-Match`.
#[utoipa::path(
    tag = "me",
    operation_id = "update_me",
    request_body(content = UpdateMeRequest, content_type = "application/merge-patch+json"),
    params(("If-Match" = Option<String>, Header, nullable = false,
        description = "The ETag last seen (`\"<version>\"`), or `*`; 412 when it names another version")),
    responses(
        (status = 200, description = "The updated account", body = MeResponse,
            headers(("ETag" = String, description = "The new version"))),
        (status = 403, description = "The caller is an API key, not a person", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule, or `current_password` is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong `current_password` guesses (they count against the login's failed sign-ins)", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[patch("/v1/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    caller: Caller,
    if_match: IfMatch,
    body: Json<UpdateMeRequest>,
) -> Result<HttpResponse, ApiError> {
    let member = caller.member()?.clone();
    let changes = body.into_inner().validate()?;
    let mut conn = state.conn().await?;
    let current = load_me(&mut conn, member.membership_id).await?;
    if_match.check(current.version)?;
    let new_hash = match changes.password {
        Some(passwords) => Some(checked_new_password(&mut conn, member.user_id, passwords).await?),
        None => None,
    };
    let updated = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            apply(
                conn,
                &member,
                current.version,
                changes.name.as_deref(),
                new_hash.as_deref(),
            )
            .await
        })
        .await?;
    Ok(me_answer(updated))
}
