//! Routine templates' API types and the rules their bodies must keep.

use crate::error::{ApiError, Validator};
use crate::exercises::dto::{Dosage, ItemSide, check_dosage_numbers, limits};
use crate::http::patch::Patch;
use crate::values::parse_text;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// At most this many items in a routine.
pub const MAX_ITEMS: usize = 100;
pub const DESCRIPTION: usize = 2000;
pub const NOTES: usize = 1000;

/// One exercise of a routine, with its dosage. An item that gives none of `sets`, `reps`,
/// `hold_seconds`, `duration_seconds` and `rest_seconds` takes the exercise's default dosage;
/// without `side` it takes the side of the exercise's default dosage.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutineItemRequest {
    /// The exercise: the clinic's own or a built-in, not archived.
    pub exercise_id: Uuid,
    /// Sets, 1–20.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 20, example = 1)]
    pub sets: Option<i32>,
    /// Repetitions per set, 1–100.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub reps: Option<i32>,
    /// Seconds to hold, 1–3600.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3600, example = 60)]
    pub hold_seconds: Option<i32>,
    /// Seconds of continuous work per set, 1–3600.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3600)]
    pub duration_seconds: Option<i32>,
    /// Seconds of rest between sets, 0–600.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 600)]
    pub rest_seconds: Option<i32>,
    /// `both`, `left`, `right`, or `each` (both sides, one after the other); absent or `null`
    /// takes the side of the exercise's default dosage.
    #[serde(default)]
    #[schema(schema_with = nullable_item_side)]
    pub side: Option<ItemSide>,
    /// A note for the person doing it, at most 1000 characters.
    #[serde(default)]
    #[schema(example = "tighter side: hold longer", max_length = 1000)]
    pub notes: Option<String>,
}

/// `side` of an item: an [`ItemSide`] or `null`, with the description beside the choice (where
/// linters and generators read it) rather than inside its `$ref` branch.
pub fn nullable_item_side() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    use utoipa::openapi::{Ref, RefOr};
    OneOfBuilder::new()
        .item(RefOr::Ref(Ref::from_schema_name("ItemSide")))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "`both`, `left`, `right`, or `each` (both sides, one after the other); absent or `null` \
takes the side of the exercise's default dosage.",
        ))
        .build()
        .into()
}

fn nullable_copy_name() -> utoipa::openapi::Schema {
    crate::values::openapi::nullable_ref::<crate::values::openapi::Name>(
        "The copy's name; absent or `null`: the original's name.",
    )
}

/// A routine template with its items, for `POST /v1/routines` and `PUT /v1/routines/{id}` (which
/// replaces the routine: a field left out is cleared, and left-out `items` mean none).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Hip opener, left focus",
    "description": "Daily, in the evening.",
    "items": [{"exercise_id": "0195f2a0-3c1e-7a4b-9d2e-5f6a7b8c9d01", "sets": 1, "hold_seconds": 60, "side": "left", "notes": "tighter side: hold longer"}]
}))]
pub struct RoutineRequest {
    /// The routine's name, 1–200 characters.
    #[schema(value_type = crate::values::openapi::Name, example = "Hip opener, left focus")]
    pub name: String,
    /// What the routine is for and how to do it, at most 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// The items in the order they are done: at most 100.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub items: Vec<RoutineItemRequest>,
}

/// Changes to a routine (JSON Merge Patch). `items`, when given, replaces all items.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoutineRequest {
    /// A new name, 1–200 characters.
    #[serde(default)]
    #[schema(value_type = crate::values::openapi::Name)]
    pub name: Patch<String>,
    /// A new description; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Patch<String>,
    /// The new items, replacing all of them (at most 100).
    #[serde(default)]
    #[schema(value_type = Vec<RoutineItemRequest>, max_items = 100)]
    pub items: Patch<Vec<RoutineItemRequest>>,
}

/// Options of a copy; the body may be left out.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyRoutineRequest {
    /// The copy's name; absent or `null`: the original's name.
    #[serde(default)]
    #[schema(schema_with = nullable_copy_name)]
    pub name: Option<String>,
}

/// The exercise of a routine item, as much of it as a front end needs to draw the routine.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoutineItemExercise {
    /// The exercise's id.
    pub id: Uuid,
    /// Its name.
    #[schema(example = "Shoelace pose")]
    pub name: String,
    /// Its summary.
    pub summary: Option<String>,
    /// Whether it is a built-in.
    pub builtin: bool,
    /// Whether it has been archived since it was added.
    pub archived: bool,
}

/// One item of a routine.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoutineItemResponse {
    /// The exercise's id.
    pub exercise_id: Uuid,
    /// The exercise's name and summary.
    pub exercise: RoutineItemExercise,
    /// Sets.
    pub sets: Option<i32>,
    /// Repetitions per set.
    pub reps: Option<i32>,
    /// Seconds to hold.
    pub hold_seconds: Option<i32>,
    /// Seconds of continuous work per set.
    pub duration_seconds: Option<i32>,
    /// Seconds of rest between sets.
    pub rest_seconds: Option<i32>,
    /// Which side.
    pub side: ItemSide,
    /// A note for the person doing it.
    pub notes: Option<String>,
}

/// A routine template: ordered exercises with their dosage.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoutineResponse {
    /// The routine's id.
    pub id: Uuid,
    /// Its name.
    #[schema(example = "Hip mobility")]
    pub name: String,
    /// What it is for and how to do it.
    pub description: Option<String>,
    /// Built-ins come with Rehabit: read-only; `POST /v1/routines/{id}/copy` makes an editable
    /// copy.
    pub builtin: bool,
    /// The items, in the order they are done.
    pub items: Vec<RoutineItemResponse>,
    /// Increases with every change; send it back in `If-Match`.
    pub version: i64,
    /// When it was created.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// An item after the rules that need no database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFields {
    pub exercise_id: Uuid,
    pub sets: Option<i32>,
    pub reps: Option<i32>,
    pub hold_seconds: Option<i32>,
    pub duration_seconds: Option<i32>,
    pub rest_seconds: Option<i32>,
    pub side: Option<ItemSide>,
    pub notes: Option<String>,
}

impl ItemFields {
    /// True when the item gives no dosage number (it then takes the exercise's default).
    pub fn has_no_dosage(&self) -> bool {
        self.sets.is_none()
            && self.reps.is_none()
            && self.hold_seconds.is_none()
            && self.duration_seconds.is_none()
            && self.rest_seconds.is_none()
    }

    /// The item as stored: without dosage numbers of its own it takes those of the exercise's
    /// default dosage, and without a side the default's side.
    pub fn with_defaults(mut self, default: &Dosage) -> Self {
        if self.has_no_dosage() {
            self.sets = default.sets;
            self.reps = default.reps;
            self.hold_seconds = default.hold_seconds;
            self.duration_seconds = default.duration_seconds;
            self.rest_seconds = default.rest_seconds;
        }
        self.side = Some(self.side.unwrap_or(default.side));
        self
    }
}

/// A routine's fields after the rules that need no database.
#[derive(Debug, Clone)]
pub struct RoutineFields {
    pub name: String,
    pub description: Option<String>,
    pub items: Vec<ItemFields>,
}

/// Validated changes: `None` leaves a field as it is; `description: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct RoutineChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub items: Option<Vec<ItemFields>>,
}

fn check_description(v: &mut Validator, raw: Option<String>) -> Option<String> {
    raw.filter(|d| !d.trim().is_empty())
        .and_then(|d| v.parse("description", parse_text(&d, DESCRIPTION)))
}

/// Checks items' rules that need no database (`items[i].field` names each broken one).
pub fn check_items(v: &mut Validator, items: Vec<RoutineItemRequest>) -> Vec<ItemFields> {
    if items.len() > MAX_ITEMS {
        v.add("items", format!("must have at most {MAX_ITEMS} items"));
        return Vec::new();
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let prefix = format!("items[{i}].");
            check_dosage_numbers(
                v,
                &prefix,
                item.sets,
                item.reps,
                item.hold_seconds,
                item.duration_seconds,
                item.rest_seconds,
            );
            let notes = item
                .notes
                .filter(|n| !n.trim().is_empty())
                .and_then(|n| v.parse(&format!("{prefix}notes"), parse_text(&n, NOTES)));
            ItemFields {
                exercise_id: item.exercise_id,
                sets: item.sets,
                reps: item.reps,
                hold_seconds: item.hold_seconds,
                duration_seconds: item.duration_seconds,
                rest_seconds: item.rest_seconds,
                side: item.side,
                notes,
            }
        })
        .collect()
}

impl RoutineRequest {
    /// Checks every rule that needs no database, reporting all broken ones at once.
    pub fn validate(self) -> Result<RoutineFields, ApiError> {
        let mut v = Validator::new();
        let name = v.parse("name", parse_text(&self.name, limits::NAME));
        let description = check_description(&mut v, self.description);
        let items = check_items(&mut v, self.items);
        v.finish()?;
        Ok(RoutineFields {
            name: name.unwrap_or_default(),
            description,
            items,
        })
    }
}

impl UpdateRoutineRequest {
    /// Checks every rule that needs no database, reporting all broken ones at once.
    pub fn validate(self) -> Result<RoutineChanges, ApiError> {
        let mut v = Validator::new();
        let name = self
            .name
            .required("name", &mut v)
            .and_then(|n| v.parse("name", parse_text(&n, limits::NAME)));
        let description = self.description.into_change().map(|d| check_description(&mut v, d));
        let items = self
            .items
            .required("items", &mut v)
            .map(|items| check_items(&mut v, items));
        v.finish()?;
        Ok(RoutineChanges {
            name,
            description,
            items,
        })
    }
}

impl CopyRoutineRequest {
    pub fn validate(self) -> Result<Option<String>, ApiError> {
        let mut v = Validator::new();
        let name = self.name.and_then(|n| v.parse("name", parse_text(&n, limits::NAME)));
        v.finish()?;
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields_of(err: ApiError) -> Vec<String> {
        err.field_errors().iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn items_name_the_broken_field_by_position() {
        let id = Uuid::now_v7();
        let req: RoutineRequest = serde_json::from_value(json!({
            "name": "Hips",
            "items": [
                {"exercise_id": id, "sets": 2, "reps": 10},
                {"exercise_id": id, "hold_seconds": 3601},
                {"exercise_id": id, "sets": 21, "notes": "x".repeat(1001)},
            ]
        }))
        .expect("shape");
        let fields = fields_of(req.validate().expect_err("invalid"));
        assert_eq!(fields, ["items[1].hold_seconds", "items[2].sets", "items[2].notes"]);
    }

    #[test]
    fn at_most_a_hundred_items() {
        let id = Uuid::now_v7();
        let items: Vec<_> = (0..101).map(|_| json!({"exercise_id": id})).collect();
        let req: RoutineRequest = serde_json::from_value(json!({"name": "Long", "items": items})).expect("shape");
        assert_eq!(fields_of(req.validate().expect_err("too many")), ["items"]);
    }

    #[test]
    fn an_item_without_numbers_takes_the_default_dosage() {
        let id = Uuid::now_v7();
        let req: RoutineRequest = serde_json::from_value(json!({
            "name": "Hips", "description": "  ",
            "items": [{"exercise_id": id, "side": "left"}, {"exercise_id": id, "rest_seconds": 0}]
        }))
        .expect("shape");
        let f = req.validate().expect("valid");
        assert!(f.description.is_none(), "a blank description is none");
        assert!(f.items[0].has_no_dosage());
        assert!(!f.items[1].has_no_dosage());
    }

    #[test]
    fn defaults_fill_only_what_the_item_leaves_out() {
        let id = Uuid::now_v7();
        let default = Dosage {
            sets: Some(2),
            reps: Some(12),
            side: ItemSide::Each,
            ..Dosage::default()
        };
        let bare = ItemFields {
            exercise_id: id,
            sets: None,
            reps: None,
            hold_seconds: None,
            duration_seconds: None,
            rest_seconds: None,
            side: None,
            notes: None,
        };
        let filled = bare.clone().with_defaults(&default);
        assert_eq!(
            (filled.sets, filled.reps, filled.side),
            (Some(2), Some(12), Some(ItemSide::Each))
        );
        let own = ItemFields {
            hold_seconds: Some(30),
            side: Some(ItemSide::Left),
            ..bare
        }
        .with_defaults(&default);
        assert_eq!(
            (own.sets, own.reps, own.hold_seconds, own.side),
            (None, None, Some(30), Some(ItemSide::Left)),
            "an item with a dosage of its own keeps exactly that"
        );
    }

    #[test]
    fn patch_items_cannot_be_null() {
        let req: UpdateRoutineRequest = serde_json::from_value(json!({"items": null})).expect("shape");
        assert_eq!(fields_of(req.validate().expect_err("null items")), ["items"]);
        let req: UpdateRoutineRequest = serde_json::from_value(json!({"description": null})).expect("shape");
        assert_eq!(req.validate().expect("valid").description, Some(None));
    }
}
