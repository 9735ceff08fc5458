use crate::auth::password;
use crate::error::{ApiError, Validator};
use crate::practitioners::dto::PractitionerResponse;
use crate::values::{Email, parse_name};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A clinic signing up, with its first admin.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    /// The clinic's name (1–200 characters).
    #[schema(value_type = crate::values::openapi::Name, example = "Harbour Physio")]
    pub clinic_name: String,
    /// The first admin of the clinic.
    pub admin: SignUpAdmin,
}

/// The person signing the clinic up; they become its admin.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpAdmin {
    /// Their name (1–200 characters).
    #[schema(value_type = crate::values::openapi::Name, example = "Ana Ruiz")]
    pub name: String,
    /// Their email, the login's username. If a login with this email exists already, the
    /// password must be that login's, and the new clinic is added to it.
    #[schema(example = "ana@clinic.example", format = "email")]
    pub email: String,
    /// At least 10 characters.
    #[schema(example = "correct horse battery staple", min_length = 10, max_length = 256)]
    pub password: String,
}

/// A clinic.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClinicResponse {
    /// The clinic's id.
    pub id: Uuid,
    /// The clinic's name.
    #[schema(example = "Harbour Physio")]
    pub name: String,
    /// Increases with every change.
    pub version: i64,
    /// When the clinic signed up.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When the clinic last changed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// The new clinic and its admin. Get tokens with `POST /v1/auth/token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignUpResponse {
    /// The clinic created.
    pub clinic: ClinicResponse,
    /// Its first admin.
    pub admin: PractitionerResponse,
}

/// The clinic a caller acts in, as `/v1/me` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClinicRef {
    /// The clinic's id.
    pub id: Uuid,
    /// The clinic's name.
    #[schema(example = "Harbour Physio")]
    pub name: String,
}

/// A sign-up that passed every rule it can check alone.
pub struct SignUp {
    pub clinic_name: String,
    pub admin_name: String,
    pub email: Email,
    pub password: String,
}

impl SignUpRequest {
    /// Every rule that needs no database; all broken ones in one 422.
    pub fn validate(self) -> Result<SignUp, ApiError> {
        let mut v = Validator::new();
        let clinic_name = v.parse("clinic_name", parse_name(&self.clinic_name));
        let admin_name = v.parse("admin.name", parse_name(&self.admin.name));
        let email = v.parse("admin.email", Email::parse(&self.admin.email));
        v.parse("admin.password", password::check_password_rules(&self.admin.password));
        v.finish()?;
        let (Some(clinic_name), Some(admin_name), Some(email)) = (clinic_name, admin_name, email) else {
            return Err(ApiError::internal("validated fields missing"));
        };
        Ok(SignUp {
            clinic_name,
            admin_name,
            email,
            password: self.admin.password,
        })
    }
}
