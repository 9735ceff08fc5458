use crate::auth::Role;
use crate::text_enum;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
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
    pub created_at: DateTime<Utc>,
    /// When the practitioner last changed.
    pub updated_at: DateTime<Utc>,
}
