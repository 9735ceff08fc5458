//! The FHIR R4 bundle of a client's record: its shape, references, stable ids, permissions,
//! the audit trail, the export's `?format=fhir`, and the public definitions.

use crate::helpers::{TestApp, TestResponse};
use chrono::{Duration, Utc};
use rehabit::outcomes::builtin::{PSFS, psfs_item};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};

fn ok(res: &TestResponse, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.body);
    res.body.clone()
}

struct Setup {
    admin: String,
    client_id: String,
    client_token: String,
    session_id: String,
    assignment_id: String,
}

/// A clinic with a client who has homework, a log with pain (flagged) and a left/right
/// measurement, and a PSFS response.
async fn setup(app: &TestApp, clinic: &str) -> Setup {
    let admin = app.admin_token(clinic, &format!("admin@{clinic}.example")).await;
    let (client_id, client_token) = app
        .client_with_login(
            &admin,
            json!({"name": "Sam Lee", "email": format!("sam@{clinic}.example"), "timezone": "America/New_York"}),
        )
        .await;
    let assignment = app
        .post(&format!("/v1/clients/{client_id}/assignments"))
        .bearer(&admin)
        .json(json!({"routine_id": rehabit::library::content::HIP_MOBILITY,
                     "schedule": {"start_date": (Utc::now() - Duration::days(7)).date_naive(),
                                  "days_of_week": ["mon", "wed", "fri"], "times_per_day": 2}}))
        .succeeds()
        .await
        .body;
    let assignment_id = assignment["id"].as_str().expect("id").to_string();
    let session = app
        .post(&format!("/v1/assignments/{assignment_id}/sessions"))
        .bearer(&client_token)
        .json(json!({
            "performed_at": (Utc::now() - Duration::hours(2)).to_rfc3339(),
            "duration_seconds": 900,
            "pain_before": 3, "pain_after": 8, "notes": "sore",
            "entries": [{"assignment_item_id": assignment["items"][0]["id"], "completed": true}],
            "measurements": [
                {"kind": "hip_flexion_deg", "side": "left", "value": 95},
                {"kind": "hip_flexion_deg", "side": "right", "value": 110}
            ]
        }))
        .succeeds()
        .await
        .body;
    let qa = app
        .post(&format!("/v1/clients/{client_id}/questionnaire-assignments"))
        .bearer(&admin)
        .json(json!({"questionnaire_id": PSFS,
                     "schedule": {"start_date": (Utc::now() - Duration::days(7)).date_naive(), "every": 2, "unit": "weeks"}}))
        .succeeds()
        .await
        .body;
    app.post(&format!(
        "/v1/questionnaire-assignments/{}/responses",
        qa["id"].as_str().expect("id")
    ))
    .bearer(&client_token)
    .json(json!({"answers": [
        {"item_id": psfs_item(1, false), "text": "Stairs"},
        {"item_id": psfs_item(1, true), "value": 4}
    ]}))
    .succeeds()
    .await;
    Setup {
        admin,
        client_id,
        client_token,
        session_id: session["id"].as_str().expect("id").to_string(),
        assignment_id,
    }
}

fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

fn counts(bundle: &Value) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in bundle["entry"].as_array().expect("entries") {
        *m.entry(e["resource"]["resourceType"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    m
}

/// Every entry's fullUrl is `urn:uuid:<its id>`, unique, and every reference names one.
fn assert_references_resolve(bundle: &Value) {
    let mut urls = HashSet::new();
    for e in bundle["entry"].as_array().expect("entries") {
        let url = e["fullUrl"].as_str().expect("fullUrl");
        assert_eq!(url, format!("urn:uuid:{}", e["resource"]["id"].as_str().expect("id")));
        assert!(urls.insert(url.to_string()), "duplicate {url}");
    }
    let mut refs = Vec::new();
    rehabit::fhir::map::references(bundle, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        assert!(urls.contains(&r), "{r} does not resolve");
    }
}

#[actix_web::test]
async fn the_bundle_maps_the_record_and_its_references_resolve() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "fhir").await;
    let res = app
        .get(&format!("/v1/clients/{}/fhir", s.client_id))
        .bearer(&s.admin)
        .send()
        .await;
    let bundle = ok(&res, 200);
    assert_eq!(res.header("content-type"), Some("application/fhir+json"));
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    assert_references_resolve(&bundle);
    let c = counts(&bundle);
    assert_eq!(c.get("Patient"), Some(&1), "{c:?}");
    assert_eq!(c.get("CarePlan"), Some(&1), "{c:?}");
    assert_eq!(c.get("Procedure"), Some(&1), "{c:?}");
    assert_eq!(c.get("Flag"), Some(&1), "{c:?}");
    assert_eq!(c.get("QuestionnaireResponse"), Some(&1), "{c:?}");
    assert_eq!(c.get("PlanDefinition"), Some(&1), "{c:?}");
    assert_eq!(c.get("Practitioner"), Some(&1), "{c:?}");
    // Two pains, two measurements and one score.
    assert_eq!(c.get("Observation"), Some(&5), "{c:?}");
    assert!(c.get("ServiceRequest").is_some_and(|n| *n >= 1));
    assert_eq!(c.get("ServiceRequest"), c.get("ActivityDefinition"));

    let patient = &resources(&bundle, "Patient")[0];
    assert_eq!(patient["id"], s.client_id.as_str());
    let plan = &resources(&bundle, "CarePlan")[0];
    assert_eq!(plan["id"], s.assignment_id.as_str());
    assert_eq!(plan["status"], "active");
    let request = &resources(&bundle, "ServiceRequest")[0];
    let repeat = &request["occurrenceTiming"]["repeat"];
    assert_eq!(repeat["frequency"], 2);
    assert_eq!(repeat["dayOfWeek"], json!(["mon", "wed", "fri"]));
    assert!(request["patientInstruction"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(request["extension"][0]["url"], rehabit::fhir::DOSAGE_EXTENSION);

    let procedure = &resources(&bundle, "Procedure")[0];
    assert_eq!(procedure["id"], s.session_id.as_str());
    assert_eq!(procedure["identifier"][0]["value"], s.session_id.as_str());
    let start = procedure["performedPeriod"]["start"].as_str().expect("start");
    assert!(start.ends_with("-05:00") || start.ends_with("-04:00"), "{start}");
    let observations = resources(&bundle, "Observation");
    let pains: Vec<_> = observations
        .iter()
        .filter(|o| o["code"]["coding"][0]["code"] == "72514-3")
        .collect();
    assert_eq!(pains.len(), 2);
    assert!(
        pains
            .iter()
            .all(|o| o["partOf"][0]["reference"] == format!("urn:uuid:{}", s.session_id))
    );
    let sides: HashSet<&str> = observations
        .iter()
        .filter_map(|o| o["bodySite"]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"].as_str())
        .collect();
    assert_eq!(sides, HashSet::from(["7771000", "24028007"]));
    let qr = &resources(&bundle, "QuestionnaireResponse")[0];
    assert_eq!(qr["status"], "completed");
    assert!(
        observations
            .iter()
            .any(|o| o["derivedFrom"][0]["reference"] == format!("urn:uuid:{}", qr["id"].as_str().expect("present")))
    );
    let ad = &resources(&bundle, "ActivityDefinition")[0];
    assert_eq!(ad["code"]["coding"][0]["code"], "229065009");

    // The same record answers the same ids.
    let again = ok(
        &app.get(&format!("/v1/clients/{}/fhir", s.client_id))
            .bearer(&s.admin)
            .send()
            .await,
        200,
    );
    let ids = |b: &Value| -> Vec<String> {
        b["entry"]
            .as_array()
            .expect("present")
            .iter()
            .map(|e| e["fullUrl"].as_str().expect("present").to_string())
            .collect()
    };
    assert_eq!(ids(&bundle), ids(&again));
    assert_ne!(bundle["id"], again["id"], "each bundle is its own");

    // Reading it is audited as an export of that client.
    let events = app.audit_events().await;
    let e = events
        .iter()
        .rfind(|e| e["action"] == "export_client_fhir")
        .expect("audited");
    assert_eq!(e["client_ids"], json!([s.client_id]));
    assert_eq!(e["status"], 200);
}

#[actix_web::test]
async fn the_export_answers_the_bundle_with_format_fhir() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "fhirexport").await;
    let res = app
        .get(&format!("/v1/clients/{}/export?format=fhir", s.client_id))
        .bearer(&s.admin)
        .send()
        .await;
    let bundle = ok(&res, 200);
    assert_eq!(res.header("content-type"), Some("application/fhir+json"));
    let direct = ok(
        &app.get(&format!("/v1/clients/{}/fhir", s.client_id))
            .bearer(&s.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(counts(&bundle), counts(&direct));
    let json_doc = ok(
        &app.get(&format!("/v1/clients/{}/export?format=json", s.client_id))
            .bearer(&s.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(json_doc["format"], "rehabit-export/1");
    let mine = app
        .get("/v1/me/export?format=fhir")
        .bearer(&s.client_token)
        .send()
        .await;
    assert_eq!(counts(&ok(&mine, 200)), counts(&direct));
    let bad = app
        .get(&format!("/v1/clients/{}/export?format=xml", s.client_id))
        .bearer(&s.admin)
        .send()
        .await;
    bad.problem(422);
    assert_eq!(bad.error_fields(), vec!["format".to_string()]);
    app.get("/v1/me/export?format=hl7")
        .bearer(&s.client_token)
        .send()
        .await
        .problem(422);
}

#[actix_web::test]
async fn the_bundle_has_the_permissions_of_its_parts() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "fhirperm").await;
    let other = setup(&app, "fhirother").await;
    let path = format!("/v1/clients/{}/fhir", s.client_id);

    // Another clinic's client does not exist here; a client sees only their own record.
    app.get(&format!("/v1/clients/{}/fhir", other.client_id))
        .bearer(&s.admin)
        .send()
        .await
        .problem(404);
    app.get(&path).bearer(&other.client_token).send().await.problem(404);
    let own = ok(&app.get(&path).bearer(&s.client_token).send().await, 200);
    assert_eq!(resources(&own, "Procedure").len(), 1);

    let key = |scopes: Value| {
        let app = &app;
        let admin = s.admin.clone();
        async move {
            app.post("/v1/api-keys")
                .bearer(&admin)
                .json(json!({"name": "FHIR", "scopes": scopes}))
                .succeeds()
                .await
                .body["key"]
                .as_str()
                .expect("key")
                .to_string()
        }
    };
    // Without clients:read the bundle does not open.
    let sessions_only = key(json!(["sessions:read"])).await;
    app.get(&path)
        .header("X-Api-Key", &sessions_only)
        .send()
        .await
        .problem(403);
    // clients:read alone: the Patient and nothing else.
    let clients_only = key(json!(["clients:read"])).await;
    let b = ok(&app.get(&path).header("X-Api-Key", &clients_only).send().await, 200);
    assert_eq!(counts(&b).into_keys().collect::<Vec<_>>(), vec!["Patient".to_string()]);
    assert!(resources(&b, "Patient")[0].get("generalPractitioner").is_none());
    assert_references_resolve_or_none(&b);
    // clients:read + sessions:read: the logs without the homework they were based on.
    let logs = key(json!(["clients:read", "sessions:read"])).await;
    let b = ok(&app.get(&path).header("X-Api-Key", &logs).send().await, 200);
    let c = counts(&b);
    assert!(c.contains_key("Procedure") && c.contains_key("Flag"));
    assert!(!c.contains_key("CarePlan") && !c.contains_key("QuestionnaireResponse"));
    assert!(resources(&b, "Procedure")[0].get("basedOn").is_none());
    assert_references_resolve(&b);
    // data:export covers every part, as the export does; alone, it opens the export's form.
    let export = key(json!(["clients:read", "data:export"])).await;
    let b = ok(&app.get(&path).header("X-Api-Key", &export).send().await, 200);
    assert!(counts(&b).contains_key("QuestionnaireResponse") && counts(&b).contains_key("CarePlan"));
    let export_only = key(json!(["data:export"])).await;
    app.get(&path)
        .header("X-Api-Key", &export_only)
        .send()
        .await
        .problem(403);
    let b = ok(
        &app.get(&format!("/v1/clients/{}/export?format=fhir", s.client_id))
            .header("X-Api-Key", &export_only)
            .send()
            .await,
        200,
    );
    assert!(counts(&b).contains_key("Practitioner") && counts(&b).contains_key("Flag"));
    // The export's form keeps the export's permission.
    app.get(&format!("/v1/clients/{}/export?format=fhir", s.client_id))
        .header("X-Api-Key", &clients_only)
        .send()
        .await
        .problem(403);
}

fn assert_references_resolve_or_none(bundle: &Value) {
    let mut refs = Vec::new();
    rehabit::fhir::map::references(bundle, &mut refs);
    if !refs.is_empty() {
        assert_references_resolve(bundle);
    }
}

#[actix_web::test]
async fn definitions_are_public() {
    let app = TestApp::spawn().await;
    let res = app.get("/v1/fhir/CodeSystem/rehabit").send().await;
    let cs = ok(&res, 200);
    assert_eq!(res.header("content-type"), Some("application/fhir+json"));
    assert_eq!(cs["resourceType"], "CodeSystem");
    assert_eq!(cs["url"], rehabit::fhir::CODE_SYSTEM);
    let codes: Vec<&str> = cs["concept"]
        .as_array()
        .expect("present")
        .iter()
        .filter_map(|c| c["code"].as_str())
        .collect();
    assert!(codes.contains(&"pain-before") && codes.contains(&"pain-after"));
    for id in ["dosage", "laterality"] {
        let sd = ok(
            &app.get(&format!("/v1/fhir/StructureDefinition/{id}")).send().await,
            200,
        );
        assert_eq!(sd["resourceType"], "StructureDefinition");
        assert_eq!(sd["type"], "Extension");
        assert!(sd["url"].as_str().expect("present").ends_with(id));
    }
    app.get("/v1/fhir/CodeSystem/other").send().await.problem(404);
    app.get("/v1/fhir/StructureDefinition/rehabit")
        .send()
        .await
        .problem(404);
}
