//! Reading the audit trail.

use super::sink::AuditRow;
use crate::auth::Role;
use crate::db::schema::{api_keys, audit_events, memberships};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Default)]
pub struct Filter {
    pub client_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only requests that succeeded (what a client's own access log shows).
    pub succeeded: bool,
}

/// A page of the clinic's audit events, newest first (ids are time-ordered), before `before`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    f: &Filter,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    let mut q = audit_events::table
        .filter(audit_events::clinic_id.eq(clinic_id))
        .select(AuditRow::as_select())
        .order(audit_events::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(c) = f.client_id {
        q = q.filter(audit_events::client_ids.contains(vec![c]));
    }
    if let Some(a) = f.actor_id {
        q = q.filter(audit_events::actor_id.eq(a));
    }
    if let Some(action) = &f.action {
        q = q.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(from) = f.from {
        q = q.filter(audit_events::occurred_at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(audit_events::occurred_at.lt(to));
    }
    if f.succeeded {
        q = q.filter(audit_events::status.between(200, 299));
    }
    if let Some(before) = before {
        q = q.filter(audit_events::id.lt(before));
    }
    q.load(conn).await
}

/// A person acting in a clinic, as the access log names them.
pub struct Named {
    pub name: String,
    pub role: Option<Role>,
    /// For a client's login: their client record.
    pub client_id: Option<Uuid>,
}

/// The names of these actors in the clinic: members by login id, API keys by key id.
pub async fn actor_names(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    ids: &[Uuid],
) -> QueryResult<HashMap<Uuid, Named>> {
    let mut out = HashMap::new();
    let members: Vec<(Uuid, String, Role, Option<Uuid>)> = memberships::table
        .filter(memberships::clinic_id.eq(clinic_id))
        .filter(memberships::user_id.eq_any(ids))
        .select((
            memberships::user_id,
            memberships::name,
            memberships::role,
            memberships::client_id,
        ))
        .load(conn)
        .await?;
    for (id, name, role, client_id) in members {
        out.insert(
            id,
            Named {
                name,
                role: Some(role),
                client_id,
            },
        );
    }
    let keys: Vec<(Uuid, String)> = api_keys::table
        .filter(api_keys::clinic_id.eq(clinic_id))
        .filter(api_keys::id.eq_any(ids))
        .select((api_keys::id, api_keys::name))
        .load(conn)
        .await?;
    for (id, name) in keys {
        out.insert(
            id,
            Named {
                name,
                role: None,
                client_id: None,
            },
        );
    }
    Ok(out)
}
