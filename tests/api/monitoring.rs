//! The remote-monitoring ledger through the API: data days from client-entered data only, on
//! the client's local dates; management minutes per month; the clinic-wide list; who may see it.

use crate::helpers::{TestApp, TestResponse};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rehabit::library::content::HIP_MOBILITY;
use rehabit::outcomes::builtin::{PSFS, psfs_item};
use serde_json::{Value, json};

fn ok(res: &TestResponse, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.body);
    res.body.clone()
}

const TZ: &str = "America/New_York";

/// `date` at `h:m` in the client's timezone, as RFC 3339 in UTC.
fn local(date: NaiveDate, h: u32, m: u32) -> String {
    let tz: Tz = TZ.parse().expect("tz");
    tz.from_local_datetime(&date.and_hms_opt(h, m, 0).expect("time"))
        .earliest()
        .expect("instant")
        .with_timezone(&Utc)
        .to_rfc3339()
}

fn codes(v: &Value) -> Vec<(String, i64)> {
    v.as_array()
        .expect("codes")
        .iter()
        .map(|c| {
            (
                c["code"].as_str().expect("code").to_string(),
                c["units"].as_i64().expect("units"),
            )
        })
        .collect()
}

#[actix_web::test]
async fn the_ledger_counts_client_data_on_local_dates_and_minutes_per_month() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Ledger", "admin@ledger.example").await;
    let (client_id, client) = app
        .client_with_login(
            &admin,
            json!({"name": "Sam", "email": "sam@ledger.example", "timezone": TZ, "external_id": "bk-7"}),
        )
        .await;
    let tz: Tz = TZ.parse().expect("tz");
    let today = Utc::now().with_timezone(&tz).date_naive();
    let start = today - Duration::days(40);
    let assignment = ok(
        &app.post(&format!("/v1/clients/{client_id}/assignments"))
            .bearer(&admin)
            .json(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": start}}))
            .send()
            .await,
        201,
    );
    let sessions = format!("/v1/assignments/{}/sessions", assignment["id"].as_str().expect("id"));
    let episode = ok(
        &app.post(&format!("/v1/clients/{client_id}/monitoring-episodes"))
            .bearer(&admin)
            .json(json!({"start_date": start}))
            .send()
            .await,
        201,
    );
    app.post(&format!("/v1/clients/{client_id}/monitoring-episodes"))
        .bearer(&admin)
        .json(json!({"start_date": today - Duration::days(3)}))
        .send()
        .await
        .problem(409);
    let ledger_path = format!("/v1/clients/{client_id}/monitoring");

    // Noon and 23:30 on the same local day (the second is the next day in UTC): one data day.
    for at in [
        local(start + Duration::days(1), 12, 0),
        local(start + Duration::days(1), 23, 30),
    ] {
        ok(
            &app.post(&sessions)
                .bearer(&client)
                .json(json!({"performed_at": at}))
                .send()
                .await,
            201,
        );
    }
    let l = ok(&app.get(&ledger_path).bearer(&admin).send().await, 200);
    let p = &l["episodes"][0]["periods"][0];
    assert_eq!(p["start"], json!(start));
    assert_eq!(p["end"], json!(start + Duration::days(29)));
    assert_eq!(p["data_days"], json!(1), "{l}");
    assert_eq!(codes(&p["codes"]), []);
    assert_eq!(l["episodes"][0]["setup_code"], Value::Null);

    // Staff-entered data never counts; the client's own questionnaire response does.
    ok(
        &app.post(&sessions)
            .bearer(&admin)
            .json(json!({"performed_at": local(start + Duration::days(4), 12, 0)}))
            .send()
            .await,
        201,
    );
    let qa = ok(
        &app.post(&format!("/v1/clients/{client_id}/questionnaire-assignments"))
            .bearer(&admin)
            .json(json!({"questionnaire_id": PSFS, "schedule": {"start_date": start, "every": 2, "unit": "weeks"}}))
            .send()
            .await,
        201,
    );
    let responses = format!(
        "/v1/questionnaire-assignments/{}/responses",
        qa["id"].as_str().expect("id")
    );
    let answer = |at: String| json!({"answered_at": at, "answers": [{"item_id": psfs_item(1, true), "value": 4}]});
    ok(
        &app.post(&responses)
            .bearer(&admin)
            .json(answer(local(start + Duration::days(5), 9, 0)))
            .send()
            .await,
        201,
    );
    let l = ok(&app.get(&ledger_path).bearer(&admin).send().await, 200);
    assert_eq!(l["episodes"][0]["periods"][0]["data_days"], json!(1), "staff data: {l}");
    ok(
        &app.post(&responses)
            .bearer(&client)
            .json(answer(local(start + Duration::days(3), 9, 0)))
            .send()
            .await,
        201,
    );
    let l = ok(&app.get(&ledger_path).bearer(&admin).send().await, 200);
    let p = &l["episodes"][0]["periods"][0];
    assert_eq!(p["data_days"], json!(2));
    assert_eq!(codes(&p["codes"]), [("98975".into(), 1), ("98985".into(), 1)]);
    assert_eq!(p["frozen"], json!(false));
    assert_eq!(
        l["episodes"][0]["setup_code"],
        json!({"code": "98975", "period_start": start})
    );
    assert_eq!(
        l["episodes"][0]["periods"][1]["start"],
        json!(start + Duration::days(30))
    );

    // 25 interactive minutes and 20 by message in one month: 98980 and one 98981.
    let day = today - Duration::days(1);
    let call = ok(
        &app.post(&format!("/v1/clients/{client_id}/interactions"))
            .bearer(&admin)
            .json(json!({"kind": "call", "minutes": 25, "interactive": true, "occurred_at": local(day, 10, 0)}))
            .send()
            .await,
        201,
    );
    let message = ok(
        &app.post(&format!("/v1/clients/{client_id}/interactions"))
            .bearer(&admin)
            .json(json!({"kind": "message", "minutes": 20, "interactive": false, "occurred_at": local(day, 11, 0)}))
            .send()
            .await,
        201,
    );
    app.post(&format!("/v1/clients/{client_id}/interactions"))
        .bearer(&admin)
        .json(json!({"kind": "call", "minutes": 0, "interactive": true, "occurred_at": local(day, 11, 0)}))
        .send()
        .await
        .problem(422);
    let month = day.format("%Y-%m").to_string();
    let month_of = |l: &Value| {
        l["episodes"][0]["months"]
            .as_array()
            .expect("months")
            .iter()
            .find(|m| m["month"] == month.as_str())
            .cloned()
            .expect("the month")
    };
    let m = month_of(&ok(&app.get(&ledger_path).bearer(&admin).send().await, 200));
    assert_eq!(
        (m["minutes"].clone(), m["interactive_contact"].clone()),
        (json!(45), json!(true))
    );
    assert_eq!(codes(&m["codes"]), [("98980".into(), 1), ("98981".into(), 1)]);
    // Correcting and deleting change the count; without the call the month has no code.
    ok(
        &app.patch(&format!("/v1/interactions/{}", message["id"].as_str().expect("id")))
            .bearer(&admin)
            .json(json!({"minutes": 14}))
            .send()
            .await,
        200,
    );
    let m = month_of(&ok(&app.get(&ledger_path).bearer(&admin).send().await, 200));
    assert_eq!(codes(&m["codes"]), [("98980".into(), 1)]);
    let res = app
        .delete(&format!("/v1/interactions/{}", call["id"].as_str().expect("id")))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(res.status, 204, "{}", res.body);
    let m = month_of(&ok(&app.get(&ledger_path).bearer(&admin).send().await, 200));
    assert_eq!(
        (m["minutes"].clone(), m["interactive_contact"].clone()),
        (json!(14), json!(false))
    );
    assert_eq!(codes(&m["codes"]), []);

    let trail = app.audit_events().await;
    for action in [
        "get_client_monitoring",
        "create_interaction",
        "delete_interaction",
        "create_monitoring_episode",
    ] {
        let e = trail.iter().rev().find(|e| e["action"] == action).expect(action);
        assert_eq!(e["client_ids"], json!([client_id]), "{action}");
    }

    // The clinic-wide list for billing staff: periods and months ended before a date.
    let list = ok(
        &app.get(&format!("/v1/monitoring?period_ending_before={today}"))
            .bearer(&admin)
            .send()
            .await,
        200,
    );
    let item = &list["items"][0];
    assert_eq!(
        (item["client_id"].clone(), item["external_id"].clone()),
        (json!(client_id), json!("bk-7"))
    );
    assert_eq!(item["id"], episode["id"]);
    assert_eq!(
        item["periods"].as_array().expect("periods").len(),
        1,
        "the current period has not ended"
    );
    assert!(
        item["months"]
            .as_array()
            .expect("months")
            .iter()
            .all(|m| m["month"] != json!(today.format("%Y-%m").to_string()))
    );
    app.get("/v1/monitoring?period_ending_before=2026-02-30")
        .bearer(&admin)
        .send()
        .await
        .problem(400);

    // Ending the episode; an end before the start is refused.
    let path = format!("/v1/monitoring-episodes/{}", episode["id"].as_str().expect("id"));
    app.patch(&path)
        .bearer(&admin)
        .json(json!({"end_date": start - Duration::days(1)}))
        .send()
        .await
        .problem(422);
    let ended = ok(
        &app.patch(&path)
            .bearer(&admin)
            .json(json!({"end_date": start + Duration::days(29)}))
            .send()
            .await,
        200,
    );
    assert_eq!(ended["end_date"], json!(start + Duration::days(29)));
    assert_eq!(
        ok(&app.get(&ledger_path).bearer(&admin).send().await, 200)["episodes"][0]["periods"]
            .as_array()
            .expect("periods")
            .len(),
        1
    );

    // Export and erasure.
    let doc = ok(
        &app.get(&format!("/v1/clients/{client_id}/export"))
            .bearer(&admin)
            .send()
            .await,
        200,
    );
    assert_eq!(doc["monitoring"]["episodes"][0]["id"], episode["id"]);
    assert_eq!(
        doc["monitoring"]["interactions"]
            .as_array()
            .expect("interactions")
            .len(),
        1
    );
    let erased = ok(
        &app.post(&format!("/v1/clients/{client_id}/erase"))
            .bearer(&admin)
            .json(json!({"confirm": client_id}))
            .send()
            .await,
        200,
    );
    assert_eq!(erased["removed"]["monitoring_episodes"], json!(1));
    assert_eq!(erased["removed"]["monitoring_interactions"], json!(1));
}

#[actix_web::test]
async fn only_staff_of_the_clinic_with_monitoring_permissions_reach_the_ledger() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Guarded", "admin@guarded.example").await;
    let (client_id, client) = app
        .client_with_login(
            &admin,
            json!({"name": "Sam", "email": "sam@guarded.example", "timezone": TZ}),
        )
        .await;
    let path = format!("/v1/clients/{client_id}/monitoring");
    ok(&app.get(&path).bearer(&admin).send().await, 200);
    app.get(&path).bearer(&client).send().await.problem(403);
    app.get("/v1/monitoring").bearer(&client).send().await.problem(403);
    let other = app.admin_token("Elsewhere", "admin@elsewhere.example").await;
    app.get(&path).bearer(&other).send().await.problem(404);
    app.post(&format!("/v1/clients/{client_id}/interactions"))
        .bearer(&other)
        .json(json!({"kind": "call", "minutes": 10, "interactive": true, "occurred_at": Utc::now().to_rfc3339()}))
        .send()
        .await
        .problem(404);
    let key = ok(
        &app.post("/v1/api-keys")
            .bearer(&admin)
            .json(json!({"name": "Billing", "scopes": ["monitoring:read"]}))
            .send()
            .await,
        201,
    );
    let key = key["key"].as_str().expect("key");
    ok(&app.get(&path).bearer(key).send().await, 200);
    ok(&app.get("/v1/monitoring").bearer(key).send().await, 200);
    app.post(&format!("/v1/clients/{client_id}/monitoring-episodes"))
        .bearer(key)
        .json(json!({"start_date": "2026-11-01"}))
        .send()
        .await
        .problem(403);
}
