//! Assignments (homework), what clients see of them, and the agenda.

use crate::helpers::{TestApp, TestResponse, today_in};
use chrono::{Datelike, Duration};
use rehabit::library::content::{HIP_MOBILITY, HIP_STRENGTHENING, LEGS_UP_THE_WALL, SHOELACE_POSE};
use serde_json::{Value, json};

struct Clinic {
    admin: String,
    client_id: String,
    client: String,
}

fn ok(res: &TestResponse, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.body);
    res.body.clone()
}

/// A clinic with one client (in `tz`) who has a login.
async fn clinic(app: &TestApp, name: &str, tz: &str) -> Clinic {
    let email = format!("admin@{}.example", name.to_lowercase());
    let admin = app.admin_token(name, &email).await;
    let (client_id, client) = app
        .client_with_login(
            &admin,
            json!({"name": "Sam Lee", "email": format!("sam@{}.example", name.to_lowercase()), "timezone": tz}),
        )
        .await;
    Clinic {
        admin,
        client_id,
        client,
    }
}

async fn assign(app: &TestApp, c: &Clinic, body: Value) -> Value {
    ok(
        &app.post(&format!("/v1/clients/{}/assignments", c.client_id))
            .bearer(&c.admin)
            .json(body)
            .send()
            .await,
        201,
    )
}

#[actix_web::test]
async fn homework_copies_a_routine_and_clients_read_it_with_exercises() {
    let app = TestApp::spawn().await;
    let c = clinic(&app, "Copy", "Europe/London").await;
    let a = assign(
        &app,
        &c,
        json!({"routine_id": HIP_MOBILITY, "instructions": "Evenings", "schedule": {"start_date": "2026-11-02", "days_of_week": ["fri", "mon", "wed"]}}),
    )
    .await;
    assert_eq!(
        (a["name"].as_str(), a["status"].as_str()),
        (Some("Hip mobility"), Some("active"))
    );
    assert_eq!(a["schedule"]["days_of_week"], json!(["mon", "wed", "fri"]));
    assert_eq!(a["schedule"]["times_per_day"], 1);
    assert_eq!(a["schedule"]["reminder_times"], json!([]), "none unless asked");
    let items = a["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["exercise_id"], LEGS_UP_THE_WALL.to_string());
    assert_eq!(items[0]["hold_seconds"], 300);
    assert!(items[0]["id"].is_string());
    assert!(
        items[0]["exercise"]["instructions"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(items[2]["exercise"]["cautions"].is_array());
    assert_eq!(items[2]["side"], "each");

    // The client sees it from one call, and may read its exercises — only those.
    let mine = ok(&app.get("/v1/me/assignments").bearer(&c.client).send().await, 200);
    assert_eq!(mine["items"][0]["id"], a["id"]);
    assert_eq!(mine["items"][0]["items"][2]["exercise"]["name"], "Shoelace pose");
    ok(
        &app.get(&format!("/v1/exercises/{SHOELACE_POSE}"))
            .bearer(&c.client)
            .send()
            .await,
        200,
    );
    app.get(&format!("/v1/exercises/{}", rehabit::library::content::CLAM))
        .bearer(&c.client)
        .send()
        .await
        .problem(404);
    ok(
        &app.get(&format!("/v1/assignments/{}", a["id"].as_str().expect("id")))
            .bearer(&c.client)
            .send()
            .await,
        200,
    );

    // Clients neither create nor change homework.
    app.post(&format!("/v1/clients/{}/assignments", c.client_id))
        .bearer(&c.client)
        .json(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-11-02"}}))
        .send()
        .await
        .problem(403);
    app.patch(&format!("/v1/assignments/{}", a["id"].as_str().expect("id")))
        .bearer(&c.client)
        .json(json!({"status": "completed"}))
        .send()
        .await
        .problem(403);
    // Staff have no homework of their own.
    app.get("/v1/me/assignments").bearer(&c.admin).send().await.problem(403);
}

#[actix_web::test]
async fn template_edits_never_reach_assigned_homework() {
    let app = TestApp::spawn().await;
    let c = clinic(&app, "Tmpl", "UTC").await;
    let routine = ok(
        &app.post("/v1/routines")
            .bearer(&c.admin)
            .json(json!({"name": "Mine", "items": [{"exercise_id": LEGS_UP_THE_WALL, "sets": 1, "hold_seconds": 120}]}))
            .send()
            .await,
        201,
    );
    let rid = routine["id"].as_str().expect("id");
    let a = assign(
        &app,
        &c,
        json!({"routine_id": rid, "schedule": {"start_date": "2026-11-02"}}),
    )
    .await;
    ok(
        &app.put(&format!("/v1/routines/{rid}"))
            .bearer(&c.admin)
            .json(json!({"name": "Mine v2", "items": [{"exercise_id": SHOELACE_POSE, "sets": 3}]}))
            .send()
            .await,
        200,
    );
    let again = ok(
        &app.get(&format!("/v1/assignments/{}", a["id"].as_str().expect("id")))
            .bearer(&c.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(again["name"], "Mine");
    assert_eq!(again["items"][0]["exercise_id"], LEGS_UP_THE_WALL.to_string());
    assert_eq!(again["items"][0]["hold_seconds"], 120);
    // Deleting the template leaves the homework whole.
    assert_eq!(
        app.delete(&format!("/v1/routines/{rid}"))
            .bearer(&c.admin)
            .send()
            .await
            .status,
        204
    );
    let again = ok(
        &app.get(&format!("/v1/assignments/{}", a["id"].as_str().expect("id")))
            .bearer(&c.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(again["items"].as_array().map(Vec::len), Some(1));
    assert!(again["routine_id"].is_null());
    // An exercise used by homework cannot be deleted (it can be archived).
    let own = ok(
        &app.post("/v1/exercises")
            .bearer(&c.admin)
            .json(json!({"name": "Own", "category": "stretch", "body_regions": ["hip"], "difficulty": 1}))
            .send()
            .await,
        201,
    );
    assign(
        &app,
        &c,
        json!({"name": "With own", "items": [{"exercise_id": own["id"]}], "schedule": {"start_date": "2026-11-02"}}),
    )
    .await;
    app.delete(&format!("/v1/exercises/{}", own["id"].as_str().expect("id")))
        .bearer(&c.admin)
        .send()
        .await
        .problem(409);
}

#[actix_web::test]
async fn explicit_items_replace_the_routines_and_bad_input_is_named() {
    let app = TestApp::spawn().await;
    let c = clinic(&app, "Items", "UTC").await;
    let a = assign(
        &app,
        &c,
        json!({"routine_id": HIP_STRENGTHENING, "schedule": {"start_date": "2026-11-02"},
               "items": [{"exercise_id": SHOELACE_POSE, "side": "left", "hold_seconds": 90, "notes": "left is tighter"}]}),
    )
    .await;
    assert_eq!(a["name"], "Hip strengthening");
    assert_eq!(a["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (a["items"][0]["side"].as_str(), a["items"][0]["hold_seconds"].as_i64()),
        (Some("left"), Some(90))
    );

    let post = |body: Value| {
        app.post(&format!("/v1/clients/{}/assignments", c.client_id))
            .bearer(&c.admin)
            .json(body)
            .send()
    };
    let fields = |res: TestResponse| {
        res.problem(422);
        let mut f = res.error_fields();
        f.sort();
        f
    };
    assert_eq!(
        fields(post(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-11-10", "end_date": "2026-11-01", "times_per_day": 0}})).await),
        ["schedule.end_date", "schedule.times_per_day"]
    );
    assert_eq!(
        fields(post(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-11-10", "days_of_week": ["mon", "funday"]}})).await),
        ["schedule.days_of_week[1]"]
    );
    assert_eq!(
        fields(post(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-11-10", "days_of_week": ["mon", "mon"], "times_per_day": 7}})).await),
        ["schedule.days_of_week", "schedule.times_per_day"]
    );
    // Reminder times: HH:MM only, ascending and distinct, no more than times_per_day.
    assert_eq!(
        fields(post(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-11-10", "times_per_day": 3, "reminder_times": ["8:00", "24:00", "12:5", "07:30 "]}})).await),
        [
            "schedule.reminder_times",
            "schedule.reminder_times[0]",
            "schedule.reminder_times[1]",
            "schedule.reminder_times[2]",
            "schedule.reminder_times[3]"
        ]
    );
    assert_eq!(
        fields(post(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-11-10", "times_per_day": 3, "reminder_times": ["09:00", "09:00", "08:00"]}})).await),
        ["schedule.reminder_times[1]", "schedule.reminder_times[2]"]
    );
    assert_eq!(
        fields(post(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-11-10", "times_per_day": 1, "reminder_times": ["08:00", "20:00"]}})).await),
        ["schedule.reminder_times"]
    );
    let fine = post(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-11-10", "times_per_day": 3, "reminder_times": ["07:30", "19:00"]}})).await;
    assert_eq!(fine.status, 201, "{}", fine.body);
    assert_eq!(fine.body["schedule"]["reminder_times"], json!(["07:30", "19:00"]));
    assert_eq!(
        fields(post(json!({"schedule": {"start_date": "2026-11-10"}})).await),
        ["name", "routine_id"]
    );
    assert_eq!(
        fields(post(json!({"routine_id": uuid::Uuid::now_v7(), "schedule": {"start_date": "2026-11-10"}})).await),
        ["routine_id"]
    );
    assert_eq!(
        fields(post(json!({"name": "X", "items": [{"exercise_id": uuid::Uuid::now_v7()}, {"exercise_id": SHOELACE_POSE, "sets": 99}], "schedule": {"start_date": "2026-11-10"}})).await),
        ["items[1].sets"]
    );
    assert_eq!(
        fields(post(json!({"name": "X", "items": [{"exercise_id": uuid::Uuid::now_v7()}], "schedule": {"start_date": "2026-11-10"}})).await),
        ["items[0].exercise_id"]
    );
    assert_eq!(
        fields(post(json!({"name": "X", "items": [], "schedule": {"start_date": "2026-11-10"}})).await),
        ["items"]
    );
    assert_eq!(
        fields(post(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "11/10/2026"}})).await),
        ["schedule.start_date"]
    );
    // An archived client gets no new homework.
    app.patch(&format!("/v1/clients/{}", c.client_id))
        .bearer(&c.admin)
        .json(json!({"archived": true}))
        .succeeds()
        .await;
    post(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-11-10"}}))
        .await
        .problem(409);
}

#[actix_web::test]
async fn assignments_change_status_schedule_and_items_with_if_match() {
    let app = TestApp::spawn().await;
    let c = clinic(&app, "Edit", "UTC").await;
    let a = assign(
        &app,
        &c,
        json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-11-02"}}),
    )
    .await;
    let path = format!("/v1/assignments/{}", a["id"].as_str().expect("id"));
    let items = a["items"].as_array().expect("items").clone();

    // Adjust the shoelace pose for the tighter side, drop the wide-legs stretch, add one.
    let shoelace_id = items[2]["id"].clone();
    let res = app
        .patch(&path)
        .bearer(&c.admin)
        .header("If-Match", "\"1\"")
        .json(json!({"items": [
            {"id": items[0]["id"], "exercise_id": LEGS_UP_THE_WALL, "hold_seconds": 300},
            {"id": shoelace_id, "exercise_id": SHOELACE_POSE, "side": "left", "hold_seconds": 90},
            {"exercise_id": SHOELACE_POSE, "side": "right", "hold_seconds": 60}
        ]}))
        .send()
        .await;
    let b = ok(&res, 200);
    assert_eq!(res.header("etag"), Some("\"2\""));
    let new_items = b["items"].as_array().expect("items");
    assert_eq!(new_items.len(), 3);
    assert_eq!(
        (new_items[1]["id"].clone(), new_items[1]["hold_seconds"].as_i64()),
        (shoelace_id, Some(90))
    );
    assert_ne!(new_items[2]["id"], items[1]["id"]);
    app.patch(&path)
        .bearer(&c.admin)
        .header("If-Match", "\"1\"")
        .json(json!({"name": "Stale"}))
        .send()
        .await
        .problem(412);
    let res = app
        .patch(&path)
        .bearer(&c.admin)
        .json(json!({"items": [{"id": uuid::Uuid::now_v7(), "exercise_id": LEGS_UP_THE_WALL}]}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "items[0].id");

    let status = |s: &str| app.patch(&path).bearer(&c.admin).json(json!({"status": s})).send();
    let paused = ok(&status("paused").await, 200);
    assert_eq!(paused["pauses"].as_array().map(Vec::len), Some(1));
    assert!(paused["pauses"][0]["resumed_at"].is_null());
    let resumed = ok(&status("active").await, 200);
    assert!(resumed["pauses"][0]["resumed_at"].is_string());
    let done = ok(&status("completed").await, 200);
    assert!(done["ended_at"].is_string());
    status("paused").await.problem(409);
    assert!(
        ok(&status("active").await, 200)["ended_at"].is_null(),
        "completed homework can be reopened"
    );
    ok(&status("cancelled").await, 200);
    status("active").await.problem(409);
    app.patch(&path)
        .bearer(&c.admin)
        .json(json!({"name": "Renamed"}))
        .send()
        .await
        .problem(409);
    app.patch(&path)
        .bearer(&c.admin)
        .json(json!({"status": "finished"}))
        .send()
        .await
        .problem(422);

    let history = ok(
        &app.get(&format!("/v1/clients/{}/assignments?status=cancelled", c.client_id))
            .bearer(&c.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(history["items"].as_array().map(Vec::len), Some(1));
    let events = app.event_types().await;
    let count = |t: &str| events.iter().filter(|e| *e == t).count();
    assert_eq!(
        (
            count("assignment.created"),
            count("assignment.updated"),
            count("assignment.status_changed")
        ),
        (1, 1, 5)
    );
}

#[actix_web::test]
async fn other_clinics_and_other_clients_see_nothing() {
    let app = TestApp::spawn().await;
    let a_clinic = clinic(&app, "Aaa", "UTC").await;
    let b_clinic = clinic(&app, "Bbb", "UTC").await;
    let a = assign(
        &app,
        &a_clinic,
        json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-11-02"}}),
    )
    .await;
    let path = format!("/v1/assignments/{}", a["id"].as_str().expect("id"));
    app.get(&path).bearer(&b_clinic.admin).send().await.problem(404);
    app.patch(&path)
        .bearer(&b_clinic.admin)
        .json(json!({"status": "paused"}))
        .send()
        .await
        .problem(404);
    app.get(&path).bearer(&b_clinic.client).send().await.problem(404);
    app.get(&format!("/v1/clients/{}/assignments", a_clinic.client_id))
        .bearer(&b_clinic.admin)
        .send()
        .await
        .problem(404);
    app.get(&format!("/v1/clients/{}/agenda", a_clinic.client_id))
        .bearer(&b_clinic.admin)
        .send()
        .await
        .problem(404);
    app.post(&format!("/v1/clients/{}/assignments", a_clinic.client_id))
        .bearer(&b_clinic.admin)
        .json(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-11-02"}}))
        .send()
        .await
        .problem(404);

    // A second client of clinic A sees none of the first one's homework.
    let (_, other_token) = app
        .client_with_login(
            &a_clinic.admin,
            json!({"name": "Other", "email": "other@aaa.example", "timezone": "UTC"}),
        )
        .await;
    app.get(&path).bearer(&other_token).send().await.problem(404);
    app.get(&format!("/v1/clients/{}/agenda", a_clinic.client_id))
        .bearer(&other_token)
        .send()
        .await
        .problem(404);
    app.get(&format!("/v1/clients/{}/assignments", a_clinic.client_id))
        .bearer(&other_token)
        .send()
        .await
        .problem(404);
    let own = ok(&app.get("/v1/me/assignments").bearer(&other_token).send().await, 200);
    assert_eq!(own["items"], json!([]));
}

fn occurrences(agenda: &Value) -> Vec<(String, u64, String)> {
    agenda["days"]
        .as_array()
        .expect("days")
        .iter()
        .flat_map(|d| d["occurrences"].as_array().expect("occ").clone())
        .map(|o| {
            (
                o["date"].as_str().expect("date").to_string(),
                o["slot"].as_u64().expect("slot"),
                o["status"].as_str().expect("s").to_string(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn the_agenda_follows_the_schedule_in_the_clients_calendar() {
    let app = TestApp::spawn().await;
    let tz = "America/New_York";
    let c = clinic(&app, "Agenda", tz).await;
    let today = today_in(tz);
    let start = today - Duration::days(14);
    assign(
        &app,
        &c,
        json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": start, "end_date": today + Duration::days(14), "days_of_week": ["mon", "wed", "fri"], "times_per_day": 2}}),
    )
    .await;
    let from = today - Duration::days(20);
    let to = today + Duration::days(20);
    let agenda = ok(
        &app.get(&format!("/v1/clients/{}/agenda?from={from}&to={to}", c.client_id))
            .bearer(&c.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(agenda["timezone"], tz);
    assert_eq!(
        agenda["days"].as_array().map(Vec::len),
        Some(41),
        "every date of the range is listed"
    );
    let occ = occurrences(&agenda);
    let mut expected = Vec::new();
    let mut day = start;
    while day <= today + Duration::days(14) {
        if matches!(
            day.weekday(),
            chrono::Weekday::Mon | chrono::Weekday::Wed | chrono::Weekday::Fri
        ) {
            let status = if day < today {
                "missed"
            } else if day == today {
                "due"
            } else {
                "upcoming"
            };
            for slot in 1..=2 {
                expected.push((day.to_string(), slot, status.to_string()));
            }
        }
        day += Duration::days(1);
    }
    assert_eq!(occ, expected);

    // The client's own agenda is the same; the default is this week, Monday to Sunday.
    let mine = ok(
        &app.get(&format!("/v1/me/agenda?from={from}&to={to}"))
            .bearer(&c.client)
            .send()
            .await,
        200,
    );
    assert_eq!(occurrences(&mine), expected);
    let week = ok(&app.get("/v1/me/agenda").bearer(&c.client).send().await, 200);
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    assert_eq!(
        (week["from"].as_str(), week["to"].as_str()),
        (
            Some(monday.to_string().as_str()),
            Some((monday + Duration::days(6)).to_string().as_str())
        )
    );

    let bad = |q: String| {
        app.get(&format!("/v1/clients/{}/agenda?{q}", c.client_id))
            .bearer(&c.admin)
            .send()
    };
    // A backwards or too long range was read and breaks a rule: 422 naming `to`.
    assert_eq!(
        bad(format!("from={to}&to={from}")).await.problem(422)["errors"][0]["field"],
        "to"
    );
    bad(format!("from={from}&to={}", from + Duration::days(92)))
        .await
        .problem(422);
    assert_eq!(
        bad(format!("from={from}&to={}", from + Duration::days(91)))
            .await
            .status,
        200
    );
    bad("from=yesterday".into()).await.problem(400);
}

#[actix_web::test]
async fn paused_days_have_no_homework_and_dst_changes_nothing() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let c = clinic(&app, "Pause", "Europe/London").await;
    let a = assign(
        &app,
        &c,
        json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-10-20"}}),
    )
    .await;
    // Paused on the evening of 2026-10-24 (BST), resumed on the morning of 2026-10-27 (GMT),
    // across the change back from summer time on 2026-10-25.
    diesel::sql_query(
        "INSERT INTO assignment_pauses (id, clinic_id, assignment_id, paused_at, resumed_at) \
         SELECT gen_random_uuid(), clinic_id, id, '2026-10-24T20:00:00Z', '2026-10-27T08:00:00Z' FROM assignments",
    )
    .execute(&mut app.db().await)
    .await
    .expect("pause history");
    let agenda = ok(
        &app.get(&format!(
            "/v1/clients/{}/agenda?from=2026-10-22&to=2026-10-28",
            c.client_id
        ))
        .bearer(&c.admin)
        .send()
        .await,
        200,
    );
    let dates: Vec<String> = occurrences(&agenda).into_iter().map(|(d, _, _)| d).collect();
    assert_eq!(dates, ["2026-10-22", "2026-10-23", "2026-10-27", "2026-10-28"]);
    assert!(a["id"].is_string());

    // New York's change (2026-11-01) is a day like any other in the agenda.
    let ny = clinic(&app, "Ny", "America/New_York").await;
    assign(
        &app,
        &ny,
        json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": "2026-10-01", "end_date": "2026-11-30"}}),
    )
    .await;
    let agenda = ok(
        &app.get(&format!(
            "/v1/clients/{}/agenda?from=2026-10-29&to=2026-11-04",
            ny.client_id
        ))
        .bearer(&ny.admin)
        .send()
        .await,
        200,
    );
    assert_eq!(occurrences(&agenda).len(), 7);
}
