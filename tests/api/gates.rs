//! Defects the contract gates (`.ci/contract-gates`: Spectral, Schemathesis, the generated
//! TypeScript client) found in the service, each kept fixed by a test here.

use crate::helpers::{PASSWORD, TestApp};
use serde_json::json;

/// Schemathesis: `POST /v1/practitioners` without credentials answered 422 (the key was
/// already used) instead of 401, because anonymous callers shared one key space everywhere.
#[actix_web::test]
async fn without_credentials_a_reused_key_is_still_a_401() {
    let app = TestApp::spawn().await;
    let signup = app
        .post("/v1/clinics")
        .header("Idempotency-Key", "0")
        .json(json!({"clinic_name": "Keys", "admin": {"name": "K", "email": "k@keys.example", "password": PASSWORD}}))
        .send()
        .await;
    assert_eq!(signup.status, 201, "{}", signup.body);
    for path in ["/v1/practitioners", "/v1/clients", "/v1/routines"] {
        let res = app
            .post(path)
            .header("Idempotency-Key", "0")
            .json(json!({"name": "Nobody"}))
            .send()
            .await;
        res.problem(401);
        assert!(
            res.header("www-authenticate").is_some_and(|c| c.starts_with("Bearer")),
            "{path}: 401 without a challenge"
        );
    }
    // Sign-ups, which need no credentials, still share the anonymous space.
    let other = app
        .post("/v1/clinics")
        .header("Idempotency-Key", "0")
        .json(json!({"clinic_name": "Other", "admin": {"name": "O", "email": "o@keys.example", "password": PASSWORD}}))
        .send()
        .await;
    assert_eq!(other.problem(422)["errors"][0]["field"], "Idempotency-Key");
}

/// Schemathesis: `"duration_seconds": 1378.0` is an integer to JSON Schema (and to the clients
/// generated from the document) but was a 422 "invalid type: floating point".
#[actix_web::test]
async fn whole_numbers_written_with_a_fraction_are_integers() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("Numbers", "n@numbers.example").await;
    let exercises = app
        .get("/v1/exercises?builtin=true&limit=1")
        .bearer(&token)
        .send()
        .await;
    let exercise_id = exercises.body["items"][0]["id"]
        .as_str()
        .expect("a built-in")
        .to_string();
    let res = app
        .post("/v1/routines")
        .bearer(&token)
        .json(json!({"name": "Floats", "items": [{"exercise_id": exercise_id, "sets": 2.0, "duration_seconds": 1.378e3}]}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["items"][0]["sets"], 2);
    assert_eq!(res.body["items"][0]["duration_seconds"], 1378);
    let res = app
        .post("/v1/routines")
        .bearer(&token)
        .json(json!({"name": "Fraction", "items": [{"exercise_id": exercise_id, "sets": 2.5}]}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "items[0].sets");
}

/// Schemathesis: the document says `POST /v1/routines/{id}/copy` takes its options or `null`,
/// but `null` was a 422.
#[actix_web::test]
async fn a_copy_takes_null_for_no_options() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("Copies", "c@copies.example").await;
    let routines = app.get("/v1/routines?builtin=true").bearer(&token).send().await;
    let routine = &routines.body["items"][0];
    let id = routine["id"].as_str().expect("a built-in routine");
    let res = app
        .post(&format!("/v1/routines/{id}/copy"))
        .bearer(&token)
        .raw("application/json", "null")
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["name"], routine["name"]);
    assert_ne!(res.body["id"], routine["id"]);
}

/// Schemathesis (stateful, ST302 created resource not found): after `DELETE`, a retry of the
/// creating `POST` with its key replayed the first 201, pointing at the deleted exercise.
#[actix_web::test]
async fn a_deleted_resource_is_not_replayed_as_created() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("Gone", "g@gone.example").await;
    let body = json!({"name": "Wall sit", "category": "strength", "body_regions": ["knee"], "difficulty": 2});
    let create = || {
        app.post("/v1/exercises")
            .bearer(&token)
            .header("Idempotency-Key", "wall-sit")
            .json(body.clone())
    };
    let first = create().send().await;
    assert_eq!(first.status, 201, "{}", first.body);
    let location = first.header("location").expect("Location").to_string();
    let replay = create().send().await;
    assert_eq!(replay.header("idempotency-replayed"), Some("true"));
    assert_eq!(replay.body["id"], first.body["id"]);

    let deleted = app.delete(&location).bearer(&token).send().await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    app.get(&location).bearer(&token).send().await.problem(404);

    let again = create().send().await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(
        again.header("idempotency-replayed"),
        None,
        "a deleted resource was replayed"
    );
    assert_ne!(again.body["id"], first.body["id"]);
    let location = again.header("location").expect("Location");
    assert_eq!(app.get(location).bearer(&token).send().await.status, 200);
}

/// Schemathesis (negative data accepted): a form body's `token_type_hint` holding a NUL
/// character was accepted, while the document (and the JSON bodies) refuse NUL in any string.
#[actix_web::test]
async fn form_bodies_refuse_nul_characters_too() {
    let app = TestApp::spawn().await;
    let res = app
        .post("/v1/auth/revoke")
        .raw("application/x-www-form-urlencoded", "token=abc&token_type_hint=a%00b")
        .send()
        .await;
    let problem = res.problem(422);
    assert_eq!(problem["errors"][0]["field"], "token_type_hint");
    assert_eq!(problem["error"], "invalid_request");
    let res = app
        .post("/v1/auth/token")
        .raw(
            "application/x-www-form-urlencoded",
            "grant_type=password&username=a%40b.example&password=x%00y",
        )
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "password");
    let res = app
        .post("/v1/auth/revoke")
        .raw(
            "application/x-www-form-urlencoded",
            "token=abc&token_type_hint=refresh_token",
        )
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
}

/// Schemathesis (negative data accepted): `PUT /v1/practitioners/by-external-id/{id}` took
/// `{"role": null}`, which the document does not allow, and went on to answer 412.
#[actix_web::test]
async fn practitioner_fields_documented_non_null_refuse_null() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("Nulls", "n@nulls.example").await;
    for field in ["name", "email", "role", "active"] {
        let res = app
            .put("/v1/practitioners/by-external-id/staff-1")
            .bearer(&token)
            .header("If-Match", "\"9\"")
            .json(json!({"name": "Ana", "email": "ana@nulls.example", field: null}))
            .send()
            .await;
        assert_eq!(res.problem(422)["errors"][0]["field"], field, "{}", res.body);
    }
    for field in ["role", "external_id"] {
        let res = app
            .post("/v1/practitioners")
            .bearer(&token)
            .json(json!({"name": "Ana", "email": "ana@nulls.example", field: null}))
            .send()
            .await;
        assert_eq!(res.problem(422)["errors"][0]["field"], field, "{}", res.body);
    }
}

/// Schemathesis (negative data accepted): `PATCH /v1/exercises/{id}` took
/// `{"default_dosage": [null, null]}`, a struct read from an array by position (serde's
/// derive allows it; the document does not).
#[actix_web::test]
async fn objects_are_never_read_from_arrays() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("Arrays", "a@arrays.example").await;
    let res = app
        .post("/v1/exercises")
        .bearer(&token)
        .json(json!({"name": "Bridge", "category": "strength", "body_regions": ["glutes"], "difficulty": 1}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let id = res.body["id"].as_str().expect("id");
    let res = app
        .patch(&format!("/v1/exercises/{id}"))
        .bearer(&token)
        .raw("application/merge-patch+json", r#"{"default_dosage": [null, null]}"#)
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "default_dosage");
    let res = app
        .post("/v1/clinics")
        .raw(
            "application/json",
            r#"["Arrays 2", ["A", "a2@arrays.example", "correct horse battery"]]"#,
        )
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "body");
}
