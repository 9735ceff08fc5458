use crate::auth::Role;
use crate::auth::{password, queries as auth_queries, throttle};
use crate::clinics::dto::{ClinicResponse, SignUpRequest, SignUpResponse};
use crate::clinics::queries;
use crate::error::{ApiError, OnConstraint, Problem, Validator};
use crate::events::{self, EventType};
use crate::http::json::Json;
use crate::practitioners::queries::{NewMembership, insert_membership};
use crate::state::AppState;
use crate::values::{Email, parse_name};
use actix_web::{HttpRequest, HttpResponse, post, web};
use diesel_async::AsyncConnection;
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
    let body = body.into_inner();
    let mut v = Validator::new();
    let clinic_name = v.parse("clinic_name", parse_name(&body.clinic_name));
    let admin_name = v.parse("admin.name", parse_name(&body.admin.name));
    let email = v.parse("admin.email", Email::parse(&body.admin.email));
    v.parse("admin.password", password::check_password_rules(&body.admin.password));
    v.finish()?;
    let (Some(clinic_name), Some(admin_name), Some(email)) = (clinic_name, admin_name, email) else {
        return Err(ApiError::internal("validated fields missing"));
    };

    let mut conn = state.conn().await?;
    // An existing login may add a clinic, but only with its own password; failures count
    // towards the same throttle as sign-in.
    let existing = auth_queries::user_by_email(&mut conn, email.as_str()).await?;
    let new_hash = match &existing {
        Some(user) => {
            let keys = throttle::sign_in_keys(email.as_str(), &req);
            throttle::check(&mut conn, &keys).await?;
            if !password::verify(body.admin.password.clone(), user.password_hash.clone()).await? {
                throttle::record_failure(&mut conn, &keys).await?;
                return Err(email_taken());
            }
            None
        }
        None => Some(password::hash(body.admin.password).await?),
    };
    let existing_user = existing.map(|u| u.id);

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

fn email_taken() -> ApiError {
    ApiError::conflict(
        "A login with this email already exists. To add a clinic to it, sign up with that login's password.",
    )
}
