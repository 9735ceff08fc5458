use crate::auth::Role;
use crate::clients::dto::ClientResponse;
use crate::db::schema::{clients, memberships};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub timezone: String,
    pub primary_practitioner_id: Option<Uuid>,
    pub external_id: Option<String>,
    pub archived_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ClientRow {
    /// The client's IANA timezone, which their schedule follows (validated when stored).
    pub fn tz(&self) -> Result<chrono_tz::Tz, crate::error::ApiError> {
        self.timezone
            .parse()
            .map_err(|_| crate::error::ApiError::internal("a stored timezone does not parse"))
    }

    pub fn into_response(self, login_accepted_at: Option<DateTime<Utc>>) -> ClientResponse {
        ClientResponse {
            id: self.id,
            name: self.name,
            email: self.email,
            timezone: self.timezone,
            primary_practitioner_id: self.primary_practitioner_id,
            external_id: self.external_id,
            archived: self.archived_at.is_some(),
            archived_at: self.archived_at,
            has_login: login_accepted_at.is_some(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = clients)]
pub struct NewClient<'a> {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub timezone: &'a str,
    pub primary_practitioner_id: Option<Uuid>,
    pub external_id: Option<&'a str>,
}

/// Field changes; `None` leaves a column as it is.
#[derive(AsChangeset, Default)]
#[diesel(table_name = clients)]
pub struct ClientChanges<'a> {
    pub name: Option<&'a str>,
    pub email: Option<Option<&'a str>>,
    pub timezone: Option<&'a str>,
    pub primary_practitioner_id: Option<Option<Uuid>>,
    pub external_id: Option<Option<&'a str>>,
    pub archived_at: Option<Option<DateTime<Utc>>>,
}

impl ClientChanges<'_> {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.email.is_none()
            && self.timezone.is_none()
            && self.primary_practitioner_id.is_none()
            && self.external_id.is_none()
            && self.archived_at.is_none()
    }
}

/// When a client's login accepted its invitation (`None`: no login).
fn login_accepted() -> diesel::dsl::Nullable<memberships::accepted_at> {
    memberships::accepted_at.nullable()
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewClient<'_>) -> QueryResult<ClientRow> {
    diesel::insert_into(clients::table)
        .values(new)
        .returning(ClientRow::as_returning())
        .get_result(conn)
        .await
}

/// The clinic's client and the timezone their calendar follows; 404 when the client is not
/// the clinic's.
pub async fn find_with_tz(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
) -> Result<(ClientRow, chrono_tz::Tz), crate::error::ApiError> {
    let (client, _) = find(conn, clinic_id, id, false)
        .await?
        .ok_or_else(|| crate::error::ApiError::not_found("client"))?;
    let tz = client.tz()?;
    Ok((client, tz))
}

/// A client of the clinic with its login state; `lock` takes the client's row lock first (for
/// an update: PostgreSQL cannot lock through the outer join).
pub async fn find(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
    lock: bool,
) -> QueryResult<Option<(ClientRow, Option<DateTime<Utc>>)>> {
    if lock {
        let locked: Option<Uuid> = clients::table
            .filter(clients::clinic_id.eq(clinic_id))
            .filter(clients::id.eq(id))
            .select(clients::id)
            .for_update()
            .first(conn)
            .await
            .optional()?;
        if locked.is_none() {
            return Ok(None);
        }
    }
    clients::table
        .left_join(memberships::table.on(memberships::client_id.eq(clients::id.nullable())))
        .filter(clients::clinic_id.eq(clinic_id))
        .filter(clients::id.eq(id))
        .select((ClientRow::as_select(), login_accepted()))
        .first(conn)
        .await
        .optional()
}

/// The client with a booking system's id; `lock` as for [`find`].
pub async fn find_by_external_id(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    external_id: &str,
    lock: bool,
) -> QueryResult<Option<(ClientRow, Option<DateTime<Utc>>)>> {
    let id: Option<Uuid> = clients::table
        .filter(clients::clinic_id.eq(clinic_id))
        .filter(clients::external_id.eq(external_id))
        .select(clients::id)
        .first(conn)
        .await
        .optional()?;
    match id {
        Some(id) => find(conn, clinic_id, id, lock).await,
        None => Ok(None),
    }
}

pub struct ListFilter {
    pub q: Option<String>,
    pub primary_practitioner_id: Option<Uuid>,
    pub archived: bool,
}

/// `%text%` for ILIKE, with the pattern characters of the text escaped.
fn contains_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// What the clinic's list shows beside each client, read by the list's own query.
#[derive(Debug, Clone, Queryable)]
pub struct ListSummary {
    /// When the latest live log was performed.
    pub last_session_at: Option<DateTime<Utc>>,
    /// Flagged live logs not reviewed yet.
    pub open_flags: i64,
    /// The assignments of about the last fortnight, as JSON: see [`RECENT_ASSIGNMENTS`].
    pub recent_assignments: Option<serde_json::Value>,
    /// Their live logs since then, as JSON: see [`RECENT_LOGS`].
    pub recent_logs: Option<serde_json::Value>,
    /// The latest questionnaire score, as JSON: see `outcomes::queries::LATEST_SCORE`.
    pub latest_score: Option<serde_json::Value>,
}

/// Days of homework the list's summary covers. Its SQL reads two days more on each side: the
/// database's `current_date` may be a day away from the client's, whose calendar decides in
/// Rust.
pub const SUMMARY_DAYS: i64 = 14;

const LAST_SESSION_AT: &str = "(SELECT max(s.performed_at) FROM session_logs s \
     WHERE s.clinic_id = clients.clinic_id AND s.client_id = clients.id AND s.deleted_at IS NULL)";

const OPEN_FLAGS: &str = "(SELECT count(*) FROM session_logs s \
     WHERE s.clinic_id = clients.clinic_id AND s.client_id = clients.id AND s.deleted_at IS NULL \
     AND s.flagged AND s.reviewed_at IS NULL)";

/// `[[id, start_date, end_date, days_of_week, times_per_day, ended_at, [[paused_at,
/// resumed_at], ...] | null], ...]`: the assignments that may have been due in the last 16 days.
/// (`json`, not `jsonb`: it is only read once, and building `jsonb` cost twice as much.)
pub const RECENT_ASSIGNMENTS: &str = "(SELECT json_agg(json_build_array( \
       a.id, a.start_date, a.end_date, a.days_of_week, a.times_per_day, a.ended_at, \
       (SELECT json_agg(json_build_array(p.paused_at, p.resumed_at) ORDER BY p.paused_at) \
        FROM assignment_pauses p WHERE p.clinic_id = a.clinic_id AND p.assignment_id = a.id) \
     ) ORDER BY a.id) \
     FROM assignments a WHERE a.clinic_id = clients.clinic_id AND a.client_id = clients.id \
     AND a.start_date <= current_date + 2 \
     AND (a.end_date IS NULL OR a.end_date >= current_date - 16) \
     AND (a.ended_at IS NULL OR a.ended_at >= now() - interval '17 days'))";

/// `[[assignment_id, local_date], ...]`: one pair per live log of the last 16 days (an
/// index-only scan of `session_logs_client_day_idx`).
pub const RECENT_LOGS: &str = "(SELECT json_agg(json_build_array(s.assignment_id, s.local_date)) \
     FROM session_logs s WHERE s.clinic_id = clients.clinic_id AND s.client_id = clients.id \
     AND s.local_date >= current_date - 16 AND s.deleted_at IS NULL)";

/// A page of clients in creation order, after the client id `after`, each with its login
/// state and its summary, in one query.
pub async fn list(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    filter: &ListFilter,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<(ClientRow, Option<DateTime<Utc>>, ListSummary)>> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Json, Nullable, Timestamptz};
    let mut q = clients::table
        .left_join(memberships::table.on(memberships::client_id.eq(clients::id.nullable())))
        .filter(clients::clinic_id.eq(clinic_id))
        .select((
            ClientRow::as_select(),
            login_accepted(),
            (
                sql::<Nullable<Timestamptz>>(LAST_SESSION_AT),
                sql::<BigInt>(OPEN_FLAGS),
                sql::<Nullable<Json>>(RECENT_ASSIGNMENTS),
                sql::<Nullable<Json>>(RECENT_LOGS),
                sql::<Nullable<Json>>(crate::outcomes::queries::LATEST_SCORE),
            ),
        ))
        .order(clients::id)
        .limit(limit + 1)
        .into_boxed();
    q = if filter.archived {
        q.filter(clients::archived_at.is_not_null())
    } else {
        q.filter(clients::archived_at.is_null())
    };
    if let Some(text) = filter.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = contains_pattern(text);
        q = q.filter(
            clients::name
                .ilike(pattern.clone())
                .or(clients::email.ilike(pattern.clone()))
                .or(clients::external_id.ilike(pattern)),
        );
    }
    if let Some(p) = filter.primary_practitioner_id {
        q = q.filter(clients::primary_practitioner_id.eq(p));
    }
    if let Some(after) = after {
        q = q.filter(clients::id.gt(after));
    }
    q.load(conn).await
}

pub async fn update(conn: &mut AsyncPgConnection, id: Uuid, changes: &ClientChanges<'_>) -> QueryResult<ClientRow> {
    diesel::update(clients::table.find(id))
        .set((
            changes,
            clients::version.eq(clients::version + 1),
            clients::updated_at.eq(Utc::now()),
        ))
        .returning(ClientRow::as_returning())
        .get_result(conn)
        .await
}

/// Keeps the client's login in step: same display name; active unless archived.
pub async fn sync_login(conn: &mut AsyncPgConnection, client: &ClientRow) -> QueryResult<usize> {
    crate::auth::cache::access_changed();
    diesel::update(memberships::table.filter(memberships::client_id.eq(client.id)))
        .set((
            memberships::name.eq(&client.name),
            memberships::active.eq(client.archived_at.is_none()),
            memberships::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
}

/// Whether `id` is an active staff member of the clinic.
pub async fn is_active_practitioner(conn: &mut AsyncPgConnection, clinic_id: Uuid, id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        memberships::table
            .filter(memberships::clinic_id.eq(clinic_id))
            .filter(memberships::id.eq(id))
            .filter(memberships::role.ne(Role::Client))
            .filter(memberships::active.eq(true)),
    ))
    .get_result(conn)
    .await
}

/// The login membership of a client, if one was made.
pub async fn login_membership(conn: &mut AsyncPgConnection, client_id: Uuid) -> QueryResult<Option<Uuid>> {
    memberships::table
        .filter(memberships::client_id.eq(client_id))
        .select(memberships::id)
        .first(conn)
        .await
        .optional()
}

/// The timezone and external id of each of these clients of the clinic.
pub async fn zones(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, (chrono_tz::Tz, Option<String>)>, crate::error::ApiError> {
    let rows: Vec<(Uuid, String, Option<String>)> = clients::table
        .filter(clients::clinic_id.eq(clinic_id))
        .filter(clients::id.eq_any(ids))
        .select((clients::id, clients::timezone, clients::external_id))
        .load(conn)
        .await?;
    rows.into_iter()
        .map(|(id, tz, ext)| {
            let tz = tz
                .parse()
                .map_err(|_| crate::error::ApiError::internal("a stored timezone does not parse"))?;
            Ok((id, (tz, ext)))
        })
        .collect()
}
