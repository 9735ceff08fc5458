use crate::auth::Role;
use crate::db::schema::{memberships, users};
use crate::practitioners::dto::{PractitionerResponse, PractitionerStatus};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// A staff membership with its login's email.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = memberships)]
pub struct MembershipRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    pub name: String,
    pub active: bool,
    pub accepted_at: Option<DateTime<Utc>>,
    pub client_id: Option<Uuid>,
    pub external_id: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MembershipRow {
    pub fn into_practitioner(self, email: String) -> PractitionerResponse {
        let status = match (self.active, self.accepted_at) {
            (false, _) => PractitionerStatus::Deactivated,
            (true, None) => PractitionerStatus::Invited,
            (true, Some(_)) => PractitionerStatus::Active,
        };
        PractitionerResponse {
            id: self.id,
            name: self.name,
            email,
            role: self.role,
            external_id: self.external_id,
            active: self.active,
            status,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = memberships)]
pub struct NewMembership<'a> {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    pub name: &'a str,
    pub accepted_at: Option<DateTime<Utc>>,
    pub client_id: Option<Uuid>,
    pub external_id: Option<&'a str>,
}

pub async fn insert_membership(conn: &mut AsyncPgConnection, new: &NewMembership<'_>) -> QueryResult<MembershipRow> {
    diesel::insert_into(memberships::table)
        .values(new)
        .returning(MembershipRow::as_returning())
        .get_result(conn)
        .await
}

/// A staff member of `clinic_id` by membership id.
pub async fn find(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<(MembershipRow, String)>> {
    memberships::table
        .inner_join(users::table)
        .filter(memberships::clinic_id.eq(clinic_id))
        .filter(memberships::id.eq(id))
        .filter(memberships::role.ne(Role::Client))
        .select((MembershipRow::as_select(), users::email))
        .first(conn)
        .await
        .optional()
}
