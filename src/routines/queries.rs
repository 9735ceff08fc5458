//! Routine rows, their items, and the queries over them. A routine is read in one statement with
//! its items (and each item's exercise) aggregated as JSON; writes use the query builder.

use crate::db::SYSTEM_CLINIC_ID;
use crate::db::schema::{routine_items, routines};
use crate::db::sql::SqlBuilder;
use crate::error::ApiError;
use crate::error::Validator;
use crate::exercises::dto::Dosage;
use crate::exercises::dto::ItemSide;
use crate::exercises::queries as exercise_queries;
use crate::routines::dto::{ItemFields, RoutineItemResponse, RoutineResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = routines)]
pub struct RoutineRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A routine as the API reads it: the row and its items as a JSON array.
#[derive(Debug, QueryableByName)]
pub struct RoutineView {
    #[diesel(embed)]
    pub routine: RoutineRow,
    #[diesel(sql_type = Jsonb)]
    pub items: serde_json::Value,
}

impl RoutineView {
    pub fn into_response(self) -> Result<RoutineResponse, ApiError> {
        let r = self.routine;
        let items: Vec<RoutineItemResponse> = serde_json::from_value(self.items)
            .map_err(|e| ApiError::internal(format!("routine items do not parse: {e}")))?;
        Ok(RoutineResponse {
            id: r.id,
            name: r.name,
            description: r.description,
            builtin: r.clinic_id == SYSTEM_CLINIC_ID,
            items,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// `SELECT … FROM routines r WHERE <visible to clinic>`; callers append `AND …` conditions.
fn select_visible(q: &mut SqlBuilder<'_>, clinic_id: Uuid) {
    let clinic = q.param::<SqlUuid, _>(clinic_id);
    let system = q.param::<SqlUuid, _>(SYSTEM_CLINIC_ID);
    q.push(
        "SELECT r.id, r.clinic_id, r.name, r.description, r.version, r.created_at, r.updated_at, \
         (SELECT coalesce(jsonb_agg(jsonb_build_object(\
             'exercise_id', i.exercise_id, \
             'exercise', jsonb_build_object('id', x.id, 'name', x.name, 'summary', x.summary, ",
    );
    q.push(&format!("'builtin', x.clinic_id = {system}, "));
    q.push(
        "'archived', x.archived_at IS NOT NULL), \
             'sets', i.sets, 'reps', i.reps, 'hold_seconds', i.hold_seconds, \
             'duration_seconds', i.duration_seconds, 'rest_seconds', i.rest_seconds, \
             'side', i.side, 'notes', i.notes) ORDER BY i.position), '[]'::jsonb) \
          FROM routine_items i JOIN exercises x ON x.id = i.exercise_id \
          WHERE i.clinic_id = r.clinic_id AND i.routine_id = r.id) AS items \
         FROM routines r ",
    );
    q.push(&format!("WHERE r.clinic_id IN ({clinic}, {system})"));
}

/// One page of the routines visible to a clinic (built-ins and its own), by name then id;
/// `limit` + 1 rows so the caller can tell whether another page follows.
pub async fn list(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    builtin: Option<bool>,
    after: Option<(String, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<RoutineView>> {
    let mut q = SqlBuilder::new();
    select_visible(&mut q, clinic_id);
    if let Some(builtin) = builtin {
        let owner = q.param::<SqlUuid, _>(if builtin { SYSTEM_CLINIC_ID } else { clinic_id });
        q.push(&format!(" AND r.clinic_id = {owner}"));
    }
    if let Some((name, id)) = after {
        let name = q.param::<Text, _>(name);
        let id = q.param::<SqlUuid, _>(id);
        q.push(&format!(" AND (r.name, r.id) > ({name}, {id})"));
    }
    let limit = q.param::<BigInt, _>(limit + 1);
    q.push(&format!(" ORDER BY r.name, r.id LIMIT {limit}"));
    q.build().load(conn).await
}

/// A routine visible to a clinic.
pub async fn find_visible(conn: &mut AsyncPgConnection, clinic_id: Uuid, id: Uuid) -> QueryResult<Option<RoutineView>> {
    let mut q = SqlBuilder::new();
    select_visible(&mut q, clinic_id);
    let id = q.param::<SqlUuid, _>(id);
    q.push(&format!(" AND r.id = {id}"));
    q.build().get_result(conn).await.optional()
}

#[derive(Insertable)]
#[diesel(table_name = routines)]
pub struct NewRoutine<'a> {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub name: &'a str,
    pub description: Option<&'a str>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewRoutine<'_>) -> QueryResult<usize> {
    diesel::insert_into(routines::table).values(new).execute(conn).await
}

/// One stored item; also how items are inserted.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = routine_items)]
pub struct ItemRow {
    pub clinic_id: Uuid,
    pub routine_id: Uuid,
    pub position: i32,
    pub exercise_id: Uuid,
    pub sets: Option<i32>,
    pub reps: Option<i32>,
    pub hold_seconds: Option<i32>,
    pub duration_seconds: Option<i32>,
    pub rest_seconds: Option<i32>,
    pub side: ItemSide,
    pub notes: Option<String>,
}

/// A routine's items, in order.
pub async fn items(conn: &mut AsyncPgConnection, clinic_id: Uuid, routine_id: Uuid) -> QueryResult<Vec<ItemRow>> {
    routine_items::table
        .filter(routine_items::clinic_id.eq(clinic_id))
        .filter(routine_items::routine_id.eq(routine_id))
        .order(routine_items::position)
        .select(ItemRow::as_select())
        .load(conn)
        .await
}

/// Replaces a routine's items with `items` (whose positions must be 0, 1, 2, …).
pub async fn replace_items(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    routine_id: Uuid,
    items: &[ItemRow],
) -> QueryResult<()> {
    diesel::delete(
        routine_items::table
            .filter(routine_items::clinic_id.eq(clinic_id))
            .filter(routine_items::routine_id.eq(routine_id)),
    )
    .execute(conn)
    .await?;
    if !items.is_empty() {
        diesel::insert_into(routine_items::table)
            .values(items)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The clinic's own routine, locked for a change until the transaction ends.
pub async fn lock_own(conn: &mut AsyncPgConnection, clinic_id: Uuid, id: Uuid) -> QueryResult<Option<RoutineRow>> {
    routines::table
        .filter(routines::clinic_id.eq(clinic_id))
        .filter(routines::id.eq(id))
        .select(RoutineRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn is_builtin(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        routines::table
            .filter(routines::clinic_id.eq(SYSTEM_CLINIC_ID))
            .filter(routines::id.eq(id)),
    ))
    .get_result(conn)
    .await
}

#[derive(AsChangeset)]
#[diesel(table_name = routines)]
struct RoutineChangeset<'a> {
    name: Option<&'a str>,
    description: Option<Option<&'a str>>,
}

/// Changes a locked routine's fields and bumps its version (also when only its items changed).
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    name: Option<&str>,
    description: Option<Option<&str>>,
) -> QueryResult<usize> {
    diesel::update(routines::table.find(id))
        .set((
            RoutineChangeset { name, description },
            routines::version.eq(routines::version + 1),
            routines::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
}

/// Deletes a routine; its items go with it.
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(routines::table.find(id)).execute(conn).await
}

/// Checks each item's exercise (visible to the clinic, not archived; every broken one is named
/// at `items[i].exercise_id`) and fills in default dosages. The exercises stay share-locked
/// until the transaction ends, so none can be deleted under the new items. Used by routine
/// templates and by assignments alike.
pub async fn resolve_items(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    items: Vec<ItemFields>,
) -> Result<Vec<ItemFields>, ApiError> {
    let mut ids: Vec<Uuid> = items.iter().map(|i| i.exercise_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let found: HashMap<Uuid, (bool, serde_json::Value)> = exercise_queries::lock_visible(conn, clinic_id, &ids)
        .await?
        .into_iter()
        .map(|(id, archived, dosage)| (id, (archived, dosage)))
        .collect();
    let mut v = Validator::new();
    let mut resolved = Vec::with_capacity(items.len());
    for (position, item) in items.into_iter().enumerate() {
        let field = format!("items[{position}].exercise_id");
        match found.get(&item.exercise_id) {
            None => v.add(field, "is not an exercise in this clinic's library"),
            Some((true, _)) => v.add(field, "is archived; choose another exercise or restore it"),
            Some((false, dosage)) => {
                let default: Dosage = serde_json::from_value(dosage.clone()).unwrap_or_default();
                resolved.push(item.with_defaults(&default));
            }
        }
    }
    v.finish()?;
    Ok(resolved)
}
