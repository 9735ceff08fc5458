//! `rehabit demo`: the generated clinic, seen through the API the way its people see it.

use crate::helpers::{TestApp, TestResponse};
use chrono::{Duration, NaiveDate, Utc};
use rehabit::demo::{Options, run};
use rehabit::library::content::{HIP_MOBILITY, HIP_STRENGTHENING};
use serde_json::{Value, json};
use std::collections::HashSet;

fn ok(res: &TestResponse) -> Value {
    assert_eq!(res.status, 200, "{}", res.body);
    res.body.clone()
}

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("a page of items")
}

async fn token(app: &TestApp, email: &str, password: &str) -> String {
    let res = app.login(email, password).await;
    ok(&res)["access_token"].as_str().expect("token").to_string()
}

/// (done, missed) occurrences of an agenda.
fn statuses(agenda: &Value) -> (usize, usize) {
    let all: Vec<&str> = agenda["days"]
        .as_array()
        .expect("days")
        .iter()
        .flat_map(|d| d["occurrences"].as_array().expect("occurrences"))
        .map(|o| o["status"].as_str().expect("status"))
        .collect();
    (
        all.iter().filter(|s| **s == "done").count(),
        all.iter().filter(|s| **s == "missed").count(),
    )
}

#[actix_web::test]
async fn the_demo_clinic_is_visible_and_consistent_through_the_api() {
    let app = TestApp::spawn().await;
    // A clinic that was there before: the demo leaves it alone.
    let bystander = app.admin_token("Bystander", "admin@bystander.example").await;
    let mut conn = app.db().await;
    let report = run(&mut conn, &Options::default())
        .await
        .expect("the demo fills a clinic");
    assert_eq!(report.client_ids.len(), 3);
    assert_eq!(report.client_logins.len(), 3);
    assert_eq!(report.flagged, 1);
    assert_eq!(report.counts.session_logs as u64, report.done);

    // Staff sign in with the printed logins.
    let admin = token(&app, &report.admin.email, &report.admin.password).await;
    let me = ok(&app.get("/v1/me").bearer(&admin).send().await);
    assert_eq!(
        (me["role"].as_str(), me["clinic"]["id"].as_str()),
        (Some("admin"), Some(report.clinic_id.to_string().as_str()))
    );
    let practitioner = token(&app, &report.practitioner.email, &report.practitioner.password).await;
    assert_eq!(
        ok(&app.get("/v1/me").bearer(&practitioner).send().await)["role"],
        "practitioner"
    );

    let clients = ok(&app.get("/v1/clients").bearer(&admin).send().await);
    assert_eq!(items(&clients).len(), 3);
    let zones: HashSet<&str> = items(&clients)
        .iter()
        .map(|c| c["timezone"].as_str().expect("tz"))
        .collect();
    assert_eq!(zones.len(), 3, "three clients in three timezones");
    assert!(items(&clients).iter().all(|c| c["has_login"] == true));
    assert!(items(&clients).iter().all(|c| c["latest_score"]["code"] == "psfs"));

    // PSFS every two weeks, improving; an RTM episode per client with a login whose periods and
    // months reach, and miss, each code.
    let (mut period_codes, mut month_codes) = (HashSet::new(), HashSet::new());
    let (mut bare_period, mut bare_month) = (false, false);
    for id in &report.client_ids {
        let outcomes = ok(&app
            .get(&format!("/v1/clients/{id}/outcomes"))
            .bearer(&admin)
            .send()
            .await);
        let psfs = &items(&outcomes)[0];
        assert_eq!(psfs["code"], "psfs");
        let series = psfs["series"].as_array().expect("series");
        assert_eq!(series.len(), 3, "every two weeks over six: {psfs}");
        assert!(psfs["change"].as_f64().expect("change") > 0.0, "improving: {psfs}");
        let ledger = ok(&app
            .get(&format!("/v1/clients/{id}/monitoring"))
            .bearer(&admin)
            .send()
            .await);
        let episode = &ledger["episodes"][0];
        assert_eq!(episode["setup_code"]["code"], "98975");
        for p in episode["periods"].as_array().expect("periods") {
            let codes = p["codes"].as_array().expect("codes");
            bare_period |= codes.is_empty();
            period_codes.extend(codes.iter().map(|c| c["code"].as_str().expect("code").to_string()));
        }
        for m in episode["months"].as_array().expect("months") {
            let codes = m["codes"].as_array().expect("codes");
            bare_month |= codes.is_empty();
            month_codes.extend(codes.iter().map(|c| c["code"].as_str().expect("code").to_string()));
        }
    }
    for code in ["98975", "98977", "98985"] {
        assert!(period_codes.contains(code), "{code} in {period_codes:?}");
    }
    for code in ["98979", "98980", "98981"] {
        assert!(month_codes.contains(code), "{code} in {month_codes:?}");
    }
    assert!(bare_period && bare_month, "some periods and months reach no code");

    let today = Utc::now().date_naive();
    let (from, to) = (today - Duration::days(27), today);
    for id in &report.client_ids {
        let homework = ok(&app
            .get(&format!("/v1/clients/{id}/assignments"))
            .bearer(&admin)
            .send()
            .await);
        let routines: HashSet<String> = items(&homework)
            .iter()
            .map(|a| a["routine_id"].as_str().expect("from a routine").to_string())
            .collect();
        assert_eq!(
            routines,
            HashSet::from([HIP_MOBILITY.to_string(), HIP_STRENGTHENING.to_string()])
        );
        for a in items(&homework) {
            assert!(
                !a["items"].as_array().expect("items").is_empty(),
                "items copied from the routine"
            );
            let start: NaiveDate = a["schedule"]["start_date"]
                .as_str()
                .expect("date")
                .parse()
                .expect("a date");
            assert!(
                (today - start).num_days().abs_diff(42) <= 1,
                "six weeks ago in the client's calendar"
            );
        }

        let logs = ok(&app
            .get(&format!("/v1/clients/{id}/sessions?limit=200"))
            .bearer(&practitioner)
            .send()
            .await);
        assert!(items(&logs).len() > 20, "weeks of logs");
        for log in items(&logs) {
            assert_eq!(log["client_id"], id.to_string());
            assert!(!log["entries"].as_array().expect("entries").is_empty());
        }
        assert!(
            items(&logs)
                .iter()
                .flat_map(|l| l["measurements"].as_array().expect("measurements"))
                .any(|m| m["kind"] == "hip_internal_rotation_deg" && m["side"] == "left"),
            "the tighter hip is measured"
        );

        let agenda = ok(&app
            .get(&format!("/v1/clients/{id}/agenda?from={from}&to={to}"))
            .bearer(&admin)
            .send()
            .await);
        let (done, missed) = statuses(&agenda);
        assert!(done > missed && missed > 0, "{id}: {done} done, {missed} missed");
    }

    // Exactly one open flag, on one of the demo clients.
    let flags = ok(&app
        .get("/v1/sessions?flagged=true&reviewed=false")
        .bearer(&admin)
        .send()
        .await);
    assert_eq!(items(&flags).len(), 1, "{flags}");
    let flag = &items(&flags)[0];
    assert!(report.client_ids.iter().any(|id| flag["client_id"] == id.to_string()));
    let (before, after) = (
        flag["pain_before"].as_i64().expect("pain"),
        flag["pain_after"].as_i64().expect("pain"),
    );
    assert!(after >= 7 || after >= before + 3);

    // A demo client signs in and sees their own data.
    let sam = &report.client_logins[0];
    let client = token(&app, &sam.email, &sam.password).await;
    assert_eq!(
        ok(&app.get("/v1/me").bearer(&client).send().await)["client_id"],
        sam.client_id.to_string()
    );
    let mine = ok(&app.get("/v1/me/sessions?limit=200").bearer(&client).send().await);
    assert!(!items(&mine).is_empty());
    assert!(items(&mine).iter().all(|l| l["client_id"] == sam.client_id.to_string()));
    let agenda = ok(&app
        .get(&format!("/v1/me/agenda?from={from}&to={to}"))
        .bearer(&client)
        .send()
        .await);
    assert!(statuses(&agenda).0 > 0);
    let other = report
        .client_ids
        .iter()
        .find(|id| **id != sam.client_id)
        .expect("another client");
    assert_eq!(
        app.get(&format!("/v1/clients/{other}/sessions"))
            .bearer(&client)
            .send()
            .await
            .status,
        404
    );

    // Replaying a demo log under its id is a retry (the stored hash is the handler's), not a new
    // log; the same id with other content is refused.
    let log = &items(&mine)[0];
    let mut replay = json!({
        "id": log["id"], "performed_at": log["performed_at"], "duration_seconds": log["duration_seconds"],
        "pain_before": log["pain_before"], "pain_after": log["pain_after"], "effort": log["effort"],
        "notes": log["notes"], "entries": log["entries"], "measurements": log["measurements"],
    });
    let path = format!(
        "/v1/assignments/{}/sessions",
        log["assignment_id"].as_str().expect("id")
    );
    let res = app.post(&path).bearer(&client).json(replay.clone()).send().await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!((&res.body["id"], &res.body["version"]), (&log["id"], &json!(1)));
    replay["effort"] = json!(10);
    assert_eq!(app.post(&path).bearer(&client).json(replay).send().await.status, 409);

    // The clinic that was there before has no new clients; a second run makes another clinic.
    assert!(items(&ok(&app.get("/v1/clients").bearer(&bystander).send().await)).is_empty());
    let again = run(
        &mut conn,
        &Options {
            clients: 5,
            weeks: 2,
            seed: 1,
            json: false,
        },
    )
    .await
    .expect("a second demo clinic");
    assert_ne!(again.clinic_id, report.clinic_id);
    assert_ne!(again.admin.email, report.admin.email);
    assert_eq!((again.client_ids.len(), again.client_logins.len()), (5, 3));
    assert_eq!(items(&ok(&app.get("/v1/clients").bearer(&admin).send().await)).len(), 3);
}
