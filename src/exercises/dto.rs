//! The exercise library's API types, its closed vocabularies, and the rules a request must keep.

use crate::error::{ApiError, Validator};
use crate::http::patch::Patch;
use crate::text_enum;
use crate::values::parse_text;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use utoipa::ToSchema;
use uuid::Uuid;

text_enum! {
    /// What kind of exercise it is.
    pub enum Category {
        Mobility => "mobility",
        Stretch => "stretch",
        Strength => "strength",
        Balance => "balance",
        Stability => "stability",
        Cardio => "cardio",
        Breathing => "breathing",
    }
}

text_enum! {
    /// A part of the body an exercise works on.
    pub enum BodyRegion {
        Hip => "hip",
        Glutes => "glutes",
        HipFlexors => "hip_flexors",
        Adductors => "adductors",
        Abductors => "abductors",
        Piriformis => "piriformis",
        Hamstrings => "hamstrings",
        Quadriceps => "quadriceps",
        LowerBack => "lower_back",
        Core => "core",
        Knee => "knee",
        AnkleFoot => "ankle_foot",
        ThoracicSpine => "thoracic_spine",
        Neck => "neck",
        Shoulder => "shoulder",
        Elbow => "elbow",
        WristHand => "wrist_hand",
        FullBody => "full_body",
    }
}

text_enum! {
    /// Something an exercise needs; `none` means nothing at all.
    pub enum Equipment {
        None => "none",
        Wall => "wall",
        Towel => "towel",
        Mat => "mat",
        ResistanceBand => "resistance_band",
        Strap => "strap",
        Chair => "chair",
        Step => "step",
        FoamRoller => "foam_roller",
        Ball => "ball",
        Dumbbell => "dumbbell",
    }
}

text_enum! {
    /// Which side a dosage is for.
    #[derive(Default)]
    pub enum ItemSide {
        /// Both sides together, or an exercise without sides.
        #[default]
        Both => "both",
        /// The left side only.
        Left => "left",
        /// The right side only.
        Right => "right",
        /// Each side separately: the dosage is done on the left and again on the right.
        Each => "each",
    }
}

text_enum! {
    /// What a media link shows.
    pub enum MediaKind {
        Image => "image",
        Video => "video",
    }
}

/// Limits shared by exercises and routines.
pub mod limits {
    pub const NAME: usize = 200;
    pub const SUMMARY: usize = 500;
    pub const STEP: usize = 1000;
    pub const STEPS: usize = 30;
    pub const CAUTION: usize = 500;
    pub const CAUTIONS: usize = 20;
    pub const MEDIA: usize = 20;
    pub const URL: usize = 2000;
    pub const CAPTION: usize = 200;
    pub const SETS: (i32, i32) = (1, 20);
    pub const REPS: (i32, i32) = (1, 100);
    /// Up to an hour.
    pub const HOLD_SECONDS: (i32, i32) = (1, 3600);
    pub const DURATION_SECONDS: (i32, i32) = (1, 3600);
    /// Resting is optional, so 0 is allowed; up to ten minutes.
    pub const REST_SECONDS: (i32, i32) = (0, 600);
    pub const DIFFICULTY: (i32, i32) = (1, 5);
}

/// How much of an exercise to do. Every number is optional; give the ones that apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dosage {
    /// Sets, 1–20.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 20, example = 2)]
    pub sets: Option<i32>,
    /// Repetitions per set, 1–100.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100, example = 12)]
    pub reps: Option<i32>,
    /// Seconds to hold a position, 1–3600.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3600)]
    pub hold_seconds: Option<i32>,
    /// Seconds of continuous work per set, 1–3600.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3600)]
    pub duration_seconds: Option<i32>,
    /// Seconds of rest between sets, 0–600.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 600)]
    pub rest_seconds: Option<i32>,
    /// Which side; `each` for exercises done on one side and then the other (default `both`).
    #[serde(default)]
    #[schema(default = "both")]
    pub side: ItemSide,
}

/// The numbers of a dosage, checked against [`limits`]; `prefix` names where they sit.
pub fn check_dosage_numbers(
    v: &mut Validator,
    prefix: &str,
    sets: Option<i32>,
    reps: Option<i32>,
    hold_seconds: Option<i32>,
    duration_seconds: Option<i32>,
    rest_seconds: Option<i32>,
) {
    let mut range = |name: &str, value: Option<i32>, (min, max): (i32, i32)| {
        if let Some(n) = value {
            v.check(
                (min..=max).contains(&n),
                format!("{prefix}{name}"),
                format!("must be between {min} and {max}"),
            );
        }
    };
    range("sets", sets, limits::SETS);
    range("reps", reps, limits::REPS);
    range("hold_seconds", hold_seconds, limits::HOLD_SECONDS);
    range("duration_seconds", duration_seconds, limits::DURATION_SECONDS);
    range("rest_seconds", rest_seconds, limits::REST_SECONDS);
}

impl Dosage {
    pub fn check(&self, v: &mut Validator, prefix: &str) {
        check_dosage_numbers(
            v,
            prefix,
            self.sets,
            self.reps,
            self.hold_seconds,
            self.duration_seconds,
            self.rest_seconds,
        );
    }

    /// True when no number is given (the side alone says nothing about how much to do).
    pub fn is_empty(&self) -> bool {
        self.sets.is_none()
            && self.reps.is_none()
            && self.hold_seconds.is_none()
            && self.duration_seconds.is_none()
            && self.rest_seconds.is_none()
    }
}

/// A picture or video that shows the exercise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// `image` or `video`.
    pub kind: MediaKind,
    /// Where it is; an `https` URL of at most 2000 characters.
    #[schema(example = "https://media.example/clam.mp4", format = "uri", max_length = 2000)]
    pub url: String,
    /// A short caption, at most 200 characters.
    #[serde(default)]
    #[schema(example = "Side view: keep the feet together", max_length = 200)]
    pub caption: Option<String>,
}

/// Checks a media URL: absolute `https` with a host and no user name or password in it.
pub fn parse_media_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    if raw.chars().count() > limits::URL {
        return Err(format!("must be at most {} characters", limits::URL));
    }
    let url = url::Url::parse(raw).map_err(|_| "must be an absolute https URL".to_string())?;
    if url.scheme() != "https" {
        return Err("must be an https URL".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    Ok(raw.to_string())
}

/// A new exercise for the clinic's library.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Clam with band",
    "summary": "Side-lying clam with a loop band above the knees.",
    "instructions": ["Lie on your side, knees bent, band above the knees", "Lift the top knee against the band", "Lower slowly"],
    "category": "strength",
    "body_regions": ["hip", "glutes", "abductors"],
    "equipment": ["mat", "resistance_band"],
    "difficulty": 2,
    "default_dosage": {"sets": 2, "reps": 12, "side": "each"},
    "cautions": ["Stop on sharp pain"],
    "media": [{"kind": "video", "url": "https://media.example/clam-band.mp4", "caption": "Side view"}],
    "progression_of": null
}))]
pub struct CreateExerciseRequest {
    /// The exercise's name, 1–200 characters.
    #[schema(value_type = crate::values::openapi::Name, example = "Clam with band")]
    pub name: String,
    /// One or two sentences on what it is and what it is for (at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub summary: Option<String>,
    /// The steps, in order: at most 30, each 1–1000 characters.
    #[serde(default)]
    #[schema(max_items = 30)]
    pub instructions: Vec<String>,
    /// What kind of exercise it is.
    pub category: Category,
    /// The body regions it works on: 1 or more, without repeats.
    #[schema(min_items = 1)]
    pub body_regions: Vec<BodyRegion>,
    /// What it needs, without repeats; `[]` and `["none"]` both mean nothing (answered as
    /// `["none"]`), and `none` cannot be combined with anything else.
    #[serde(default)]
    pub equipment: Vec<Equipment>,
    /// 1 (easiest) to 5 (hardest).
    #[schema(minimum = 1, maximum = 5, example = 2)]
    pub difficulty: i32,
    /// How much to do unless a routine says otherwise; also what a routine item takes when it
    /// gives no dosage of its own.
    #[serde(default)]
    pub default_dosage: Dosage,
    /// Warnings shown with the exercise: at most 20, each 1–500 characters.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub cautions: Vec<String>,
    /// Pictures and videos: at most 20.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub media: Vec<Media>,
    /// The easier exercise this one progresses from: the clinic's own or a built-in, not
    /// archived.
    #[serde(default)]
    pub progression_of: Option<Uuid>,
}

/// Changes to an exercise (JSON Merge Patch): absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateExerciseRequest {
    /// A new name, 1–200 characters.
    #[serde(default)]
    #[schema(value_type = crate::values::openapi::Name)]
    pub name: Patch<String>,
    /// A new summary; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub summary: Patch<String>,
    /// The new steps (replacing all of them).
    #[serde(default)]
    #[schema(value_type = Vec<String>, max_items = 30)]
    pub instructions: Patch<Vec<String>>,
    /// A new category.
    #[serde(default)]
    #[schema(value_type = Category)]
    pub category: Patch<Category>,
    /// The new body regions (replacing all of them).
    #[serde(default)]
    #[schema(value_type = Vec<BodyRegion>, min_items = 1)]
    pub body_regions: Patch<Vec<BodyRegion>>,
    /// The new equipment (replacing all of it).
    #[serde(default)]
    #[schema(value_type = Vec<Equipment>)]
    pub equipment: Patch<Vec<Equipment>>,
    /// A new difficulty, 1–5.
    #[serde(default)]
    #[schema(value_type = i32, minimum = 1, maximum = 5)]
    pub difficulty: Patch<i32>,
    /// A new default dosage (replacing the old one as a whole).
    #[serde(default)]
    #[schema(value_type = Dosage)]
    pub default_dosage: Patch<Dosage>,
    /// The new cautions (replacing all of them).
    #[serde(default)]
    #[schema(value_type = Vec<String>, max_items = 20)]
    pub cautions: Patch<Vec<String>>,
    /// The new media (replacing all of them).
    #[serde(default)]
    #[schema(value_type = Vec<Media>, max_items = 20)]
    pub media: Patch<Vec<Media>>,
    /// A new easier exercise; `null` removes the link.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub progression_of: Patch<Uuid>,
    /// `true` archives the exercise (hidden from lists and from new routine items, still
    /// readable by id, and kept wherever it is used); `false` restores it.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub archived: Patch<bool>,
}

/// Another exercise as a progression or regression lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExerciseRef {
    /// The exercise's id.
    pub id: Uuid,
    /// Its name.
    #[schema(example = "Clam with band")]
    pub name: String,
    /// Its difficulty, 1–5.
    pub difficulty: i16,
    /// Whether it is a built-in.
    pub builtin: bool,
    /// Whether it is archived.
    pub archived: bool,
}

/// An exercise of the library: a built-in or the clinic's own.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExerciseResponse {
    /// The exercise's id.
    pub id: Uuid,
    /// Its name.
    #[schema(example = "Clam with band")]
    pub name: String,
    /// What it is and what it is for.
    pub summary: Option<String>,
    /// The steps, in order.
    pub instructions: Vec<String>,
    /// What kind of exercise it is.
    pub category: Category,
    /// The body regions it works on.
    pub body_regions: Vec<BodyRegion>,
    /// What it needs (`["none"]` for nothing).
    pub equipment: Vec<Equipment>,
    /// 1 (easiest) to 5 (hardest).
    pub difficulty: i16,
    /// How much to do unless a routine says otherwise.
    pub default_dosage: Dosage,
    /// Warnings shown with the exercise.
    pub cautions: Vec<String>,
    /// Pictures and videos.
    pub media: Vec<Media>,
    /// The easier exercise this one progresses from, if any.
    pub progression_of: Option<Uuid>,
    /// Harder exercises that progress from this one (built-ins and the clinic's own), easiest
    /// first.
    pub progressions: Vec<ExerciseRef>,
    /// Easier exercises this one progresses from: the one `progression_of` names, or none.
    pub regressions: Vec<ExerciseRef>,
    /// Built-ins come with Rehabit: every clinic reads them, nobody changes them.
    pub builtin: bool,
    /// Archived exercises are hidden from lists unless `include_archived=true`.
    pub archived: bool,
    /// When it was archived.
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub archived_at: Option<DateTime<Utc>>,
    /// Increases with every change; send it back in `If-Match`.
    pub version: i64,
    /// When it was created.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// The fields of an exercise after every rule has been checked.
#[derive(Debug, Clone)]
pub struct ExerciseFields {
    pub name: String,
    pub summary: Option<String>,
    pub instructions: Vec<String>,
    pub category: Category,
    pub body_regions: Vec<BodyRegion>,
    pub equipment: Vec<Equipment>,
    pub difficulty: i16,
    pub default_dosage: Dosage,
    pub cautions: Vec<String>,
    pub media: Vec<Media>,
    pub progression_of: Option<Uuid>,
}

/// Validated changes: `None` leaves a field as it is; for nullable fields `Some(None)` clears.
#[derive(Debug, Clone, Default)]
pub struct ExerciseChanges {
    pub name: Option<String>,
    pub summary: Option<Option<String>>,
    pub instructions: Option<Vec<String>>,
    pub category: Option<Category>,
    pub body_regions: Option<Vec<BodyRegion>>,
    pub equipment: Option<Vec<Equipment>>,
    pub difficulty: Option<i16>,
    pub default_dosage: Option<Dosage>,
    pub cautions: Option<Vec<String>>,
    pub media: Option<Vec<Media>>,
    pub progression_of: Option<Option<Uuid>>,
    pub archived: Option<bool>,
}

fn check_summary(v: &mut Validator, raw: Option<String>) -> Option<String> {
    let raw = raw?;
    if raw.trim().is_empty() {
        return None;
    }
    v.parse("summary", parse_text(&raw, limits::SUMMARY))
}

fn check_texts(v: &mut Validator, field: &str, raw: Vec<String>, max_items: usize, max_len: usize) -> Vec<String> {
    if raw.len() > max_items {
        v.add(field, format!("must have at most {max_items} entries"));
        return Vec::new();
    }
    raw.iter()
        .enumerate()
        .filter_map(|(i, s)| v.parse(&format!("{field}[{i}]"), parse_text(s, max_len)))
        .collect()
}

fn check_body_regions(v: &mut Validator, regions: Vec<BodyRegion>) -> Vec<BodyRegion> {
    v.check(
        !regions.is_empty(),
        "body_regions",
        "must name at least one body region",
    );
    check_no_repeats(v, "body_regions", &regions);
    regions
}

fn check_equipment(v: &mut Validator, equipment: Vec<Equipment>) -> Vec<Equipment> {
    check_no_repeats(v, "equipment", &equipment);
    if equipment.len() > 1 && equipment.contains(&Equipment::None) {
        v.add("equipment", "`none` cannot be combined with other equipment");
    }
    if equipment.is_empty() {
        vec![Equipment::None]
    } else {
        equipment
    }
}

fn check_no_repeats<T: std::hash::Hash + Eq + std::fmt::Display>(v: &mut Validator, field: &str, values: &[T]) {
    let mut seen = HashSet::new();
    for (i, x) in values.iter().enumerate() {
        if !seen.insert(x) {
            v.add(format!("{field}[{i}]"), format!("repeats `{x}`"));
        }
    }
}

fn check_difficulty(v: &mut Validator, raw: i32) -> i16 {
    let (min, max) = limits::DIFFICULTY;
    v.check(
        (min..=max).contains(&raw),
        "difficulty",
        format!("must be between {min} and {max}"),
    );
    i16::try_from(raw.clamp(min, max)).unwrap_or(1)
}

fn check_media(v: &mut Validator, media: Vec<Media>) -> Vec<Media> {
    if media.len() > limits::MEDIA {
        v.add("media", format!("must have at most {} entries", limits::MEDIA));
        return Vec::new();
    }
    media
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let url = v
                .parse(&format!("media[{i}].url"), parse_media_url(&m.url))
                .unwrap_or_default();
            let caption = m
                .caption
                .filter(|c| !c.trim().is_empty())
                .and_then(|c| v.parse(&format!("media[{i}].caption"), parse_text(&c, limits::CAPTION)));
            Media {
                kind: m.kind,
                url,
                caption,
            }
        })
        .collect()
}

impl CreateExerciseRequest {
    /// Checks every rule that needs no database, reporting all broken ones at once.
    pub fn validate(self) -> Result<ExerciseFields, ApiError> {
        let mut v = Validator::new();
        let name = v.parse("name", parse_text(&self.name, limits::NAME));
        let summary = check_summary(&mut v, self.summary);
        let instructions = check_texts(&mut v, "instructions", self.instructions, limits::STEPS, limits::STEP);
        let body_regions = check_body_regions(&mut v, self.body_regions);
        let equipment = check_equipment(&mut v, self.equipment);
        let difficulty = check_difficulty(&mut v, self.difficulty);
        self.default_dosage.check(&mut v, "default_dosage.");
        let cautions = check_texts(&mut v, "cautions", self.cautions, limits::CAUTIONS, limits::CAUTION);
        let media = check_media(&mut v, self.media);
        v.finish()?;
        Ok(ExerciseFields {
            name: name.unwrap_or_default(),
            summary,
            instructions,
            category: self.category,
            body_regions,
            equipment,
            difficulty,
            default_dosage: self.default_dosage,
            cautions,
            media,
            progression_of: self.progression_of,
        })
    }
}

impl UpdateExerciseRequest {
    /// Checks every rule that needs no database, reporting all broken ones at once.
    pub fn validate(self) -> Result<ExerciseChanges, ApiError> {
        let mut v = Validator::new();
        let name = self
            .name
            .required("name", &mut v)
            .and_then(|n| v.parse("name", parse_text(&n, limits::NAME)));
        let summary = self.summary.into_change().map(|s| check_summary(&mut v, s));
        let instructions = self
            .instructions
            .required("instructions", &mut v)
            .map(|s| check_texts(&mut v, "instructions", s, limits::STEPS, limits::STEP));
        let category = self.category.required("category", &mut v);
        let body_regions = self
            .body_regions
            .required("body_regions", &mut v)
            .map(|r| check_body_regions(&mut v, r));
        let equipment = self
            .equipment
            .required("equipment", &mut v)
            .map(|e| check_equipment(&mut v, e));
        let difficulty = self
            .difficulty
            .required("difficulty", &mut v)
            .map(|d| check_difficulty(&mut v, d));
        let default_dosage = self.default_dosage.required("default_dosage", &mut v);
        if let Some(d) = &default_dosage {
            d.check(&mut v, "default_dosage.");
        }
        let cautions = self
            .cautions
            .required("cautions", &mut v)
            .map(|c| check_texts(&mut v, "cautions", c, limits::CAUTIONS, limits::CAUTION));
        let media = self.media.required("media", &mut v).map(|m| check_media(&mut v, m));
        let archived = self.archived.required("archived", &mut v);
        v.finish()?;
        Ok(ExerciseChanges {
            name,
            summary,
            instructions,
            category,
            body_regions,
            equipment,
            difficulty,
            default_dosage,
            cautions,
            media,
            progression_of: self.progression_of.into_change(),
            archived,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(body: serde_json::Value) -> Result<ExerciseFields, Vec<String>> {
        let req: CreateExerciseRequest = serde_json::from_value(body).expect("shape");
        req.validate()
            .map_err(|e| e.field_errors().iter().map(|f| f.field.clone()).collect())
    }

    fn minimal() -> serde_json::Value {
        json!({"name": "Clam", "category": "strength", "body_regions": ["hip"], "difficulty": 1})
    }

    #[test]
    fn a_minimal_exercise_gets_defaults() {
        let f = create(minimal()).expect("valid");
        assert_eq!(f.equipment, vec![Equipment::None]);
        assert_eq!(f.default_dosage.side, ItemSide::Both);
        assert!(f.instructions.is_empty() && f.media.is_empty() && f.summary.is_none());
    }

    #[test]
    fn every_broken_rule_names_its_field() {
        let mut body = minimal();
        body["name"] = json!("x".repeat(201));
        body["difficulty"] = json!(6);
        body["body_regions"] = json!(["hip", "hip"]);
        body["equipment"] = json!(["none", "wall"]);
        body["instructions"] = json!(["ok", "  "]);
        body["default_dosage"] = json!({"sets": 0, "hold_seconds": 3601, "rest_seconds": 0});
        body["media"] = json!([{"kind": "image", "url": "https://a.example/x.png"}, {"kind": "video", "url": "http://a.example/v"}]);
        let fields = create(body).expect_err("invalid");
        for f in [
            "name",
            "difficulty",
            "body_regions[1]",
            "equipment",
            "instructions[1]",
            "default_dosage.sets",
            "default_dosage.hold_seconds",
            "media[1].url",
        ] {
            assert!(fields.contains(&f.to_string()), "{f} missing from {fields:?}");
        }
        assert!(!fields.contains(&"default_dosage.rest_seconds".to_string()));
        assert!(!fields.contains(&"media[0].url".to_string()));
    }

    #[test]
    fn media_urls_must_be_plain_https() {
        assert!(parse_media_url("https://media.example/a.mp4").is_ok());
        for bad in [
            "http://media.example/a.mp4",
            "ftp://media.example/a",
            "javascript:alert(1)",
            "/relative/path",
            "https://user:pw@media.example/a",
            "https://media.example/a\u{0}b",
            "https://media.example/a b",
            "",
        ] {
            assert!(parse_media_url(bad).is_err(), "{bad} should be refused");
        }
        let long = format!("https://media.example/{}", "a".repeat(2000));
        assert!(parse_media_url(&long).is_err());
    }

    #[test]
    fn too_many_entries_are_refused() {
        let mut body = minimal();
        body["cautions"] = json!(vec!["careful"; 21]);
        body["body_regions"] = json!([]);
        let fields = create(body).expect_err("invalid");
        assert_eq!(fields, vec!["body_regions".to_string(), "cautions".to_string()]);
    }

    #[test]
    fn patch_refuses_null_for_required_fields_and_clears_nullable_ones() {
        let req: UpdateExerciseRequest =
            serde_json::from_value(json!({"name": null, "summary": null, "progression_of": null})).expect("shape");
        let err = req.validate().expect_err("name cannot be null");
        assert_eq!(err.field_errors()[0].field, "name");
        let req: UpdateExerciseRequest =
            serde_json::from_value(json!({"summary": null, "progression_of": null, "archived": true})).expect("shape");
        let c = req.validate().expect("valid");
        assert_eq!(c.summary, Some(None));
        assert_eq!(c.progression_of, Some(None));
        assert_eq!(c.archived, Some(true));
        assert!(c.name.is_none());
    }

    #[test]
    fn dosage_bounds() {
        let mut v = Validator::new();
        check_dosage_numbers(&mut v, "items[2].", Some(20), Some(101), Some(3600), Some(0), Some(600));
        let err = v.finish().expect_err("invalid");
        let fields: Vec<_> = err.field_errors().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["items[2].reps", "items[2].duration_seconds"]);
    }
}
