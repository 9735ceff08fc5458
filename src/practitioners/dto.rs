use crate::auth::Role;
use crate::error::{ApiError, Validator};
use crate::http::patch::Patch;
use crate::invitations::InvitationResponse;
use crate::text_enum;
use crate::values::{Email, parse_external_id, parse_name};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

text_enum! {
    /// Where a practitioner's access stands.
    pub enum PractitionerStatus {
        /// Invited; has not accepted the invitation yet.
        Invited => "invited",
        /// Can sign in.
        Active => "active",
        /// Deactivated: cannot sign in, and existing tokens are refused.
        Deactivated => "deactivated",
    }
}

/// A role a practitioner can be given: `admin` or `practitioner` (clients are created under
/// `/v1/clients`).
// The document's name for what requests take; the server reads a `Role` and refuses `client`
// with a 422 naming the field.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Everything in the clinic, including managing practitioners.
    Admin,
    /// Library, templates, the clinic's clients, assignments, logs and progress.
    Practitioner,
}

/// A member of the clinic's staff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PractitionerResponse {
    /// The practitioner's id (used as `primary_practitioner_id` and in assignments).
    pub id: Uuid,
    /// Display name in this clinic.
    #[schema(example = "Ana Ruiz")]
    pub name: String,
    /// Login email.
    #[schema(example = "ana@clinic.example")]
    pub email: String,
    /// `admin` or `practitioner`.
    pub role: Role,
    /// The booking system's id for this practitioner, unique in the clinic.
    #[schema(example = "staff-17")]
    pub external_id: Option<String>,
    /// False once deactivated.
    pub active: bool,
    /// Invited, active or deactivated.
    pub status: PractitionerStatus,
    /// Increases with every change; send it back in `If-Match`.
    pub version: i64,
    /// When the practitioner was added.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When the practitioner last changed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// A new practitioner. They get a login by accepting the invitation in the answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePractitionerRequest {
    /// Display name in this clinic (1–200 characters).
    #[schema(value_type = crate::values::openapi::Name, example = "Ana Ruiz")]
    pub name: String,
    /// Login email. If it already has a login (someone working at two clinics), accepting the
    /// invitation adds this clinic to that login.
    #[schema(example = "ana@clinic.example", format = "email")]
    pub email: String,
    /// `practitioner` (default) or `admin`.
    #[serde(default, deserialize_with = "crate::http::json::absent_or_value")]
    #[schema(value_type = StaffRole, required = false)]
    pub role: Option<Role>,
    /// The booking system's id for this practitioner, unique in the clinic (1–100 characters,
    /// no spaces or `/`).
    #[serde(default, deserialize_with = "crate::http::json::absent_or_value")]
    #[schema(value_type = crate::values::openapi::ExternalId, required = false, example = "staff-17")]
    pub external_id: Option<String>,
}

/// Changes to a practitioner (JSON Merge Patch).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePractitionerRequest {
    /// A new display name.
    #[serde(default)]
    #[schema(value_type = crate::values::openapi::Name)]
    pub name: Patch<String>,
    /// A new external id; `null` clears it.
    #[serde(default)]
    #[schema(schema_with = nullable_external_id)]
    pub external_id: Patch<String>,
    /// `false` deactivates at once (tokens included); `true` reactivates.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub active: Patch<bool>,
    /// `practitioner` or `admin`. The last active admin cannot be demoted or deactivated.
    #[serde(default)]
    #[schema(value_type = StaffRole)]
    pub role: Patch<Role>,
}

/// A booking system's upsert of a practitioner by its own id. On create, `name` and `email`
/// are required; on update, fields left out keep their values.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertPractitionerRequest {
    /// Display name in this clinic.
    #[serde(default, deserialize_with = "crate::http::json::absent_or_value")]
    #[schema(value_type = crate::values::openapi::Name, required = false, example = "Ana Ruiz")]
    pub name: Option<String>,
    /// Login email; set on create, and cannot be changed afterwards (422).
    #[serde(default, deserialize_with = "crate::http::json::absent_or_value")]
    #[schema(example = "ana@clinic.example", format = "email", nullable = false)]
    pub email: Option<String>,
    /// `practitioner` (default on create) or `admin`.
    #[serde(default, deserialize_with = "crate::http::json::absent_or_value")]
    #[schema(value_type = StaffRole, required = false)]
    pub role: Option<Role>,
    /// `false` deactivates, `true` reactivates.
    #[serde(default, deserialize_with = "crate::http::json::absent_or_value")]
    #[schema(nullable = false)]
    pub active: Option<bool>,
}

/// An upsert that passed every rule it can check alone.
pub struct PractitionerUpsert {
    pub external_id: String,
    pub name: Option<String>,
    pub email: Option<Email>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

impl UpsertPractitionerRequest {
    /// Every rule that needs no database, with the path's external id; all broken ones in one 422.
    pub fn validate(self, external_id: &str) -> Result<PractitionerUpsert, ApiError> {
        let mut v = Validator::new();
        let external_id = v.parse("external_id", parse_external_id(external_id));
        let name = self.name.as_deref().and_then(|n| v.parse("name", parse_name(n)));
        let email = self.email.as_deref().and_then(|e| v.parse("email", Email::parse(e)));
        let role = self.role.map(|r| check_staff_role(Some(r), &mut v));
        v.finish()?;
        Ok(PractitionerUpsert {
            external_id: external_id.ok_or_else(|| ApiError::internal("validated fields missing"))?,
            name,
            email,
            role,
            active: self.active,
        })
    }
}

/// Staff are practitioners or admins (the default is practitioner); clients have their own
/// endpoints.
pub fn check_staff_role(role: Option<Role>, v: &mut Validator) -> Role {
    match role {
        None => Role::Practitioner,
        Some(Role::Client) => {
            v.add(
                "role",
                "must be `practitioner` or `admin`; clients are created under /v1/clients",
            );
            Role::Practitioner
        }
        Some(r) => r,
    }
}

/// A practitioner just created, with the invitation to hand over.
#[derive(Debug, Serialize, ToSchema)]
pub struct PractitionerInvitedResponse {
    /// The practitioner.
    #[serde(flatten)]
    pub practitioner: PractitionerResponse,
    /// The single-use invitation (shown once).
    pub invitation: InvitationResponse,
}

/// Filters of the practitioner list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPractitionersQuery {
    /// Only active (`true`) or only deactivated (`false`) practitioners.
    pub active: Option<bool>,
}

fn nullable_external_id() -> utoipa::openapi::Schema {
    crate::values::openapi::nullable_ref::<crate::values::openapi::ExternalId>("A new external id; `null` clears it.")
}
