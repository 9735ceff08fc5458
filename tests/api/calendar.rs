//! Calendar feeds: tokens created, replaced and revoked; the `.ics` itself, its caching headers,
//! who may make a feed, and that a feed's URL is a credential (404 without a hint, audited,
//! never compressed, in the export without its token, gone after erasure).

use crate::helpers::{TestApp, TestResponse, today_in};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use rehabit::library::content::HIP_MOBILITY;

fn ok(res: &TestResponse, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", String::from_utf8_lossy(&res.raw));
    res.body.clone()
}

/// The path part of a feed URL (the tests call the app directly).
fn path_of(url: &str) -> String {
    let at = url.find("/v1/calendar/").expect("a calendar path");
    url[at..].to_string()
}

struct World {
    admin: String,
    client: String,
    client_id: String,
}

async fn world(app: &TestApp, name: &str) -> World {
    let admin = app.admin_token(name, &format!("admin@{name}.example")).await;
    let (client_id, client) = app
        .client_with_login(
            &admin,
            json!({"name": "Zoë <Lee>", "email": format!("zoe@{name}.example"), "timezone": "Australia/Sydney"}),
        )
        .await;
    let start = today_in("Australia/Sydney") - Duration::days(10);
    ok(
        &app.post(&format!("/v1/clients/{client_id}/assignments"))
            .bearer(&admin)
            .json(
                json!({"routine_id": HIP_MOBILITY, "instructions": "Private: after the knee surgery",
                "schedule": {"start_date": start, "days_of_week": ["mon", "wed", "fri"], "times_per_day": 2,
                             "reminder_times": ["07:30"]}}),
            )
            .send()
            .await,
        201,
    );
    World {
        admin,
        client,
        client_id,
    }
}

#[actix_web::test]
async fn a_feed_url_serves_the_homework_as_icalendar_until_replaced_or_revoked() {
    let app = TestApp::spawn().await;
    let w = world(&app, "calfeed").await;
    let res = app
        .post(&format!("/v1/clients/{}/calendar", w.client_id))
        .bearer(&w.admin)
        .header("accept-encoding", "gzip")
        .send()
        .await;
    let created = ok(&res, 201);
    assert_eq!(res.header("content-encoding"), None, "a credential is never compressed");
    let url = created["url"].as_str().expect("url").to_string();
    assert!(url.starts_with("http://"), "{url}");
    assert!(url.ends_with(".ics"));
    let token = url.rsplit('/').next().expect("token").trim_end_matches(".ics");
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    assert_eq!(created["expires_at"], Value::Null);

    let ics = app.get(&path_of(&url)).header("accept-encoding", "gzip").send().await;
    assert_eq!(ics.status, 200);
    assert_eq!(ics.header("content-encoding"), None);
    assert!(ics.header("content-type").expect("type").starts_with("text/calendar"));
    let text = String::from_utf8(ics.raw.clone()).expect("utf-8");
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
    assert!(text.contains("BEGIN:VTIMEZONE\r\nTZID:Australia/Sydney\r\n"));
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 2, "one event per daily session");
    assert!(text.contains("-1@rehabit\r\n") && text.contains("-2@rehabit\r\n"));
    assert!(text.contains("RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR\r\n"), "{text}");
    assert!(text.contains("T073000\r\n"), "slot 1 at its reminder time");
    assert!(text.contains("T090000\r\n"), "slot 2 without one at 09:00");
    assert_eq!(
        text.matches("BEGIN:VALARM").count(),
        1,
        "an alarm only where a reminder time exists"
    );
    assert!(text.contains("SUMMARY:Hip mobility (1 of 2)"));
    for secret in ["Zoë", "Lee", "knee surgery", "Private"] {
        assert!(
            !text.contains(secret),
            "the feed names no client and no notes: {secret}"
        );
    }

    // Caching: the same ETag answers 304; so does an If-Modified-Since at Last-Modified.
    let etag = ics.header("etag").expect("etag").to_string();
    let modified = ics.header("last-modified").expect("last-modified").to_string();
    let again = app.get(&path_of(&url)).header("if-none-match", &etag).send().await;
    assert_eq!(again.status, 304);
    assert!(again.raw.is_empty());
    let since = app
        .get(&path_of(&url))
        .header("if-modified-since", &modified)
        .send()
        .await;
    assert_eq!(since.status, 304);
    let stale = app
        .get(&path_of(&url))
        .header("if-none-match", "\"other\"")
        .send()
        .await;
    assert_eq!(stale.status, 200);

    // The read is audited as the feed, naming the client.
    let events = app.audit_events().await;
    let read = events
        .iter()
        .rev()
        .find(|e| e["action"] == "get_calendar_feed" && e["status"] == 200)
        .expect("an audit event for the feed read");
    assert_eq!(read["actor_kind"], "calendar_feed");
    assert!(read["client_ids"].to_string().contains(&w.client_id));

    // Posting again replaces the feed: the old URL is a 404 like any unknown one.
    let second = ok(
        &app.post(&format!("/v1/clients/{}/calendar", w.client_id))
            .bearer(&w.admin)
            .json(json!({"expires_at": Utc::now() + Duration::days(30)}))
            .send()
            .await,
        201,
    );
    let replaced = app.get(&path_of(&url)).send().await;
    let unknown = app
        .get("/v1/calendar/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics")
        .send()
        .await;
    assert_eq!((replaced.status, unknown.status), (404, 404));
    assert_eq!(
        replaced.body["detail"], unknown.body["detail"],
        "no hint whether it existed"
    );
    let url2 = second["url"].as_str().expect("url").to_string();
    assert!(second["expires_at"].is_string());
    assert_eq!(app.get(&path_of(&url2)).send().await.status, 200);

    // Revoking ends it at once.
    let del = app
        .delete(&format!("/v1/clients/{}/calendar", w.client_id))
        .bearer(&w.admin)
        .send()
        .await;
    assert_eq!(del.status, 204);
    assert_eq!(app.get(&path_of(&url2)).send().await.status, 404);

    // The client makes their own; it expires.
    let mine = ok(
        &app.post("/v1/me/calendar")
            .bearer(&w.client)
            .json(json!({"expires_at": Utc::now() + Duration::seconds(2)}))
            .send()
            .await,
        201,
    );
    let mine = mine["url"].as_str().expect("url").to_string();
    assert_eq!(app.get(&path_of(&mine)).send().await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(app.get(&path_of(&mine)).send().await.status, 404, "expired");
    assert_eq!(app.delete("/v1/me/calendar").bearer(&w.client).send().await.status, 204);
}

#[actix_web::test]
async fn only_those_who_may_change_homework_make_feeds_and_bad_input_is_named() {
    let app = TestApp::spawn().await;
    let w = world(&app, "calperm").await;
    let other = world(&app, "calother").await;
    // Another clinic's client: 404.
    app.post(&format!("/v1/clients/{}/calendar", other.client_id))
        .bearer(&w.admin)
        .send()
        .await
        .problem(404);
    // Clients use /v1/me/calendar; staff paths are 403 for them, their own record included.
    app.post(&format!("/v1/clients/{}/calendar", w.client_id))
        .bearer(&w.client)
        .send()
        .await
        .problem(403);
    app.post("/v1/me/calendar").bearer(&w.admin).send().await.problem(403);
    // A key without assignments:write: 403.
    let key = ok(
        &app.post("/v1/api-keys")
            .bearer(&w.admin)
            .json(json!({"name": "reader", "scopes": ["assignments:read", "clients:read"]}))
            .send()
            .await,
        201,
    );
    app.post(&format!("/v1/clients/{}/calendar", w.client_id))
        .bearer(key["key"].as_str().expect("key"))
        .send()
        .await
        .problem(403);
    // Bad input.
    let past = app
        .post(&format!("/v1/clients/{}/calendar", w.client_id))
        .bearer(&w.admin)
        .json(json!({"expires_at": Utc::now() - Duration::hours(1)}))
        .send()
        .await;
    past.problem(422);
    assert_eq!(past.error_fields(), ["expires_at"]);
    let unknown = app
        .post(&format!("/v1/clients/{}/calendar", w.client_id))
        .bearer(&w.admin)
        .json(json!({"url": "https://evil.example"}))
        .send()
        .await;
    unknown.problem(422);

    // An Idempotency-Key replay answers without the URL, which is never stored.
    let first = app
        .post(&format!("/v1/clients/{}/calendar", w.client_id))
        .bearer(&w.admin)
        .header("idempotency-key", "cal-1")
        .send()
        .await;
    let replay = app
        .post(&format!("/v1/clients/{}/calendar", w.client_id))
        .bearer(&w.admin)
        .header("idempotency-key", "cal-1")
        .send()
        .await;
    assert!(ok(&first, 201)["url"].is_string());
    assert_eq!(ok(&replay, 201)["url"], Value::Null);
}

#[actix_web::test]
async fn feeds_join_the_export_without_their_token_and_go_with_erasure() {
    let app = TestApp::spawn().await;
    let w = world(&app, "calsteward").await;
    let created = ok(
        &app.post(&format!("/v1/clients/{}/calendar", w.client_id))
            .bearer(&w.admin)
            .send()
            .await,
        201,
    );
    let url = created["url"].as_str().expect("url").to_string();
    let token = url
        .rsplit('/')
        .next()
        .expect("token")
        .trim_end_matches(".ics")
        .to_string();
    let export = app
        .get(&format!("/v1/clients/{}/export", w.client_id))
        .bearer(&w.admin)
        .send()
        .await;
    assert_eq!(export.status, 200);
    let doc: Value = serde_json::from_slice(&export.raw).expect("json");
    assert_eq!(doc["calendar_feeds"].as_array().expect("feeds").len(), 1);
    assert!(
        !String::from_utf8_lossy(&export.raw).contains(&token),
        "never the token"
    );
    let erased = ok(
        &app.post(&format!("/v1/clients/{}/erase", w.client_id))
            .bearer(&w.admin)
            .json(json!({"confirm": w.client_id}))
            .send()
            .await,
        200,
    );
    assert_eq!(erased["removed"]["calendar_feeds"], 1);
    assert_eq!(app.get(&path_of(&url)).send().await.status, 404);
}

/// Reminder events: `occurrence.due` at a reminder time when the slot is not done,
/// `occurrence.missed` when the local day ended with it undone, exactly once with two
/// schedulers running at the same time, nothing for paused homework, nothing older than 24 hours.
#[actix_web::test]
async fn reminders_are_emitted_once_however_many_schedulers_run() {
    use chrono::TimeZone;
    let app = TestApp::spawn().await;
    // A clinic of its own with nothing else scheduled: the scheduler scans every clinic.
    let admin = app.admin_token("reminders", "admin@reminders.example").await;
    let london: chrono_tz::Tz = "Europe/London".parse().expect("tz");
    let client = ok(
        &app.post("/v1/clients")
            .bearer(&admin)
            .json(json!({"name": "Remi", "timezone": "Europe/London"}))
            .send()
            .await,
        201,
    );
    let cid = client["id"].as_str().expect("id");
    let today = today_in("Europe/London");
    let a = ok(
        &app.post(&format!("/v1/clients/{cid}/assignments"))
            .bearer(&admin)
            .json(
                json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": today - Duration::days(5),
                "times_per_day": 2, "reminder_times": ["08:00"]}}),
            )
            .send()
            .await,
        201,
    );
    let aid = a["id"].as_str().expect("id").to_string();
    // Paused homework of the same client: nothing, ever.
    let paused = ok(
        &app.post(&format!("/v1/clients/{cid}/assignments"))
            .bearer(&admin)
            .json(
                json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": today - Duration::days(5),
                "reminder_times": ["08:00"]}}),
            )
            .send()
            .await,
        201,
    );
    let pid = paused["id"].as_str().expect("id");
    // Pause it before the window: a pause starts now, so move its start back in the database.
    assert_eq!(
        app.patch(&format!("/v1/assignments/{pid}"))
            .bearer(&admin)
            .header("content-type", "application/merge-patch+json")
            .json(json!({"status": "paused"}))
            .send()
            .await
            .status,
        200
    );
    let local = |days: i64, h: u32| {
        london
            .from_local_datetime(&(today - Duration::days(days)).and_hms_opt(h, 0, 0).expect("time"))
            .single()
            .expect("instant")
            .with_timezone(&Utc)
    };
    {
        use diesel_async::RunQueryDsl;
        let mut conn = app.db().await;
        diesel::sql_query("UPDATE assignment_pauses SET paused_at = $1")
            .bind::<diesel::sql_types::Timestamptz, _>(local(4, 9))
            .execute(&mut conn)
            .await
            .expect("back-date the pause");
    }
    // Two days ago, slot 1 was done (one log); slot 2 was not.
    ok(
        &app.post(&format!("/v1/assignments/{aid}/sessions"))
            .bearer(&admin)
            .json(json!({"performed_at": local(2, 10)}))
            .send()
            .await,
        201,
    );
    // Yesterday at noon, London: the window is (two days ago 12:00, yesterday 12:00].
    let now = local(1, 12);
    let (mut c1, mut c2) = (app.db().await, app.db().await);
    let (r1, r2) = tokio::join!(
        rehabit::reminders::run_once(&mut c1, now),
        rehabit::reminders::run_once(&mut c2, now)
    );
    assert_eq!(
        r1.expect("run 1") + r2.expect("run 2"),
        2,
        "two events between both schedulers"
    );
    assert_eq!(rehabit::reminders::run_once(&mut c1, now).await.expect("again"), 0);
    let types = app.event_types().await;
    assert_eq!(types.iter().filter(|t| *t == "occurrence.due").count(), 1);
    assert_eq!(types.iter().filter(|t| *t == "occurrence.missed").count(), 1);
    let feed = ok(&app.get("/v1/events?limit=200").bearer(&admin).send().await, 200);
    let items = feed["items"].as_array().expect("items");
    let due = items
        .iter()
        .find(|e| e["type"] == "occurrence.due")
        .expect("due in the feed");
    assert_eq!(
        due["data"],
        json!({"client_id": cid, "assignment_id": aid, "date": today - Duration::days(1), "slot": 1})
    );
    let missed = items
        .iter()
        .find(|e| e["type"] == "occurrence.missed")
        .expect("missed in the feed");
    assert_eq!(
        missed["data"],
        json!({"client_id": cid, "assignment_id": aid, "date": today - Duration::days(2), "slot": 2})
    );
    // After downtime: a run 30 hours later emits what fell in its own last 24 hours only.
    let later = now + Duration::hours(30);
    let n = rehabit::reminders::run_once(&mut c1, later).await.expect("later");
    // Yesterday's day end (2 slots missed; slot 1 also came due at 08:00 the day before but lies
    // outside the window) and today's 08:00 if it is in the window.
    let today_due = local(0, 8) > later - Duration::hours(24) && local(0, 8) <= later;
    assert_eq!(n, 2 + usize::from(today_due));
}
