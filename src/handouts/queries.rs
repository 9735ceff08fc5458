//! What a handout needs beyond the assignment or routine: names and the exercises' texts.

use crate::db::schema::{exercises, memberships};
use crate::error::ApiError;
use crate::exercises::dto::Media;
use crate::handouts::content::ExerciseText;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Queryable, Selectable)]
#[diesel(table_name = exercises)]
struct ExerciseCols {
    id: Uuid,
    name: String,
    summary: Option<String>,
    instructions: Vec<String>,
    cautions: Vec<String>,
    media: serde_json::Value,
}

/// The texts of exercises by id (the caller has checked they are visible to the clinic).
pub async fn exercise_texts(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, ExerciseText>, ApiError> {
    let rows: Vec<ExerciseCols> = exercises::table
        .filter(exercises::id.eq_any(ids))
        .select(ExerciseCols::as_select())
        .load(conn)
        .await?;
    rows.into_iter()
        .map(|r| {
            let media: Vec<Media> = serde_json::from_value(r.media).map_err(ApiError::internal)?;
            Ok((
                r.id,
                ExerciseText {
                    id: r.id,
                    name: r.name,
                    summary: r.summary,
                    steps: r.instructions,
                    cautions: r.cautions,
                    media,
                },
            ))
        })
        .collect()
}

/// A staff member's name in the clinic.
pub async fn member_name(conn: &mut AsyncPgConnection, clinic_id: Uuid, id: Uuid) -> QueryResult<Option<String>> {
    memberships::table
        .filter(memberships::clinic_id.eq(clinic_id))
        .filter(memberships::id.eq(id))
        .select(memberships::name)
        .first(conn)
        .await
        .optional()
}
