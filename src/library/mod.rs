//! The built-in library (exercises and routine templates of the system clinic) and its installer.
//!
//! [`install`] runs at every start, after the migrations. It is idempotent: rows are found by
//! their fixed ids, inserted when missing, and updated in place (with a new version) only when
//! the content in [`content`] differs from what is stored. It touches nothing but the system
//! clinic's rows, so clinics' exercises, routines and the ids they refer to stay as they are.

pub mod content;

use crate::db::SYSTEM_CLINIC_ID;
use crate::db::schema::exercises;
use crate::exercises::dto::{ExerciseChanges, ExerciseFields};
use crate::exercises::queries::{self as exercise_queries, ExerciseRow, NewExercise};
use crate::routines::queries::{self as routine_queries, ItemRow, NewRoutine, RoutineRow};
use content::{BuiltinExercise, BuiltinRoutine, EXERCISES, ROUTINES};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// Serialises installers of several instances starting at once.
const INSTALL_LOCK: i64 = 7_301_002;

/// What an installation changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Installed {
    pub created: usize,
    pub updated: usize,
    pub archived: usize,
}

fn fields(e: &BuiltinExercise) -> ExerciseFields {
    ExerciseFields {
        name: e.name.to_string(),
        summary: Some(e.summary.to_string()),
        instructions: e.instructions.iter().map(|s| s.to_string()).collect(),
        category: e.category,
        body_regions: e.body_regions.to_vec(),
        equipment: e.equipment.to_vec(),
        difficulty: e.difficulty,
        default_dosage: e.default_dosage.clone(),
        cautions: e.cautions.iter().map(|s| s.to_string()).collect(),
        media: Vec::new(),
        progression_of: e.progression_of,
    }
}

/// Does the stored row already say what the content says (and is it live)?
fn matches(row: &ExerciseRow, f: &ExerciseFields) -> bool {
    row.name == f.name
        && row.summary == f.summary
        && row.instructions == f.instructions
        && row.category == f.category
        && row.body_regions == f.body_regions
        && row.equipment == f.equipment
        && row.difficulty == f.difficulty
        && serde_json::from_value(row.default_dosage.clone()).ok().as_ref() == Some(&f.default_dosage)
        && row.cautions == f.cautions
        && serde_json::from_value::<Vec<crate::exercises::dto::Media>>(row.media.clone()).ok() == Some(f.media.clone())
        && row.progression_of == f.progression_of
        && row.archived_at.is_none()
}

fn item_rows(r: &BuiltinRoutine) -> Vec<ItemRow> {
    r.items
        .iter()
        .enumerate()
        .map(|(position, i)| ItemRow {
            clinic_id: SYSTEM_CLINIC_ID,
            routine_id: r.id,
            position: i32::try_from(position).unwrap_or(i32::MAX),
            exercise_id: i.exercise,
            sets: i.sets,
            reps: i.reps,
            hold_seconds: i.hold_seconds,
            duration_seconds: None,
            rest_seconds: i.rest_seconds,
            side: i.side,
            notes: i.notes.map(str::to_string),
        })
        .collect()
}

async fn install_exercise(conn: &mut AsyncPgConnection, e: &BuiltinExercise, done: &mut Installed) -> QueryResult<()> {
    let wanted = fields(e);
    let stored = exercises::table
        .find(e.id)
        .select(ExerciseRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    match stored {
        None => {
            exercise_queries::insert(conn, &NewExercise::new(e.id, SYSTEM_CLINIC_ID, &wanted)?).await?;
            done.created += 1;
        }
        Some(row) if row.clinic_id != SYSTEM_CLINIC_ID => {
            // Ids are random UUIDs, so this cannot happen; if it did, the clinic's row wins.
            tracing::error!(id = %e.id, "a built-in's id belongs to a clinic's exercise; not installing it");
        }
        Some(row) if matches(&row, &wanted) => {}
        Some(row) => {
            let changes = ExerciseChanges {
                name: Some(wanted.name),
                summary: Some(wanted.summary),
                instructions: Some(wanted.instructions),
                category: Some(wanted.category),
                body_regions: Some(wanted.body_regions),
                equipment: Some(wanted.equipment),
                difficulty: Some(wanted.difficulty),
                default_dosage: Some(wanted.default_dosage),
                cautions: Some(wanted.cautions),
                media: Some(wanted.media),
                progression_of: Some(wanted.progression_of),
                archived: Some(false),
            };
            exercise_queries::update(conn, &row, changes).await?;
            done.updated += 1;
        }
    }
    Ok(())
}

async fn install_routine(conn: &mut AsyncPgConnection, r: &BuiltinRoutine, done: &mut Installed) -> QueryResult<()> {
    use crate::db::schema::routines;
    let stored = routines::table
        .find(r.id)
        .select(RoutineRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let wanted_items = item_rows(r);
    match stored {
        None => {
            let new = NewRoutine {
                id: r.id,
                clinic_id: SYSTEM_CLINIC_ID,
                name: r.name,
                description: Some(r.description),
            };
            routine_queries::insert(conn, &new).await?;
            routine_queries::replace_items(conn, SYSTEM_CLINIC_ID, r.id, &wanted_items).await?;
            done.created += 1;
        }
        Some(row) if row.clinic_id != SYSTEM_CLINIC_ID => {
            tracing::error!(id = %r.id, "a built-in's id belongs to a clinic's routine; not installing it");
        }
        Some(row) => {
            let items = routine_queries::items(conn, SYSTEM_CLINIC_ID, r.id).await?;
            if row.name != r.name || row.description.as_deref() != Some(r.description) || items != wanted_items {
                routine_queries::update(conn, r.id, Some(r.name), Some(Some(r.description))).await?;
                routine_queries::replace_items(conn, SYSTEM_CLINIC_ID, r.id, &wanted_items).await?;
                done.updated += 1;
            }
        }
    }
    Ok(())
}

/// Installs the built-in library, or brings it up to date; see the module documentation.
/// Built-in exercises that a release no longer ships are archived, never deleted: clinics'
/// routines may still use them.
pub async fn install(conn: &mut AsyncPgConnection) -> QueryResult<Installed> {
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(INSTALL_LOCK)
            .execute(conn)
            .await?;
        let mut done = Installed::default();
        // In content order, so an exercise's `progression_of` exists before it is named.
        for e in EXERCISES {
            install_exercise(conn, e, &mut done).await?;
        }
        for r in ROUTINES {
            install_routine(conn, r, &mut done).await?;
        }
        crate::outcomes::builtin::install(conn).await?;
        let shipped: Vec<Uuid> = EXERCISES.iter().map(|e| e.id).collect();
        done.archived = diesel::update(
            exercises::table
                .filter(exercises::clinic_id.eq(SYSTEM_CLINIC_ID))
                .filter(exercises::id.ne_all(&shipped))
                .filter(exercises::archived_at.is_null()),
        )
        .set((
            exercises::archived_at.eq(diesel::dsl::now),
            exercises::version.eq(exercises::version + 1),
            exercises::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
        Ok(done)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exercises::dto::{BodyRegion, CreateExerciseRequest};
    use std::collections::HashSet;

    #[test]
    fn every_builtin_keeps_the_api_rules() {
        for e in EXERCISES {
            let f = fields(e);
            let as_request = serde_json::json!({
                "name": f.name, "summary": f.summary, "instructions": f.instructions,
                "category": f.category, "body_regions": f.body_regions, "equipment": f.equipment,
                "difficulty": f.difficulty, "default_dosage": f.default_dosage, "cautions": f.cautions,
                "progression_of": f.progression_of,
            });
            let req: CreateExerciseRequest = serde_json::from_value(as_request).expect("shape");
            let checked = req
                .validate()
                .unwrap_or_else(|err| panic!("{}: {:?}", e.name, err.field_errors()));
            assert_eq!(checked.name, e.name, "names are stored as written");
            assert!(
                e.body_regions.contains(&BodyRegion::Hip),
                "{} is part of a hip program",
                e.name
            );
        }
    }

    #[test]
    fn ids_are_unique_and_links_point_backwards() {
        let mut seen = HashSet::new();
        for e in EXERCISES {
            if let Some(p) = e.progression_of {
                assert!(seen.contains(&p), "{} progresses from an exercise listed later", e.name);
            }
            assert!(seen.insert(e.id), "{} repeats an id", e.name);
        }
        for r in ROUTINES {
            assert!(seen.insert(r.id), "{} repeats an id", r.name);
            for i in r.items {
                assert!(
                    EXERCISES.iter().any(|e| e.id == i.exercise),
                    "{} uses an unknown exercise",
                    r.name
                );
            }
            assert!(r.items.len() <= crate::routines::dto::MAX_ITEMS);
        }
    }

    #[test]
    fn a_row_matching_the_content_needs_no_update() {
        let e = &EXERCISES[0];
        let f = fields(e);
        let now = chrono::Utc::now();
        let mut row = ExerciseRow {
            id: e.id,
            clinic_id: SYSTEM_CLINIC_ID,
            name: f.name.clone(),
            summary: f.summary.clone(),
            instructions: f.instructions.clone(),
            category: f.category,
            body_regions: f.body_regions.clone(),
            equipment: f.equipment.clone(),
            difficulty: f.difficulty,
            default_dosage: serde_json::to_value(&f.default_dosage).expect("json"),
            cautions: f.cautions.clone(),
            media: serde_json::json!([]),
            progression_of: None,
            archived_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        assert!(matches(&row, &f));
        row.summary = Some("An older wording".into());
        assert!(!matches(&row, &f));
    }
}
