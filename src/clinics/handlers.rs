use crate::auth::Role;
use crate::auth::{password, queries as auth_queries, throttle};
use crate::clinics::dto::{ClinicResponse, SignUp, SignUpRequest, SignUpResponse};
use crate::clinics::queries;
use crate::error::{ApiError, OnConstraint, Problem};
use crate::events::{self, EventType};
use crate::http::json::Json;
use crate::practitioners::queries::{NewMembership, insert_membership};
use crate::state::AppState;
use crate::values::Email;
use actix_web::{HttpRequest, HttpResponse, post, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

/// Sign up a clinic
///
/// Creates a clinic and its first admin, who then signs in with `POST /v1/auth/token`. Off when
/// the server runs with `SIGNUP_ENABLED=false` (403).
#[utoipa::path(
    tag = "clinics",
    operation_id = "create_clinic",
    request_body = SignUpRequest,
    responses(
        (status = 201, description = "The clinic and its admin", body = SignUpResponse),
        (status = 403, description = "Sign-up is switched off on this server", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A login with this email exists and the password is not its password; or the Idempotency-Key is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts for this email", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(())
)]
#[post("/v1/clinics")]
pub async fn create_clinic(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<SignUpRequest>,
) -> Result<HttpResponse, ApiError> {
    if !state.config.signup_enabled {
        return Err(ApiError::forbidden("Sign-up is switched off on this server."));
    }
    let SignUp {
        clinic_name,
        admin_name,
        email,
        password,
    } = body.into_inner().validate()?;
    let mut conn = state.conn().await?;
    let (existing_user, new_hash) = admin_login(&mut conn, &req, &email, password).await?;
    let (clinic, admin) = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let clinic = queries::insert(conn, &clinic_name).await?;
            let user_id = match existing_user {
                Some(id) => id,
                None => auth_queries::insert_user(conn, email.as_str(), new_hash.as_deref())
                    .await
                    .on_unique("users_email_key", email_taken)?,
            };
            let membership = insert_membership(
                conn,
                &NewMembership {
                    id: Uuid::now_v7(),
                    clinic_id: clinic.id,
                    user_id,
                    role: Role::Admin,
                    name: &admin_name,
                    accepted_at: Some(chrono::Utc::now()),
                    client_id: None,
                    external_id: None,
                },
            )
            .await?;
            let clinic = ClinicResponse::from(clinic);
            // The new admin signed the clinic up: the audit event (written by `emit`) says so.
            crate::audit::note::acting(crate::audit::Actor::user(user_id, Some(Role::Admin)), vec![clinic.id]);
            events::emit(conn, clinic.id, EventType::ClinicCreated, &clinic).await?;
            Ok((clinic, membership.into_practitioner(email.into_string())))
        })
        .await?;
    Ok(HttpResponse::Created().json(SignUpResponse { clinic, admin }))
}

/// The admin's login: an existing one proves it is theirs with its own password (failures
/// count towards the sign-in throttle); a new one gets the password's hash.
async fn admin_login(
    conn: &mut AsyncPgConnection,
    req: &HttpRequest,
    email: &Email,
    password: String,
) -> Result<(Option<Uuid>, Option<String>), ApiError> {
    let Some(user) = auth_queries::user_by_email(conn, email.as_str()).await? else {
        return Ok((None, Some(password::hash(password).await?)));
    };
    let keys = throttle::sign_in_keys(email.as_str(), req);
    throttle::check(conn, &keys).await?;
    if !password::verify(password, user.password_hash.clone()).await? {
        throttle::record_failure(conn, &keys).await?;
        return Err(email_taken());
    }
    Ok((Some(user.id), None))
}

fn email_taken() -> ApiError {
    ApiError::conflict(
        "A login with this email already exists. To add a clinic to it, sign up with that login's password.",
    )
}
