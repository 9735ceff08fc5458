//! Outcome measures: definitions and their scoring rules, assignments and what is due,
//! offline-safe responses, score series with change and MCID, and who may see what.

use crate::helpers::{TestApp, TestResponse, today_in};
use chrono::{Duration, Utc};
use rehabit::outcomes::builtin::{PSFS, lefs_item, psfs_item};
use serde_json::{Value, json};
use uuid::Uuid;

fn ok(res: &TestResponse, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.body);
    res.body.clone()
}

struct Setup {
    admin: String,
    client: String,
    client_id: String,
}

async fn setup(app: &TestApp, name: &str) -> Setup {
    let admin = app.admin_token(name, &format!("admin@{name}.example")).await;
    let (client_id, client) = app
        .client_with_login(
            &admin,
            json!({"name": "Sam", "email": format!("sam@{name}.example"), "timezone": "America/New_York"}),
        )
        .await;
    Setup {
        admin,
        client,
        client_id,
    }
}

async fn assign(app: &TestApp, s: &Setup, questionnaire: &str, start_days_ago: i64) -> Value {
    ok(
        &app.post(&format!("/v1/clients/{}/questionnaire-assignments", s.client_id))
            .bearer(&s.admin)
            .json(json!({"questionnaire_id": questionnaire,
                "schedule": {"start_date": today_in("America/New_York") - Duration::days(start_days_ago), "every": 2, "unit": "weeks"}}))
            .send()
            .await,
        201,
    )
}

fn psfs_answers(ratings: &[f64], named: bool) -> Value {
    let mut answers = Vec::new();
    for (k, r) in ratings.iter().enumerate() {
        let k = k as u128 + 1;
        if named {
            answers.push(json!({"item_id": psfs_item(k, false), "text": format!("Activity {k}")}));
        }
        answers.push(json!({"item_id": psfs_item(k, true), "value": r}));
    }
    json!(answers)
}

#[actix_web::test]
async fn builtins_ship_psfs_in_full_and_lefs_without_its_wording() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "builtins").await;
    let list = ok(&app.get("/v1/questionnaires").bearer(&s.admin).send().await, 200);
    let codes: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|q| q["code"].as_str())
        .collect();
    assert!(codes.contains(&"psfs") && codes.contains(&"lefs"), "{codes:?}");
    let psfs = ok(
        &app.get(&format!("/v1/questionnaires/{PSFS}"))
            .bearer(&s.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(psfs["scoring"], json!({"method": "mean", "min_answered": 1}));
    assert_eq!(psfs["mcid"], json!(2.0));
    assert_eq!(psfs["builtin"], json!(true));
    assert_eq!(psfs["items"].as_array().expect("items").len(), 10);
    let lefs = ok(
        &app.get(&format!("/v1/questionnaires/{}", rehabit::outcomes::builtin::LEFS))
            .bearer(&s.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(lefs["items"].as_array().expect("items").len(), 20);
    assert_eq!(lefs["items"][0]["code"], "lefs_01");
    assert_eq!(lefs["items"][0]["id"], json!(lefs_item(1)));
    assert!(lefs["items"][0]["text"].as_str().expect("text").contains("not shipped"));
    assert!(lefs["licence"].as_str().expect("licence").contains("Binkley"));
    // A client's login reads only what is assigned to it; keys need `outcomes:read`.
    app.get(&format!("/v1/questionnaires/{PSFS}"))
        .bearer(&s.client)
        .send()
        .await
        .problem(404);
    app.get("/v1/questionnaires")
        .bearer(&s.client)
        .send()
        .await
        .problem(403);
}

#[actix_web::test]
async fn definitions_whose_score_cannot_be_computed_are_refused() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "definitions").await;
    let create = |body: Value| app.post("/v1/questionnaires").bearer(&s.admin).json(body).send();
    let base = |items: Value, scoring: Value| json!({"code": "mine", "name": "Mine", "direction": "lower_is_better", "mcid": 1.5, "items": items, "scoring": scoring});
    let res = create(base(
        json!([{"code": "t", "text": "Tell", "type": "text"}]),
        json!({"method": "sum", "min_answered": 1}),
    ))
    .await;
    assert_eq!(res.error_fields(), ["items"], "{}", res.body);
    let scale = json!([{"code": "a", "text": "A", "type": "scale", "min": 0, "max": 4}]);
    let res = create(base(scale.clone(), json!({"method": "sum", "min_answered": 2}))).await;
    assert_eq!(res.error_fields(), ["scoring.min_answered"]);
    let res = create(base(
        json!([{"code": "a", "text": "A", "type": "scale", "min": 4, "max": 4}]),
        json!({"method": "mean", "min_answered": 1}),
    ))
    .await;
    assert_eq!(res.error_fields(), ["items[0].max"]);
    let same = json!([{"code": "c", "text": "C", "type": "choice", "options": [{"label": "x", "score": 1}, {"label": "y", "score": 1}]}]);
    let res = create(base(same, json!({"method": "percent_of_max", "min_answered": 1}))).await;
    assert_eq!(res.error_fields(), ["scoring.method"]);
    let res = create(base(scale.clone(), json!({"method": "median", "min_answered": 1}))).await;
    assert_eq!(res.status, 422, "{}", res.body);

    let made = ok(
        &create(base(scale.clone(), json!({"method": "sum", "min_answered": 1}))).await,
        201,
    );
    assert_eq!(made["builtin"], json!(false));
    assert!(made["items"][0]["id"].is_string());
    create(base(scale, json!({"method": "sum", "min_answered": 1})))
        .await
        .problem(409);
    // Another clinic cannot see it; a client cannot make one.
    let other = app.admin_token("Other", "admin@other.example").await;
    app.get(&format!("/v1/questionnaires/{}", made["id"].as_str().expect("id")))
        .bearer(&other)
        .send()
        .await
        .problem(404);
    app.post("/v1/questionnaires")
        .bearer(&s.client)
        .json(base(
            json!([{"code": "a", "text": "A", "type": "scale", "min": 0, "max": 4}]),
            json!({"method": "sum", "min_answered": 1}),
        ))
        .send()
        .await
        .problem(403);
}

#[actix_web::test]
async fn responses_follow_the_offline_contract_and_name_the_item_that_breaks_a_rule() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "answers").await;
    let a = assign(&app, &s, &PSFS.to_string(), 3).await;
    let aid = a["id"].as_str().expect("id").to_string();
    assert_eq!(a["due_since"], json!(today_in("America/New_York") - Duration::days(3)));
    let due = ok(
        &app.get("/v1/me/questionnaires/due").bearer(&s.client).send().await,
        200,
    );
    assert_eq!(due["items"][0]["assignment_id"], aid.as_str());
    assert_eq!(due["items"][0]["questionnaire"]["code"], "psfs");
    // Now assigned, the client may read the definition.
    ok(
        &app.get(&format!("/v1/questionnaires/{PSFS}"))
            .bearer(&s.client)
            .send()
            .await,
        200,
    );

    let path = format!("/v1/questionnaire-assignments/{aid}/responses");
    let id = Uuid::now_v7();
    let body = json!({"id": id, "answers": psfs_answers(&[3.0, 5.0], true)});
    let first = ok(&app.post(&path).bearer(&s.client).json(body.clone()).send().await, 201);
    assert_eq!(first["score"], json!(4.0));
    assert_eq!(first["answered_by"], "client");
    assert_eq!(
        first["answers"].as_array().expect("answers").len(),
        4,
        "item-level answers are kept"
    );
    let again = ok(&app.post(&path).bearer(&s.client).json(body).send().await, 200);
    assert_eq!(again["id"], first["id"]);
    let other = json!({"id": id, "answers": psfs_answers(&[3.0, 6.0], true)});
    app.post(&path).bearer(&s.client).json(other).send().await.problem(409);
    let due = ok(
        &app.get("/v1/me/questionnaires/due").bearer(&s.client).send().await,
        200,
    );
    assert_eq!(due["items"], json!([]), "answered since it was due");

    // Out of bounds, a required item missing, a stray item: 422 naming the answer and item.
    let res = app
        .post(&path)
        .bearer(&s.client)
        .json(json!({"answers": [{"item_id": psfs_item(1, true), "value": 11}]}))
        .send()
        .await;
    assert_eq!(res.error_fields(), ["answers[0].value"]);
    assert!(res.body.to_string().contains("activity_1"), "{}", res.body);
    let res = app
        .post(&path)
        .bearer(&s.client)
        .json(json!({"answers": [{"item_id": psfs_item(2, true), "value": 4}]}))
        .send()
        .await;
    assert_eq!(res.error_fields(), ["answers"]);
    assert!(res.body.to_string().contains("activity_1"), "{}", res.body);

    // Unknown option of a choice item.
    let choice = ok(
        &app.post("/v1/questionnaires")
            .bearer(&s.admin)
            .json(
                json!({"code": "sleep", "name": "Sleep", "direction": "higher_is_better",
                "items": [{"code": "nights", "text": "Nights slept well", "type": "choice", "required": true,
                           "options": [{"label": "none", "score": 0}, {"label": "most", "score": 2}]}],
                "scoring": {"method": "percent_of_max", "min_answered": 1}}),
            )
            .send()
            .await,
        201,
    );
    let ca = assign(&app, &s, choice["id"].as_str().expect("id"), 0).await;
    let cpath = format!(
        "/v1/questionnaire-assignments/{}/responses",
        ca["id"].as_str().expect("id")
    );
    let item = choice["items"][0]["id"].clone();
    let res = app
        .post(&cpath)
        .bearer(&s.client)
        .json(json!({"answers": [{"item_id": item, "option_id": Uuid::now_v7()}]}))
        .send()
        .await;
    assert_eq!(res.error_fields(), ["answers[0].option_id"]);
    let most = choice["items"][0]["options"][1]["id"].clone();
    let got = ok(
        &app.post(&cpath)
            .bearer(&s.admin)
            .json(json!({"answers": [{"item_id": item, "option_id": most}]}))
            .send()
            .await,
        201,
    );
    assert_eq!(
        (got["score"].clone(), got["answered_by"].clone()),
        (json!(100.0), json!("practitioner"))
    );

    // Another client cannot answer with its own id taken, nor reach the assignment.
    let (_, kim) = app
        .client_with_login(
            &s.admin,
            json!({"name": "Kim", "email": "kim@answers.example", "timezone": "Europe/London"}),
        )
        .await;
    app.post(&path)
        .bearer(&kim)
        .json(json!({"answers": psfs_answers(&[1.0], false)}))
        .send()
        .await
        .problem(404);
    // Kim's own assignment: an id taken by Sam's response reveals nothing, 422 naming `id`.
    let kim_id = {
        let me = ok(&app.get("/v1/me").bearer(&kim).send().await, 200);
        me["client_id"].as_str().expect("client id").to_string()
    };
    let kim_a = ok(
        &app.post(&format!("/v1/clients/{kim_id}/questionnaire-assignments"))
            .bearer(&s.admin)
            .json(json!({"questionnaire_id": PSFS, "schedule": {"start_date": today_in("Europe/London"), "every": 1, "unit": "weeks"}}))
            .send()
            .await,
        201,
    );
    let res = app
        .post(&format!(
            "/v1/questionnaire-assignments/{}/responses",
            kim_a["id"].as_str().expect("id")
        ))
        .bearer(&kim)
        .json(json!({"id": id, "answers": psfs_answers(&[3.0, 5.0], true)}))
        .send()
        .await;
    assert_eq!(res.error_fields(), ["id"], "{}", res.body);
    let kim_q = ok(&app.get("/v1/me/questionnaires/due").bearer(&kim).send().await, 200);
    assert_eq!(kim_q["items"].as_array().expect("items").len(), 1, "only Kim's own");
    assert!(app.event_types().await.iter().any(|t| t == "questionnaire.completed"));
}

#[actix_web::test]
async fn outcomes_show_the_series_change_and_mcid_to_those_who_may_read_them() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "series").await;
    let a = assign(&app, &s, &PSFS.to_string(), 30).await;
    let path = format!(
        "/v1/questionnaire-assignments/{}/responses",
        a["id"].as_str().expect("id")
    );
    for (days_ago, ratings, named) in [(28, [2.0, 3.0], true), (14, [3.0, 4.0], false), (1, [5.0, 5.0], false)] {
        let at = (Utc::now() - Duration::days(days_ago)).to_rfc3339();
        ok(
            &app.post(&path)
                .bearer(&s.client)
                .json(json!({"answered_at": at, "answers": psfs_answers(&ratings, named)}))
                .send()
                .await,
            201,
        );
    }
    let out = ok(
        &app.get(&format!("/v1/clients/{}/outcomes", s.client_id))
            .bearer(&s.admin)
            .send()
            .await,
        200,
    );
    let psfs = &out["items"][0];
    assert_eq!(psfs["code"], "psfs");
    let scores: Vec<f64> = psfs["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|p| p["score"].as_f64().expect("score"))
        .collect();
    assert_eq!(scores, [2.5, 3.5, 5.0]);
    assert_eq!(psfs["change"], json!(2.5));
    assert_eq!(psfs["reaches_mcid"], json!(true));
    let mine = ok(&app.get("/v1/me/outcomes").bearer(&s.client).send().await, 200);
    assert_eq!(mine["items"], out["items"]);
    // Both reads name the client in the audit trail.
    let trail = app.audit_events().await;
    for action in [
        "get_client_outcomes",
        "get_my_outcomes",
        "create_questionnaire_response",
    ] {
        let e = trail.iter().rev().find(|e| e["action"] == action).expect(action);
        assert_eq!(e["client_ids"], json!([s.client_id]), "{action}");
    }

    // Progress and the client list carry them.
    let progress = ok(
        &app.get(&format!("/v1/clients/{}/progress", s.client_id))
            .bearer(&s.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(progress["outcomes"], out["items"]);
    let list = ok(&app.get("/v1/clients").bearer(&s.admin).send().await, 200);
    assert_eq!(list["items"][0]["latest_score"]["score"], json!(5.0));
    assert_eq!(list["items"][0]["latest_score"]["code"], "psfs");

    // A key without `outcomes:read` sees neither; another client and another clinic get 404.
    let key = ok(
        &app.post("/v1/api-keys")
            .bearer(&s.admin)
            .json(json!({"name": "Sessions", "scopes": ["sessions:read", "clients:read"]}))
            .send()
            .await,
        201,
    );
    let key = key["key"].as_str().expect("key");
    let progress = ok(
        &app.get(&format!("/v1/clients/{}/progress", s.client_id))
            .bearer(key)
            .send()
            .await,
        200,
    );
    assert_eq!(progress["outcomes"], json!([]));
    let list = ok(&app.get("/v1/clients").bearer(key).send().await, 200);
    assert_eq!(list["items"][0]["latest_score"], Value::Null);
    app.get(&format!("/v1/clients/{}/outcomes", s.client_id))
        .bearer(key)
        .send()
        .await
        .problem(403);
    let (_, kim) = app
        .client_with_login(
            &s.admin,
            json!({"name": "Kim", "email": "kim@series.example", "timezone": "Europe/London"}),
        )
        .await;
    app.get(&format!("/v1/clients/{}/outcomes", s.client_id))
        .bearer(&kim)
        .send()
        .await
        .problem(404);
    let other = app.admin_token("Elsewhere", "admin@elsewhere.example").await;
    app.get(&format!("/v1/clients/{}/outcomes", s.client_id))
        .bearer(&other)
        .send()
        .await
        .problem(404);
}

#[actix_web::test]
async fn a_stopped_assignment_is_no_longer_due_and_takes_no_new_responses() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "stopping").await;
    let a = assign(&app, &s, &PSFS.to_string(), 0).await;
    let id = a["id"].as_str().expect("id");
    let stopped = ok(
        &app.patch(&format!("/v1/questionnaire-assignments/{id}"))
            .bearer(&s.admin)
            .json(json!({"status": "stopped"}))
            .send()
            .await,
        200,
    );
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(stopped["due_since"], Value::Null);
    app.patch(&format!("/v1/questionnaire-assignments/{id}"))
        .bearer(&s.admin)
        .json(json!({"status": "active"}))
        .send()
        .await
        .problem(422);
    let due = ok(
        &app.get("/v1/me/questionnaires/due").bearer(&s.client).send().await,
        200,
    );
    assert_eq!(due["items"], json!([]));
    app.post(&format!("/v1/questionnaire-assignments/{id}/responses"))
        .bearer(&s.client)
        .json(json!({"answers": psfs_answers(&[4.0], true)}))
        .send()
        .await
        .problem(409);
    let list = ok(
        &app.get(&format!("/v1/clients/{}/questionnaire-assignments", s.client_id))
            .bearer(&s.client)
            .send()
            .await,
        200,
    );
    assert_eq!(list["items"][0]["status"], "stopped");
}

#[actix_web::test]
async fn export_holds_the_responses_and_erasure_removes_them() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "stewardship").await;
    let a = assign(&app, &s, &PSFS.to_string(), 0).await;
    ok(
        &app.post(&format!(
            "/v1/questionnaire-assignments/{}/responses",
            a["id"].as_str().expect("id")
        ))
        .bearer(&s.client)
        .json(json!({"answers": psfs_answers(&[6.0], true)}))
        .send()
        .await,
        201,
    );
    let doc = ok(&app.get("/v1/me/export").bearer(&s.client).send().await, 200);
    assert_eq!(doc["complete"], json!(true));
    assert_eq!(doc["questionnaire_assignments"][0]["code"], "psfs");
    assert_eq!(doc["questionnaire_responses"][0]["score"], json!(6.0));
    assert_eq!(doc["questionnaire_responses"][0]["answers"][0]["text"], "Activity 1");
    assert_eq!(doc["progress"]["outcomes"][0]["code"], "psfs");
    let erased = ok(
        &app.post(&format!("/v1/clients/{}/erase", s.client_id))
            .bearer(&s.admin)
            .json(json!({"confirm": s.client_id}))
            .send()
            .await,
        200,
    );
    assert_eq!(erased["removed"]["questionnaire_responses"], json!(1));
    assert_eq!(erased["removed"]["questionnaire_assignments"], json!(1));
}
