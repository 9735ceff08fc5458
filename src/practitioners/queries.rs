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

/// A page of the clinic's staff, in creation order, after the membership id `after`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    active: Option<bool>,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<(MembershipRow, String)>> {
    let mut q = memberships::table
        .inner_join(users::table)
        .filter(memberships::clinic_id.eq(clinic_id))
        .filter(memberships::role.ne(Role::Client))
        .select((MembershipRow::as_select(), users::email))
        .order(memberships::id)
        .limit(limit + 1)
        .into_boxed();
    if let Some(active) = active {
        q = q.filter(memberships::active.eq(active));
    }
    if let Some(after) = after {
        q = q.filter(memberships::id.gt(after));
    }
    q.load(conn).await
}

/// A staff member by the booking system's id, locked for an upsert.
pub async fn find_by_external_id_for_update(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    external_id: &str,
) -> QueryResult<Option<(MembershipRow, String)>> {
    memberships::table
        .inner_join(users::table)
        .filter(memberships::clinic_id.eq(clinic_id))
        .filter(memberships::external_id.eq(external_id))
        .select((MembershipRow::as_select(), users::email))
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Locks a staff member for an update.
pub async fn find_for_update(
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
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Other active admins of the clinic, locked so two demotions cannot both pass the check.
pub async fn other_active_admins(conn: &mut AsyncPgConnection, clinic_id: Uuid, except: Uuid) -> QueryResult<usize> {
    let ids: Vec<Uuid> = memberships::table
        .filter(memberships::clinic_id.eq(clinic_id))
        .filter(memberships::role.eq(Role::Admin))
        .filter(memberships::active.eq(true))
        .filter(memberships::id.ne(except))
        .select(memberships::id)
        .for_update()
        .load(conn)
        .await?;
    Ok(ids.len())
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = memberships)]
pub struct MembershipChanges<'a> {
    pub name: Option<&'a str>,
    pub external_id: Option<Option<&'a str>>,
    pub active: Option<bool>,
    pub role: Option<Role>,
}

/// Applies changes and bumps the version.
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &MembershipChanges<'_>,
) -> QueryResult<MembershipRow> {
    crate::auth::cache::access_changed();
    diesel::update(memberships::table.find(id))
        .set((
            changes,
            memberships::version.eq(memberships::version + 1),
            memberships::updated_at.eq(Utc::now()),
        ))
        .returning(MembershipRow::as_returning())
        .get_result(conn)
        .await
}
