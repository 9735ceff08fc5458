//! Progress reports and the client list's summary, through HTTP.

use crate::helpers::{TestApp, TestResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use rehabit::library::content::HIP_MOBILITY;
use serde_json::{Value, json};

const TZ: &str = "Asia/Tokyo";

fn ok(res: &TestResponse, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.body);
    res.body.clone()
}

fn tz() -> Tz {
    TZ.parse().expect("tz")
}

fn today() -> NaiveDate {
    Utc::now().with_timezone(&tz()).date_naive()
}

/// Noon of `date` in the client's calendar (for today: now, which is never in the future).
fn noon(date: NaiveDate) -> DateTime<Utc> {
    if date >= today() {
        return Utc::now();
    }
    date.and_hms_opt(12, 0, 0)
        .expect("noon")
        .and_local_timezone(tz())
        .single()
        .expect("instant")
        .with_timezone(&Utc)
}

struct Clinic {
    admin: String,
    client: String,
    client_id: String,
}

async fn clinic(app: &TestApp, name: &str) -> Clinic {
    let admin = app.admin_token(name, &format!("admin@{name}.example")).await;
    let (client_id, client) = app
        .client_with_login(
            &admin,
            json!({"name": "Kai", "email": format!("kai@{name}.example"), "timezone": TZ}),
        )
        .await;
    Clinic {
        admin,
        client,
        client_id,
    }
}

async fn assign(app: &TestApp, c: &Clinic, start: NaiveDate) -> Value {
    ok(
        &app.post(&format!("/v1/clients/{}/assignments", c.client_id))
            .bearer(&c.admin)
            .json(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": start, "times_per_day": 1}}))
            .send()
            .await,
        201,
    )
}

/// Logs one session on `date` as the client; returns its id.
async fn log(
    app: &TestApp,
    c: &Clinic,
    assignment: &Value,
    date: NaiveDate,
    pain: (i64, i64),
    hips: (f64, f64),
) -> String {
    let body = json!({
        "performed_at": noon(date), "pain_before": pain.0, "pain_after": pain.1,
        "measurements": [
            {"kind": "hip_internal_rotation_deg", "side": "left", "value": hips.0},
            {"kind": "hip_internal_rotation_deg", "side": "right", "value": hips.1},
            {"kind": "timed_up_and_go_seconds", "side": "none", "value": 9.5}
        ]
    });
    let path = format!("/v1/assignments/{}/sessions", assignment["id"].as_str().expect("id"));
    let logged = ok(&app.post(&path).bearer(&c.client).json(body).send().await, 201);
    logged["id"].as_str().expect("id").to_string()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number, not {v}"))
}

#[actix_web::test]
async fn progress_reports_adherence_pain_asymmetry_and_windows() {
    let app = TestApp::spawn().await;
    let c = clinic(&app, "progress").await;
    let today = today();
    let start = today - Duration::days(9);
    let a = assign(&app, &c, start).await;
    // Ten days due, every day: three done, one missed, five done, today still due. Pain eases
    // and the left hip (the tighter one) gains on the right.
    let mut last = String::new();
    for back in [9, 8, 7] {
        log(&app, &c, &a, today - Duration::days(back), (6, 5), (20.0, 35.0)).await;
    }
    for back in [5, 4, 3, 2, 1] {
        last = log(
            &app,
            &c,
            &a,
            today - Duration::days(back),
            (3, 2),
            (24.0 + 5.0 - back as f64, 34.0),
        )
        .await;
    }
    let path = format!("/v1/clients/{}/progress", c.client_id);
    let p = ok(&app.get(&path).bearer(&c.admin).send().await, 200);
    assert_eq!(p["timezone"], TZ);
    assert_eq!(p["to"], today.to_string(), "by default up to today");
    assert_eq!(p["from"], (today - Duration::days(27)).to_string(), "and 28 days long");
    let adh = &p["adherence"];
    assert_eq!(
        (adh["scheduled"].as_u64(), adh["done"].as_u64()),
        (Some(9), Some(8)),
        "{adh}"
    );
    assert_eq!(
        (adh["current_streak"].as_u64(), adh["longest_streak"].as_u64()),
        (Some(5), Some(5))
    );
    assert!((f(&adh["ratio"]) - 8.0 / 9.0).abs() < 1e-9);
    // Pain: every log counted once in the weeks, and it went down.
    let weeks = p["pain"]["weekly"].as_array().expect("weeks");
    assert_eq!(
        weeks.iter().map(|w| w["sessions"].as_u64().unwrap_or(0)).sum::<u64>(),
        8
    );
    if weeks.len() >= 2 {
        assert!(f(&p["pain"]["change_before"]) < 0.0, "{}", p["pain"]);
    }
    // Measurements in the vocabulary's order, with the gap between the hips closing.
    let m = p["measurements"].as_array().expect("measurements");
    assert_eq!(m.len(), 2);
    let hip = &m[0];
    assert_eq!(
        (hip["kind"].as_str(), hip["unit"].as_str()),
        (Some("hip_internal_rotation_deg"), Some("deg"))
    );
    assert_eq!(hip["series"]["left"].as_array().map(Vec::len), Some(8));
    assert_eq!(hip["latest"], json!({"left": 28.0, "right": 34.0, "none": null}));
    assert!((f(&hip["asymmetry"]["difference"]) - 6.0).abs() < 1e-9);
    assert!((f(&hip["asymmetry"]["percent"]) - 600.0 / 34.0).abs() < 1e-9);
    assert!(
        (f(&hip["asymmetry"]["change"]) - (6.0 - 15.0)).abs() < 1e-9,
        "the gap closed by 9"
    );
    assert_eq!(m[1]["kind"], "timed_up_and_go_seconds");
    assert_eq!(
        (m[1]["asymmetry"].is_null(), m[1]["latest"]["none"].as_f64()),
        (true, Some(9.5))
    );
    // The assignment's own part and its monitoring window.
    let mine = &p["assignments"][0];
    assert_eq!(mine["assignment_id"], a["id"]);
    assert_eq!(mine["adherence"]["done"], 8);
    let windows = mine["monitoring_windows"].as_array().expect("windows");
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0]["start"], start.to_string());
    assert_eq!(windows[0]["end"], (start + Duration::days(29)).to_string());
    assert_eq!(
        (
            windows[0]["days_with_data"].as_u64(),
            windows[0]["reaches_threshold"].as_bool()
        ),
        (Some(8), Some(false))
    );

    // Today's log extends the streak; a deleted log stops counting.
    log(&app, &c, &a, today, (2, 1), (29.0, 34.0)).await;
    ok(
        &app.delete(&format!("/v1/sessions/{last}"))
            .bearer(&c.client)
            .send()
            .await,
        204,
    );
    let p = ok(&app.get(&path).bearer(&c.admin).send().await, 200);
    let adh = &p["adherence"];
    assert_eq!(
        (adh["scheduled"].as_u64(), adh["done"].as_u64()),
        (Some(10), Some(8)),
        "{adh}"
    );
    assert_eq!(
        (adh["current_streak"].as_u64(), adh["longest_streak"].as_u64()),
        (Some(1), Some(4))
    );
    assert_eq!(p["assignments"][0]["monitoring_windows"][0]["days_with_data"], 8);

    // The client reads the same report as /v1/me/progress.
    let me = ok(&app.get("/v1/me/progress").bearer(&c.client).send().await, 200);
    assert_eq!(me, p);
    // A range: only the first three days.
    let first = ok(
        &app.get(&format!("{path}?from={start}&to={}", start + Duration::days(2)))
            .bearer(&c.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(first["adherence"]["done"], 3);
    assert_eq!(
        first["measurements"][0]["asymmetry"]["change"], 0.0,
        "the same gap on each of the three days"
    );
    assert_eq!(
        first["assignments"][0]["monitoring_windows"][0]["days_with_data"], 8,
        "a window counts all its days, not only the range's"
    );
}

#[actix_web::test]
async fn monitoring_windows_reach_the_threshold_at_16_days() {
    let app = TestApp::spawn().await;
    let c = clinic(&app, "windows").await;
    let today = today();
    let start = today - Duration::days(40);
    let a = assign(&app, &c, start).await;
    for back in 0..16 {
        log(
            &app,
            &c,
            &a,
            start + Duration::days(back * 2 - back / 8),
            (3, 3),
            (30.0, 30.0),
        )
        .await;
    }
    let p = ok(
        &app.get(&format!("/v1/me/progress?from={start}&to={today}"))
            .bearer(&c.client)
            .send()
            .await,
        200,
    );
    let windows = p["assignments"][0]["monitoring_windows"].as_array().expect("windows");
    assert_eq!(windows.len(), 2, "{windows:?}");
    assert_eq!(
        (
            windows[0]["days_with_data"].as_u64(),
            windows[0]["reaches_threshold"].as_bool()
        ),
        (Some(16), Some(true))
    );
    assert_eq!(windows[1]["start"], (start + Duration::days(30)).to_string());
    assert_eq!(windows[1]["reaches_threshold"], false);
    // The same day logged twice is one day with data.
    log(&app, &c, &a, start, (3, 3), (30.0, 30.0)).await;
    let again = ok(
        &app.get(&format!("/v1/me/progress?from={start}&to={today}"))
            .bearer(&c.client)
            .send()
            .await,
        200,
    );
    assert_eq!(again["assignments"][0]["monitoring_windows"][0]["days_with_data"], 16);
    // A symmetric pair: no gap, 0 %.
    assert_eq!(again["measurements"][0]["asymmetry"]["difference"], 0.0);
}

#[actix_web::test]
async fn progress_is_private_and_checks_its_range() {
    let app = TestApp::spawn().await;
    let c = clinic(&app, "private").await;
    let other = clinic(&app, "elsewhere").await;
    let path = format!("/v1/clients/{}/progress", c.client_id);
    // Another clinic, and another client: 404; the client itself: its own report.
    app.get(&path).bearer(&other.admin).send().await.problem(404);
    app.get(&path).bearer(&other.client).send().await.problem(404);
    ok(&app.get(&path).bearer(&c.client).send().await, 200);
    // Staff have no /v1/me/progress; no token is 401.
    app.get("/v1/me/progress").bearer(&c.admin).send().await.problem(403);
    app.get(&path).send().await.problem(401);
    // Nothing scheduled: ratios are null, lists empty.
    let empty = ok(&app.get(&path).bearer(&c.admin).send().await, 200);
    assert_eq!(empty["adherence"]["ratio"], Value::Null);
    assert_eq!(empty["assignments"], json!([]));
    assert_eq!(empty["measurements"], json!([]));
    // Ranges.
    for (bad, status) in [
        ("?from=2026-11-10&to=2026-11-01", 422),
        ("?from=2024-01-01&to=2026-01-01", 422),
        ("?from=not-a-date", 400),
        ("?from=2026-02-30", 400),
        ("?from=2999-01-01", 422),
    ] {
        let res = app.get(&format!("{path}{bad}")).bearer(&c.admin).send().await;
        let field = if bad.contains("not-a-date") || bad.contains("02-30") {
            "from"
        } else {
            "to"
        };
        assert_eq!(res.problem(status)["errors"][0]["field"], field, "{bad}");
    }
}

#[actix_web::test]
async fn the_client_list_shows_last_session_adherence_and_open_flags() {
    let app = TestApp::spawn().await;
    let c = clinic(&app, "summary").await;
    let item = |page: &Value| -> Value {
        page["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["id"] == c.client_id.as_str()))
            .cloned()
            .expect("the client is listed")
    };
    let list = ok(&app.get("/v1/clients").bearer(&c.admin).send().await, 200);
    let fresh = item(&list);
    assert_eq!(
        (&fresh["last_session_at"], &fresh["adherence_14d"], &fresh["open_flags"]),
        (&Value::Null, &Value::Null, &json!(0))
    );
    assert_eq!(fresh["name"], "Kai", "the client's own fields are still there");

    let today = today();
    let a = assign(&app, &c, today - Duration::days(20)).await;
    for back in [13, 12, 11, 10, 9, 8, 7] {
        log(&app, &c, &a, today - Duration::days(back), (3, 2), (30.0, 32.0)).await;
    }
    // A flagged log (pain after 8) yesterday.
    let flagged = log(&app, &c, &a, today - Duration::days(1), (3, 8), (30.0, 32.0)).await;
    let listed = item(&ok(&app.get("/v1/clients").bearer(&c.admin).send().await, 200));
    // 13 past days due in the window, 8 done; today still due.
    assert!((f(&listed["adherence_14d"]) - 8.0 / 13.0).abs() < 1e-9, "{listed}");
    assert_eq!(listed["open_flags"], 1);
    let last: DateTime<Utc> = serde_json::from_value(listed["last_session_at"].clone()).expect("an instant");
    assert_eq!(last, noon(today - Duration::days(1)));
    // Reviewing closes the flag; the count follows.
    ok(
        &app.post(&format!("/v1/sessions/{flagged}/review"))
            .bearer(&c.admin)
            .json(json!({"note": "called, fine"}))
            .send()
            .await,
        200,
    );
    let listed = item(&ok(&app.get("/v1/clients").bearer(&c.admin).send().await, 200));
    assert_eq!(listed["open_flags"], 0);
    // Another clinic's list never shows this client.
    let other = clinic(&app, "summary-other").await;
    let theirs = ok(&app.get("/v1/clients").bearer(&other.admin).send().await, 200);
    assert!(theirs["items"].as_array().is_some_and(|i| i.len() == 1));
}
