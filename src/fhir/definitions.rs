//! Rehabit's FHIR definitions: the CodeSystem of its own codes and the StructureDefinitions of
//! its two extensions. They hold no client's data and are served without authentication, by
//! the last path segment of their canonical URL.

use super::{CODE_SYSTEM, DOSAGE_EXTENSION, LATERALITY_EXTENSION};
use crate::sessions::dto::MeasurementKind;
use serde_json::{Value, json};

/// The version of the definitions; bumped when a code or an extension changes.
pub const VERSION: &str = "1.0.0";
/// When the definitions last changed.
const DATE: &str = "2026-12-02";

/// Rehabit's own codes, with what they mean.
pub fn concepts() -> Vec<(String, String, String)> {
    let mut c: Vec<(String, String, String)> = [
        (
            "home-exercise",
            "Home exercise",
            "An exercise a client does at home, as their practitioner prescribed it.",
        ),
        (
            "home-exercise-session",
            "Home exercise session",
            "One session of home exercise as the client (or their practitioner) logged it.",
        ),
        (
            "pain-before",
            "Pain before the session",
            "Pain on a 0-10 numeric rating scale, reported just before a home exercise session.",
        ),
        (
            "pain-after",
            "Pain after the session",
            "Pain on a 0-10 numeric rating scale, reported just after a home exercise session.",
        ),
        (
            "pain-flag",
            "Pain after exercise needs review",
            "A session whose pain after was 7 or more, or rose by 3 or more, awaiting a practitioner's review.",
        ),
        (
            "questionnaire-score",
            "Questionnaire score",
            "The score of an outcome questionnaire response, as the questionnaire's scoring rule computes it.",
        ),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    for k in MeasurementKind::ALL {
        let spec = k.spec();
        let words = k.as_str().replace('_', " ");
        let unit = if spec.unit == "deg" { "degrees" } else { "seconds" };
        c.push((
            k.as_str().to_string(),
            words.clone(),
            format!(
                "Measurement: {words}, in {unit}{}.",
                if spec.sided { ", for one side" } else { "" }
            ),
        ));
    }
    c
}

pub fn code_system() -> Value {
    let concepts: Vec<Value> = concepts()
        .into_iter()
        .map(|(code, display, definition)| json!({ "code": code, "display": display, "definition": definition }))
        .collect();
    json!({
        "resourceType": "CodeSystem",
        "id": "rehabit",
        "url": CODE_SYSTEM,
        "version": VERSION,
        "name": "Rehabit",
        "title": "Rehabit codes",
        "status": "active",
        "experimental": false,
        "date": DATE,
        "publisher": "Rehabit",
        "description": "Codes Rehabit uses in its FHIR bundles where no standard code says the same: home exercise, its sessions, pain before and after, the pain flag, questionnaire scores and measurement kinds.",
        "caseSensitive": true,
        "content": "complete",
        "count": concepts.len(),
        "concept": concepts,
    })
}

fn extension_definition(
    id: &str,
    url: &str,
    title: &str,
    description: &str,
    context: &[&str],
    elements: Vec<Value>,
) -> Value {
    json!({
        "resourceType": "StructureDefinition",
        "id": id,
        "url": url,
        "version": VERSION,
        "name": title.replace(' ', ""),
        "title": title,
        "status": "active",
        "date": DATE,
        "publisher": "Rehabit",
        "description": description,
        "fhirVersion": "4.0.1",
        "kind": "complex-type",
        "abstract": false,
        "context": context.iter().map(|c| json!({ "type": "element", "expression": c })).collect::<Vec<_>>(),
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": { "element": elements },
    })
}

fn element(id: &str, extra: Value) -> Value {
    let mut e = json!({ "id": id });
    // A slice's path drops the slice names: `Extension.extension:sets.url` → `Extension.extension.url`.
    let path: String = id
        .split('.')
        .map(|seg| seg.split(':').next().unwrap_or(seg))
        .collect::<Vec<_>>()
        .join(".");
    e["path"] = json!(path);
    if let (Some(obj), Value::Object(more)) = (e.as_object_mut(), extra) {
        obj.extend(more);
    }
    e
}

pub fn dosage() -> Value {
    let mut elements = vec![
        element(
            "Extension",
            json!({ "short": "Dosage of one exercise", "definition": "How much of an exercise to do, per side as `side` says.", "max": "1" }),
        ),
        element(
            "Extension.extension",
            json!({ "slicing": { "discriminator": [{ "type": "value", "path": "url" }], "rules": "closed" } }),
        ),
    ];
    for (slice, short, kind) in [
        ("sets", "Sets", "integer"),
        ("reps", "Repetitions per set", "integer"),
        ("holdSeconds", "Seconds to hold each repetition", "integer"),
        ("durationSeconds", "Seconds to keep going", "integer"),
        ("restSeconds", "Seconds of rest between sets", "integer"),
        ("side", "both | left | right | each", "code"),
    ] {
        let base = format!("Extension.extension:{slice}");
        let min = if slice == "side" { 1 } else { 0 };
        elements.push(element(
            &base,
            json!({ "sliceName": slice, "short": short, "definition": short, "min": min, "max": "1" }),
        ));
        elements.push(element(&format!("{base}.extension"), json!({ "max": "0" })));
        elements.push(element(&format!("{base}.url"), json!({ "fixedUri": slice })));
        elements.push(element(
            &format!("{base}.value[x]"),
            json!({ "min": 1, "type": [{ "code": kind }] }),
        ));
    }
    elements.push(element("Extension.url", json!({ "fixedUri": DOSAGE_EXTENSION })));
    elements.push(element("Extension.value[x]", json!({ "max": "0" })));
    extension_definition(
        "dosage",
        DOSAGE_EXTENSION,
        "Rehabit Dosage",
        "The dosage of a home exercise: sets, repetitions, hold, duration and rest, and the side it is for (`both`: both sides together or no sides; `each`: the dosage on the left and again on the right).",
        &["ServiceRequest", "ActivityDefinition"],
        elements,
    )
}

pub fn laterality() -> Value {
    extension_definition(
        "laterality",
        LATERALITY_EXTENSION,
        "Rehabit Laterality",
        "The side of the body a measurement is for: SNOMED CT 7771000 |Left| or 24028007 |Right|.",
        &["Observation.bodySite"],
        vec![
            element(
                "Extension",
                json!({ "short": "Side of the body", "definition": "The side of the body.", "max": "1" }),
            ),
            element("Extension.extension", json!({ "max": "0" })),
            element("Extension.url", json!({ "fixedUri": LATERALITY_EXTENSION })),
            element(
                "Extension.value[x]",
                json!({ "min": 1, "type": [{ "code": "CodeableConcept" }] }),
            ),
        ],
    )
}

/// The CodeSystem with this id.
pub fn code_system_by_id(id: &str) -> Option<Value> {
    (id == "rehabit").then(code_system)
}

/// The StructureDefinition with this id.
pub fn structure_definition_by_id(id: &str) -> Option<Value> {
    match id {
        "dosage" => Some(dosage()),
        "laterality" => Some(laterality()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_last_segment_of_the_url() {
        let cs = code_system_by_id("rehabit").expect("code system");
        assert!(cs["url"].as_str().expect("test value").ends_with("/rehabit"));
        for id in ["dosage", "laterality"] {
            let sd = structure_definition_by_id(id).expect(id);
            assert!(sd["url"].as_str().expect("test value").ends_with(&format!("/{id}")));
            assert_eq!(sd["id"], id);
        }
        assert!(code_system_by_id("other").is_none() && structure_definition_by_id("rehabit").is_none());
    }

    #[test]
    fn every_code_is_defined_once() {
        let c = concepts();
        let mut codes: Vec<&str> = c.iter().map(|(c, _, _)| c.as_str()).collect();
        codes.sort();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n);
        for needed in ["pain-before", "pain-after", "home-exercise", "hip_flexion_deg"] {
            assert!(codes.contains(&needed), "{needed}");
        }
        assert_eq!(code_system()["count"], n);
    }

    #[test]
    fn slices_paths_drop_slice_names() {
        let e = element("Extension.extension:sets.url", json!({}));
        assert_eq!(e["path"], "Extension.extension.url");
    }
}
