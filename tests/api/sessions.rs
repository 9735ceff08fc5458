//! Session logs: the offline sync contract, rules, who may do what, flags, and the agenda.

use crate::helpers::{TestApp, TestResponse};
use chrono::{Duration, Utc};
use rehabit::library::content::HIP_MOBILITY;
use serde_json::{Value, json};

struct Setup {
    admin: String,
    client: String,
    client_id: String,
    assignment: Value,
}

fn ok(res: &TestResponse, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.body);
    res.body.clone()
}

async fn setup(app: &TestApp, name: &str, times_per_day: u8) -> Setup {
    let admin = app.admin_token(name, &format!("admin@{name}.example")).await;
    let (client_id, client) = app
        .client_with_login(
            &admin,
            json!({"name": "Sam", "email": format!("sam@{name}.example"), "timezone": "America/New_York"}),
        )
        .await;
    let start = Utc::now().date_naive() - Duration::days(10);
    let assignment = ok(
        &app.post(&format!("/v1/clients/{client_id}/assignments"))
            .bearer(&admin)
            .json(
                json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": start, "times_per_day": times_per_day}}),
            )
            .send()
            .await,
        201,
    );
    Setup {
        admin,
        client,
        client_id,
        assignment,
    }
}

fn log_body(s: &Setup, id: Option<uuid::Uuid>, performed_at: &str) -> Value {
    let item = s.assignment["items"][2]["id"].clone();
    let mut body = json!({
        "performed_at": performed_at, "duration_seconds": 900, "pain_before": 4, "pain_after": 2, "effort": 5,
        "notes": "left hip tight",
        "entries": [{"assignment_item_id": item, "side": "left", "sets_done": 1, "hold_seconds": 60, "completed": true}],
        "measurements": [{"kind": "hip_internal_rotation_deg", "side": "left", "value": 28}, {"kind": "hip_internal_rotation_deg", "side": "right", "value": 35.5}]
    });
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    body
}

fn sessions_path(s: &Setup) -> String {
    format!("/v1/assignments/{}/sessions", s.assignment["id"].as_str().expect("id"))
}

#[actix_web::test]
async fn offline_retries_never_duplicate_a_log() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "sync", 1).await;
    let id = uuid::Uuid::new_v4();
    let at = (Utc::now() - Duration::days(2)).with_timezone(&chrono::FixedOffset::east_opt(0).expect("utc"));
    let first = app
        .post(&sessions_path(&s))
        .bearer(&s.client)
        .json(log_body(&s, Some(id), &at.to_rfc3339()))
        .send()
        .await;
    let body = ok(&first, 201);
    assert_eq!(body["id"], id.to_string());
    assert_eq!(first.header("location"), Some(format!("/v1/sessions/{id}").as_str()));
    assert_eq!(body["logged_by_role"], "client");
    assert_eq!(body["flagged"], false);
    assert_eq!(body["measurements"][1]["value"], 35.5);

    // The same instant written with another offset is the same log.
    let shifted = at
        .with_timezone(&chrono::FixedOffset::west_opt(5 * 3600).expect("offset"))
        .to_rfc3339();
    let replay = app
        .post(&sessions_path(&s))
        .bearer(&s.client)
        .json(log_body(&s, Some(id), &shifted))
        .send()
        .await;
    assert_eq!(ok(&replay, 200), body);

    let mut changed = log_body(&s, Some(id), &at.to_rfc3339());
    changed["pain_after"] = json!(3);
    app.post(&sessions_path(&s))
        .bearer(&s.client)
        .json(changed)
        .send()
        .await
        .problem(409);

    // Concurrent retries of a new id: exactly one log.
    let id2 = uuid::Uuid::new_v4();
    let at2 = (Utc::now() - Duration::days(1)).to_rfc3339();
    let send = || {
        app.post(&sessions_path(&s))
            .bearer(&s.client)
            .json(log_body(&s, Some(id2), &at2))
            .send()
    };
    let (a, b, c) = tokio::join!(send(), send(), send());
    let mut statuses = vec![a.status, b.status, c.status];
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 201], "{} {} {}", a.body, b.body, c.body);
    let mine = ok(&app.get("/v1/me/sessions").bearer(&s.client).send().await, 200);
    let ids: Vec<&str> = mine["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|x| x["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec![id2.to_string(), id.to_string()], "newest first, one each");
    // A log without an id is simply logged.
    ok(
        &app.post(&sessions_path(&s))
            .bearer(&s.client)
            .json(log_body(&s, None, &at2))
            .send()
            .await,
        201,
    );
}

#[actix_web::test]
async fn bad_logs_are_named_and_change_nothing() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "bad", 1).await;
    let other = ok(
        &app.post(&format!("/v1/clients/{}/assignments", s.client_id))
            .bearer(&s.admin)
            .json(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": Utc::now().date_naive()}}))
            .send()
            .await,
        201,
    );
    let now = Utc::now().to_rfc3339();
    let post = |body: Value| app.post(&sessions_path(&s)).bearer(&s.client).json(body).send();
    let fields = |res: TestResponse| {
        res.problem(422);
        let mut f = res.error_fields();
        f.sort();
        f
    };
    let mut b = log_body(&s, None, &now);
    b["entries"][0]["assignment_item_id"] = other["items"][0]["id"].clone();
    assert_eq!(fields(post(b).await), ["entries[0].assignment_item_id"]);
    let mut b = log_body(&s, None, &now);
    b["pain_before"] = json!(11);
    b["effort"] = json!(-1);
    b["measurements"][0]["value"] = json!(400);
    b["measurements"][1]["side"] = json!("none");
    b["entries"][0]["sets_done"] = json!(101);
    assert_eq!(
        fields(post(b).await),
        [
            "effort",
            "entries[0].sets_done",
            "measurements[0].value",
            "measurements[1].side",
            "pain_before"
        ]
    );
    let mut b = log_body(&s, None, &now);
    b["measurements"] = json!([{"kind": "timed_up_and_go_seconds", "side": "left", "value": 12}]);
    assert_eq!(fields(post(b).await), ["measurements[0].side"]);
    let mut b = log_body(&s, None, &now);
    b["measurements"] = json!([{"kind": "grip_strength_kg", "side": "left", "value": 12}]);
    assert_eq!(fields(post(b).await), ["measurements[0].kind"]);
    let long_ago = (Utc::now() - Duration::days(30)).to_rfc3339();
    assert_eq!(fields(post(log_body(&s, None, &long_ago)).await), ["performed_at"]);
    let future = (Utc::now() + Duration::hours(1)).to_rfc3339();
    assert_eq!(fields(post(log_body(&s, None, &future)).await), ["performed_at"]);
    let mine = ok(&app.get("/v1/me/sessions").bearer(&s.client).send().await, 200);
    assert_eq!(mine["items"], json!([]), "nothing was logged");
}

#[actix_web::test]
async fn practitioners_log_on_behalf_and_only_the_logger_edits() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "behalf", 1).await;
    let at = (Utc::now() - Duration::hours(3)).to_rfc3339();
    let by_staff = ok(
        &app.post(&sessions_path(&s))
            .bearer(&s.admin)
            .json(log_body(&s, None, &at))
            .send()
            .await,
        201,
    );
    assert_eq!(by_staff["logged_by_role"], "practitioner");
    let path = format!("/v1/sessions/{}", by_staff["id"].as_str().expect("id"));
    // The client reads it but does not change it; the practitioner does, with If-Match.
    ok(&app.get(&path).bearer(&s.client).send().await, 200);
    app.patch(&path)
        .bearer(&s.client)
        .json(json!({"notes": "mine"}))
        .send()
        .await
        .problem(403);
    app.patch(&path)
        .bearer(&s.admin)
        .header("If-Match", "\"9\"")
        .json(json!({"notes": "x"}))
        .send()
        .await
        .problem(412);
    let res = app
        .patch(&path)
        .bearer(&s.admin)
        .header("If-Match", "\"1\"")
        .json(json!({"pain_after": 9, "notes": null}))
        .send()
        .await;
    let updated = ok(&res, 200);
    assert_eq!(
        (
            updated["flagged"].as_bool(),
            updated["notes"].is_null(),
            updated["version"].as_i64()
        ),
        (Some(true), true, Some(2))
    );
    assert_eq!(
        updated["entries"].as_array().map(Vec::len),
        Some(1),
        "entries left out stay"
    );

    // Another client of the clinic sees none of it.
    let (_, other_token) = app
        .client_with_login(
            &s.admin,
            json!({"name": "Other", "email": "other@behalf.example", "timezone": "UTC"}),
        )
        .await;
    app.get(&path).bearer(&other_token).send().await.problem(404);
    app.get(&format!("/v1/clients/{}/sessions", s.client_id))
        .bearer(&other_token)
        .send()
        .await
        .problem(404);
    app.post(&sessions_path(&s))
        .bearer(&other_token)
        .json(log_body(&s, None, &at))
        .send()
        .await
        .problem(404);
    // Another clinic neither.
    let b = app.admin_token("Elsewhere", "b@elsewhere.example").await;
    app.get(&path).bearer(&b).send().await.problem(404);
    app.post(&sessions_path(&s))
        .bearer(&b)
        .json(log_body(&s, None, &at))
        .send()
        .await
        .problem(404);
}

#[actix_web::test]
async fn flags_open_until_a_practitioner_reviews_them() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "flags", 1).await;
    let at = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let mut worse = log_body(&s, None, &at);
    worse["pain_before"] = json!(2);
    worse["pain_after"] = json!(5);
    let flagged = ok(
        &app.post(&sessions_path(&s)).bearer(&s.client).json(worse).send().await,
        201,
    );
    assert_eq!(flagged["flagged"], true);
    let calm = ok(
        &app.post(&sessions_path(&s))
            .bearer(&s.client)
            .json(log_body(&s, None, &at))
            .send()
            .await,
        201,
    );
    let open = ok(
        &app.get("/v1/sessions?flagged=true&reviewed=false")
            .bearer(&s.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(open["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(open["items"][0]["id"], flagged["id"]);
    app.get("/v1/sessions").bearer(&s.client).send().await.problem(403);

    let review = |id: &Value, token: &str| {
        app.post(&format!("/v1/sessions/{}/review", id.as_str().expect("id")))
            .bearer(token)
            .json(json!({"note": "Called Sam"}))
            .send()
    };
    review(&flagged["id"], &s.client).await.problem(403);
    let reviewed = ok(&review(&flagged["id"], &s.admin).await, 200);
    assert_eq!(reviewed["review"]["note"], "Called Sam");
    review(&flagged["id"], &s.admin).await.problem(409);
    review(&calm["id"], &s.admin).await.problem(409);
    let open = ok(
        &app.get("/v1/sessions?flagged=true&reviewed=false")
            .bearer(&s.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(open["items"], json!([]));
    let events = app.event_types().await;
    assert_eq!(events.iter().filter(|e| *e == "session.logged").count(), 2);
    assert_eq!(events.iter().filter(|e| *e == "session.flagged").count(), 1);
}

fn statuses_on(agenda: &Value, date: &str) -> Vec<String> {
    agenda["days"]
        .as_array()
        .expect("days")
        .iter()
        .filter(|d| d["date"] == date)
        .flat_map(|d| {
            d["occurrences"]
                .as_array()
                .expect("occ")
                .iter()
                .map(|o| o["status"].as_str().expect("s").to_string())
        })
        .collect()
}

#[actix_web::test]
async fn the_agenda_says_done_and_missed_and_deletes_stop_counting() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "agenda", 2).await;
    let tz: chrono_tz::Tz = "America/New_York".parse().expect("tz");
    let now_local = Utc::now().with_timezone(&tz);
    // Noon, three days ago, in the client's calendar.
    let day = now_local.date_naive() - Duration::days(3);
    let noon = day
        .and_hms_opt(12, 0, 0)
        .expect("noon")
        .and_local_timezone(tz)
        .single()
        .expect("instant");
    let logged = ok(
        &app.post(&sessions_path(&s))
            .bearer(&s.client)
            .json(log_body(&s, None, &noon.to_rfc3339()))
            .send()
            .await,
        201,
    );
    assert_eq!(logged["local_date"], day.to_string());
    let agenda_path = format!("/v1/me/agenda?from={}&to={}", day - Duration::days(1), day);
    let agenda = ok(&app.get(&agenda_path).bearer(&s.client).send().await, 200);
    assert_eq!(
        statuses_on(&agenda, &day.to_string()),
        ["done", "missed"],
        "one of two slots done"
    );
    assert_eq!(
        statuses_on(&agenda, &(day - Duration::days(1)).to_string()),
        ["missed", "missed"]
    );

    let path = format!("/v1/sessions/{}", logged["id"].as_str().expect("id"));
    assert_eq!(app.delete(&path).bearer(&s.client).send().await.status, 204);
    app.get(&path).bearer(&s.client).send().await.problem(404);
    app.delete(&path).bearer(&s.client).send().await.problem(404);
    let agenda = ok(&app.get(&agenda_path).bearer(&s.client).send().await, 200);
    assert_eq!(
        statuses_on(&agenda, &day.to_string()),
        ["missed", "missed"],
        "a deleted log stops counting"
    );
    assert!(app.event_types().await.contains(&"session.deleted".to_string()));

    // Staff may remove a mistaken log the client made.
    let again = ok(
        &app.post(&sessions_path(&s))
            .bearer(&s.client)
            .json(log_body(&s, None, &noon.to_rfc3339()))
            .send()
            .await,
        201,
    );
    assert_eq!(
        app.delete(&format!("/v1/sessions/{}", again["id"].as_str().expect("id")))
            .bearer(&s.admin)
            .send()
            .await
            .status,
        204
    );
}

#[actix_web::test]
async fn the_lists_page_and_filter() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "lists", 1).await;
    for i in 1..=5 {
        let at = (Utc::now() - Duration::days(i)).to_rfc3339();
        ok(
            &app.post(&sessions_path(&s))
                .bearer(&s.client)
                .json(log_body(&s, None, &at))
                .send()
                .await,
            201,
        );
    }
    let mut seen = Vec::new();
    let mut url = format!("/v1/clients/{}/sessions?limit=2", s.client_id);
    loop {
        let page = ok(&app.get(&url).bearer(&s.admin).send().await, 200);
        for item in page["items"].as_array().expect("items") {
            seen.push(item["performed_at"].as_str().expect("at").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("/v1/clients/{}/sessions?limit=2&cursor={c}", s.client_id),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!((seen.len(), &seen), (5, &sorted), "each once, newest first");
    let today = Utc::now()
        .with_timezone(&"America/New_York".parse::<chrono_tz::Tz>().expect("tz"))
        .date_naive();
    let recent = ok(
        &app.get(&format!(
            "/v1/clients/{}/sessions?from={}",
            s.client_id,
            today - Duration::days(2)
        ))
        .bearer(&s.admin)
        .send()
        .await,
        200,
    );
    assert!(recent["items"].as_array().is_some_and(|i| (1..=3).contains(&i.len())));
    app.get(&format!(
        "/v1/clients/{}/sessions?from=2026-11-10&to=2026-11-01",
        s.client_id
    ))
    .bearer(&s.admin)
    .send()
    .await
    .problem(422);
}

/// Issue 12, item 4: a client-made id that another clinic's (or another client's) log holds
/// answered 409 while a fresh id answered 201 and reading that id 404, which told the caller
/// the log existed. Now every unusable id gets the same 422 naming `id`.
#[actix_web::test]
async fn an_id_taken_elsewhere_reveals_nothing() {
    let app = TestApp::spawn().await;
    let a = setup(&app, "clinica", 1).await;
    let b = setup(&app, "clinicb", 1).await;
    let at = (Utc::now() - Duration::hours(2)).to_rfc3339();
    let id = uuid::Uuid::new_v4();
    ok(
        &app.post(&sessions_path(&a))
            .bearer(&a.client)
            .json(log_body(&a, Some(id), &at))
            .send()
            .await,
        201,
    );
    // Another clinic's client and its admin, with the same id and with a fresh one.
    let mut refusals = Vec::new();
    for token in [&b.client, &b.admin] {
        let res = app
            .post(&sessions_path(&b))
            .bearer(token)
            .json(log_body(&b, Some(id), &at))
            .send()
            .await;
        assert_eq!(res.problem(422)["errors"][0]["field"], "id", "{}", res.body);
        refusals.push(res.body.clone());
        app.get(&format!("/v1/sessions/{id}"))
            .bearer(token)
            .send()
            .await
            .problem(404);
    }
    // Another client of the same clinic, logged by that client and by staff.
    let (kim_id, kim) = app
        .client_with_login(
            &a.admin,
            json!({"name": "Kim", "email": "kim@clinica.example", "timezone": "Europe/Paris"}),
        )
        .await;
    let kim_assignment = ok(
        &app.post(&format!("/v1/clients/{kim_id}/assignments"))
            .bearer(&a.admin)
            .json(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": Utc::now().date_naive() - Duration::days(3)}}))
            .send()
            .await,
        201,
    );
    let k = Setup {
        admin: a.admin.clone(),
        client: kim,
        client_id: kim_id,
        assignment: kim_assignment,
    };
    for token in [&k.client, &k.admin] {
        let res = app
            .post(&sessions_path(&k))
            .bearer(token)
            .json(log_body(&k, Some(id), &at))
            .send()
            .await;
        assert_eq!(res.problem(422)["errors"][0]["field"], "id");
        refusals.push(res.body.clone());
    }
    assert!(
        refusals.windows(2).all(|w| w[0] == w[1]),
        "one answer whoever holds the id: {refusals:?}"
    );
    // A fresh id works; the owner's retry and the owner's other content answer as before.
    ok(
        &app.post(&sessions_path(&b))
            .bearer(&b.client)
            .json(log_body(&b, Some(uuid::Uuid::new_v4()), &at))
            .send()
            .await,
        201,
    );
    ok(
        &app.post(&sessions_path(&a))
            .bearer(&a.client)
            .json(log_body(&a, Some(id), &at))
            .send()
            .await,
        200,
    );
    let mut changed = log_body(&a, Some(id), &at);
    changed["pain_after"] = json!(1);
    app.post(&sessions_path(&a))
        .bearer(&a.admin)
        .json(changed)
        .send()
        .await
        .problem(409);
}
