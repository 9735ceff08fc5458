//! Exercise rows and the queries over them. Reads are one hand-written statement each (full-text
//! search, and each exercise's progressions and regressions aggregated in the same statement);
//! writes use the query builder.

use crate::db::SYSTEM_CLINIC_ID;
use crate::db::schema::{assignment_items, assignments, exercises, routine_items};
use crate::db::sql::SqlBuilder;
use crate::error::ApiError;
use crate::exercises::dto::{
    BodyRegion, Category, Dosage, Equipment, ExerciseChanges, ExerciseFields, ExerciseRef, ExerciseResponse, Media,
};
use chrono::{DateTime, Utc};
use diesel::AggregateExpressionMethods;
use diesel::prelude::*;
use diesel::sql_types::{Float4, Int2, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// One exercise as stored.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = exercises)]
pub struct ExerciseRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub name: String,
    pub summary: Option<String>,
    pub instructions: Vec<String>,
    pub category: Category,
    pub body_regions: Vec<BodyRegion>,
    pub equipment: Vec<Equipment>,
    pub difficulty: i16,
    pub default_dosage: serde_json::Value,
    pub cautions: Vec<String>,
    pub media: serde_json::Value,
    pub progression_of: Option<Uuid>,
    pub archived_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An exercise as the API reads it: the row, its links, and its search rank (0 without `q`).
#[derive(Debug, QueryableByName)]
pub struct ExerciseView {
    #[diesel(embed)]
    pub exercise: ExerciseRow,
    #[diesel(sql_type = Jsonb)]
    pub progressions: serde_json::Value,
    #[diesel(sql_type = Jsonb)]
    pub regressions: serde_json::Value,
    #[diesel(sql_type = Float4)]
    pub rank: f32,
}

/// Stored JSON is ours; if it does not read back, that is our bug (a 500), not the caller's.
fn from_json<T: DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::internal(format!("stored {what} does not parse: {e}")))
}

impl ExerciseView {
    pub fn into_response(self) -> Result<ExerciseResponse, ApiError> {
        let r = self.exercise;
        Ok(ExerciseResponse {
            id: r.id,
            name: r.name,
            summary: r.summary,
            instructions: r.instructions,
            category: r.category,
            body_regions: r.body_regions,
            equipment: r.equipment,
            difficulty: r.difficulty,
            default_dosage: from_json::<Dosage>(r.default_dosage, "dosage")?,
            cautions: r.cautions,
            media: from_json::<Vec<Media>>(r.media, "media")?,
            progression_of: r.progression_of,
            progressions: from_json::<Vec<ExerciseRef>>(self.progressions, "progressions")?,
            regressions: from_json::<Vec<ExerciseRef>>(self.regressions, "regressions")?,
            builtin: r.clinic_id == SYSTEM_CLINIC_ID,
            archived: r.archived_at.is_some(),
            archived_at: r.archived_at,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The list filters, already parsed.
#[derive(Debug, Clone, Default)]
pub struct ExerciseFilter {
    /// Full-text search (web search syntax: words, "quoted phrases", -exclusions, or).
    pub q: Option<String>,
    pub category: Option<Category>,
    pub body_region: Option<BodyRegion>,
    pub equipment: Option<Equipment>,
    pub difficulty: Option<i16>,
    /// `Some(true)`: built-ins only; `Some(false)`: the clinic's own only.
    pub builtin: Option<bool>,
    pub include_archived: bool,
}

/// Where the previous page ended, in the list's order.
#[derive(Debug, Clone)]
pub enum After {
    /// Without `q`: ordered by name, then id.
    Name(String, Uuid),
    /// With `q`: ordered by rank (best first), then id.
    Rank(f32, Uuid),
}

const COLUMNS: &str = "e.id, e.clinic_id, e.name, e.summary, e.instructions, e.category, e.body_regions, \
    e.equipment, e.difficulty, e.default_dosage, e.cautions, e.media, e.progression_of, e.archived_at, e.version, \
    e.created_at, e.updated_at";

/// A JSON array of the exercise references `x` of a subquery; `system` is the system clinic's
/// placeholder.
fn ref_agg(system: &str) -> String {
    format!(
        "coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'name', x.name, 'difficulty', x.difficulty, \
         'builtin', x.clinic_id = {system}, 'archived', x.archived_at IS NOT NULL) \
         ORDER BY x.difficulty, x.name, x.id), '[]'::jsonb)"
    )
}

/// `SELECT … FROM exercises e WHERE <visible to clinic>`; callers append `AND …` conditions.
/// With a search, the query `tsq` joins the FROM list and `rank` is the exercise's rank.
fn select_visible(q: &mut SqlBuilder<'_>, clinic_id: Uuid, search: Option<&str>) {
    let clinic = q.param::<SqlUuid, _>(clinic_id);
    let system = q.param::<SqlUuid, _>(SYSTEM_CLINIC_ID);
    let visible = |alias: &str| format!("{alias}.clinic_id IN ({clinic}, {system})");
    let refs = ref_agg(&system);
    q.push("SELECT ").push(COLUMNS);
    // Progressions: visible exercises that name this one as their easier version.
    q.push(&format!(
        ", (SELECT {refs} FROM exercises x WHERE {} AND x.progression_of = e.id) AS progressions",
        visible("x")
    ));
    q.push(&format!(
        ", (SELECT {refs} FROM exercises x WHERE {} AND x.id = e.progression_of) AS regressions",
        visible("x")
    ));
    match search {
        Some(text) => {
            let text = q.param::<Text, _>(text.to_string());
            q.push(", ts_rank(e.search, tsq) AS rank FROM exercises e, ");
            q.push(&format!(
                "websearch_to_tsquery('english', {text}) AS tsq WHERE e.search @@ tsq AND "
            ));
        }
        None => {
            q.push(", 0::real AS rank FROM exercises e WHERE ");
        }
    }
    q.push(&visible("e"));
}

/// One page of the exercises visible to a clinic (built-ins and its own), `limit` + 1 rows so the
/// caller can tell whether another page follows.
pub async fn list(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    filter: &ExerciseFilter,
    after: Option<After>,
    limit: i64,
) -> QueryResult<Vec<ExerciseView>> {
    let mut q = SqlBuilder::new();
    select_visible(&mut q, clinic_id, filter.q.as_deref());
    match filter.builtin {
        Some(true) => {
            let p = q.param::<SqlUuid, _>(SYSTEM_CLINIC_ID);
            q.push(&format!(" AND e.clinic_id = {p}"));
        }
        Some(false) => {
            let p = q.param::<SqlUuid, _>(clinic_id);
            q.push(&format!(" AND e.clinic_id = {p}"));
        }
        None => {}
    }
    if !filter.include_archived {
        q.push(" AND e.archived_at IS NULL");
    }
    if let Some(c) = filter.category {
        let p = q.param::<Text, _>(c);
        q.push(&format!(" AND e.category = {p}"));
    }
    if let Some(r) = filter.body_region {
        let p = q.param::<Text, _>(r);
        q.push(&format!(" AND e.body_regions @> ARRAY[{p}]"));
    }
    if let Some(eq) = filter.equipment {
        let p = q.param::<Text, _>(eq);
        q.push(&format!(" AND e.equipment @> ARRAY[{p}]"));
    }
    if let Some(d) = filter.difficulty {
        let p = q.param::<Int2, _>(d);
        q.push(&format!(" AND e.difficulty = {p}"));
    }
    match after {
        Some(After::Name(name, id)) => {
            let name = q.param::<Text, _>(name);
            let id = q.param::<SqlUuid, _>(id);
            q.push(&format!(" AND (e.name, e.id) > ({name}, {id})"));
        }
        Some(After::Rank(rank, id)) => {
            let rank = q.param::<Float4, _>(rank);
            let id = q.param::<SqlUuid, _>(id);
            q.push(&format!(
                " AND (ts_rank(e.search, tsq) < {rank} OR (ts_rank(e.search, tsq) = {rank} AND e.id > {id}))"
            ));
        }
        None => {}
    }
    if filter.q.is_some() {
        q.push(" ORDER BY rank DESC, e.id");
    } else {
        q.push(" ORDER BY e.name, e.id");
    }
    let l = q.param::<diesel::sql_types::BigInt, _>(limit + 1);
    q.push(&format!(" LIMIT {l}"));
    q.build().load(conn).await
}

/// An exercise visible to a clinic (archived or not).
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<ExerciseView>> {
    let mut q = SqlBuilder::new();
    select_visible(&mut q, clinic_id, None);
    let p = q.param::<SqlUuid, _>(id);
    q.push(&format!(" AND e.id = {p}"));
    q.build().get_result(conn).await.optional()
}

#[derive(Insertable)]
#[diesel(table_name = exercises)]
pub struct NewExercise<'a> {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub name: &'a str,
    pub summary: Option<&'a str>,
    pub instructions: &'a [String],
    pub category: Category,
    pub body_regions: &'a [BodyRegion],
    pub equipment: &'a [Equipment],
    pub difficulty: i16,
    pub default_dosage: serde_json::Value,
    pub cautions: &'a [String],
    pub media: serde_json::Value,
    pub progression_of: Option<Uuid>,
}

fn to_json<T: serde::Serialize>(value: &T) -> QueryResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
}

impl<'a> NewExercise<'a> {
    pub fn new(id: Uuid, clinic_id: Uuid, f: &'a ExerciseFields) -> QueryResult<Self> {
        Ok(NewExercise {
            id,
            clinic_id,
            name: &f.name,
            summary: f.summary.as_deref(),
            instructions: &f.instructions,
            category: f.category,
            body_regions: &f.body_regions,
            equipment: &f.equipment,
            difficulty: f.difficulty,
            default_dosage: to_json(&f.default_dosage)?,
            cautions: &f.cautions,
            media: to_json(&f.media)?,
            progression_of: f.progression_of,
        })
    }
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewExercise<'_>) -> QueryResult<usize> {
    diesel::insert_into(exercises::table).values(new).execute(conn).await
}

/// The clinic's own exercise, locked for a change until the transaction ends.
pub async fn lock_own(conn: &mut AsyncPgConnection, clinic_id: Uuid, id: Uuid) -> QueryResult<Option<ExerciseRow>> {
    exercises::table
        .filter(exercises::clinic_id.eq(clinic_id))
        .filter(exercises::id.eq(id))
        .select(ExerciseRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Is this a built-in exercise?
pub async fn is_builtin(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        exercises::table
            .filter(exercises::clinic_id.eq(SYSTEM_CLINIC_ID))
            .filter(exercises::id.eq(id)),
    ))
    .get_result(conn)
    .await
}

/// Of `ids`, those visible to the clinic, with whether each is archived, and their default
/// dosage. The rows stay share-locked until the transaction ends, so none of them can be deleted
/// while something starts to refer to it.
pub async fn lock_visible(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, bool, serde_json::Value)>> {
    exercises::table
        .filter(exercises::clinic_id.eq_any([clinic_id, SYSTEM_CLINIC_ID]))
        .filter(exercises::id.eq_any(ids))
        .select((
            exercises::id,
            exercises::archived_at.is_not_null(),
            exercises::default_dosage,
        ))
        .for_key_share()
        .load(conn)
        .await
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    found: bool,
}

/// Would `id` becoming a progression of `target` close a loop (`target` already progresses,
/// directly or not, from `id`)?
pub async fn would_loop(conn: &mut AsyncPgConnection, id: Uuid, target: Uuid) -> QueryResult<bool> {
    // UNION (not UNION ALL) stops on a loop that somehow exists already.
    diesel::sql_query(
        "WITH RECURSIVE chain (id, progression_of) AS ( \
             SELECT id, progression_of FROM exercises WHERE id = $1 \
             UNION SELECT x.id, x.progression_of FROM exercises x JOIN chain c ON x.id = c.progression_of) \
         SELECT EXISTS (SELECT 1 FROM chain WHERE id = $2) AS found",
    )
    .bind::<SqlUuid, _>(target)
    .bind::<SqlUuid, _>(id)
    .get_result::<Found>(conn)
    .await
    .map(|f| f.found)
}

/// What in the clinic refers to an exercise: routines using it, and exercises progressing from it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct References {
    pub routines: i64,
    pub progressions: i64,
    /// Assignment items (current or removed, as session logs keep pointing at them).
    pub assignments: i64,
}

impl References {
    pub fn any(&self) -> bool {
        self.routines > 0 || self.progressions > 0 || self.assignments > 0
    }
}

pub async fn references(conn: &mut AsyncPgConnection, clinic_id: Uuid, id: Uuid) -> QueryResult<References> {
    let routines = routine_items::table
        .filter(routine_items::clinic_id.eq(clinic_id))
        .filter(routine_items::exercise_id.eq(id))
        .select(diesel::dsl::count(routine_items::routine_id).aggregate_distinct())
        .get_result(conn)
        .await?;
    let progressions = exercises::table
        .filter(exercises::clinic_id.eq(clinic_id))
        .filter(exercises::progression_of.eq(id))
        .count()
        .get_result(conn)
        .await?;
    let assignments = assignment_items::table
        .filter(assignment_items::clinic_id.eq(clinic_id))
        .filter(assignment_items::exercise_id.eq(id))
        .select(diesel::dsl::count(assignment_items::assignment_id).aggregate_distinct())
        .get_result(conn)
        .await?;
    Ok(References {
        routines,
        progressions,
        assignments,
    })
}

/// Whether a client's homework (any of their assignments, items current or removed) uses the
/// exercise: what lets a client read it.
pub async fn used_by_client(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    id: Uuid,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        assignment_items::table
            .inner_join(assignments::table)
            .filter(assignment_items::clinic_id.eq(clinic_id))
            .filter(assignment_items::exercise_id.eq(id))
            .filter(assignments::client_id.eq(client_id)),
    ))
    .get_result(conn)
    .await
}

#[derive(AsChangeset)]
#[diesel(table_name = exercises)]
struct ExerciseChangeset {
    name: Option<String>,
    summary: Option<Option<String>>,
    instructions: Option<Vec<String>>,
    category: Option<Category>,
    body_regions: Option<Vec<BodyRegion>>,
    equipment: Option<Vec<Equipment>>,
    difficulty: Option<i16>,
    default_dosage: Option<serde_json::Value>,
    cautions: Option<Vec<String>>,
    media: Option<serde_json::Value>,
    progression_of: Option<Option<Uuid>>,
    archived_at: Option<Option<DateTime<Utc>>>,
}

/// Applies validated changes to a locked row, bumping its version.
pub async fn update(
    conn: &mut AsyncPgConnection,
    current: &ExerciseRow,
    changes: ExerciseChanges,
) -> QueryResult<usize> {
    let now = Utc::now();
    // Archiving again keeps the first archiving time.
    let archived_at = match changes.archived {
        Some(true) => Some(current.archived_at.or(Some(now))),
        Some(false) => Some(None),
        None => None,
    };
    let set = ExerciseChangeset {
        name: changes.name,
        summary: changes.summary,
        instructions: changes.instructions,
        category: changes.category,
        body_regions: changes.body_regions,
        equipment: changes.equipment,
        difficulty: changes.difficulty,
        default_dosage: changes.default_dosage.as_ref().map(to_json).transpose()?,
        cautions: changes.cautions,
        media: changes.media.as_ref().map(to_json).transpose()?,
        progression_of: changes.progression_of,
        archived_at,
    };
    diesel::update(exercises::table.find(current.id))
        .set((
            set,
            exercises::version.eq(exercises::version + 1),
            exercises::updated_at.eq(now),
        ))
        .execute(conn)
        .await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(exercises::table.find(id)).execute(conn).await
}
