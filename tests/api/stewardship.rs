//! Health-data stewardship: the audit trail (coverage, transactions, refusals, sign-ins, its
//! API, append-only storage, the hash chain and its verification, retention), the export and
//! erasure.

use crate::helpers::{PASSWORD, TestApp, TestResponse};
use actix_web::http::Method;
use chrono::{Duration, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rehabit::audit::chain;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn ok(res: &TestResponse, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.body);
    res.body.clone()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// A clinic with one of everything a route can be about.
struct Fixture {
    admin: String,
    client_id: String,
    client_token: String,
    assignment_id: String,
    session_id: String,
    practitioner_id: String,
    webhook_id: String,
    delivery_id: String,
    api_key_id: String,
    questionnaire_assignment_id: String,
    episode_id: String,
    interaction_id: String,
}

fn session_body(assignment: &Value, notes: &str) -> Value {
    json!({
        "performed_at": (Utc::now() - Duration::hours(2)).to_rfc3339(),
        "pain_before": 3, "pain_after": 2, "notes": notes,
        "entries": [{"assignment_item_id": assignment["items"][0]["id"], "completed": true}]
    })
}

async fn fixture(app: &TestApp, clinic: &str) -> Fixture {
    let admin = app.admin_token(clinic, &format!("admin@{clinic}.example")).await;
    let (client_id, client_token) = app
        .client_with_login(
            &admin,
            json!({"name": "Sam Lee", "email": format!("sam@{clinic}.example"), "timezone": "Europe/London", "external_id": "bk-1"}),
        )
        .await;
    let assignment = ok(
        &app.post(&format!("/v1/clients/{client_id}/assignments"))
            .bearer(&admin)
            .json(json!({"routine_id": rehabit::library::content::HIP_MOBILITY,
                         "schedule": {"start_date": (Utc::now() - Duration::days(7)).date_naive()}}))
            .send()
            .await,
        201,
    );
    let assignment_id = id_of(&assignment);
    let session = ok(
        &app.post(&format!("/v1/assignments/{assignment_id}/sessions"))
            .bearer(&client_token)
            .json(session_body(&assignment, "fine"))
            .send()
            .await,
        201,
    );
    let practitioner = ok(
        &app.put("/v1/practitioners/by-external-id/pr-1")
            .bearer(&admin)
            .json(json!({"name": "Pat Smith", "email": format!("pat@{clinic}.example")}))
            .send()
            .await,
        201,
    );
    let webhook = ok(
        &app.post("/v1/webhooks")
            .bearer(&admin)
            .json(json!({"url": "https://hooks.example.com/a", "events": ["client.created"]}))
            .send()
            .await,
        201,
    );
    let webhook_id = id_of(&webhook);
    let delivery = ok(
        &app.post(&format!("/v1/webhooks/{webhook_id}/ping"))
            .bearer(&admin)
            .send()
            .await,
        202,
    );
    let key = ok(
        &app.post("/v1/api-keys")
            .bearer(&admin)
            .json(json!({"name": "Booking", "scopes": ["clients:read"]}))
            .send()
            .await,
        201,
    );
    let questionnaire_assignment = ok(
        &app.post(&format!("/v1/clients/{client_id}/questionnaire-assignments"))
            .bearer(&admin)
            .json(json!({"questionnaire_id": rehabit::outcomes::builtin::PSFS,
                         "schedule": {"start_date": (Utc::now() - Duration::days(7)).date_naive(), "every": 2, "unit": "weeks"}}))
            .send()
            .await,
        201,
    );
    let episode = ok(
        &app.post(&format!("/v1/clients/{client_id}/monitoring-episodes"))
            .bearer(&admin)
            .json(json!({"start_date": (Utc::now() - Duration::days(7)).date_naive()}))
            .send()
            .await,
        201,
    );
    let interaction = ok(
        &app.post(&format!("/v1/clients/{client_id}/interactions"))
            .bearer(&admin)
            .json(json!({"kind": "call", "minutes": 10, "interactive": true, "occurred_at": (Utc::now() - Duration::hours(3)).to_rfc3339()}))
            .send()
            .await,
        201,
    );
    Fixture {
        episode_id: id_of(&episode),
        interaction_id: id_of(&interaction),
        questionnaire_assignment_id: id_of(&questionnaire_assignment),
        admin,
        client_id,
        client_token,
        assignment_id,
        session_id: id_of(&session),
        practitioner_id: id_of(&practitioner),
        webhook_id,
        delivery_id: id_of(&delivery),
        api_key_id: id_of(&key),
    }
}

/// A documented path with its parameters filled from the fixture.
fn fill(template: &str, f: &Fixture) -> String {
    let segments: Vec<&str> = template.split('/').collect();
    let mut out = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        if !(s.starts_with('{') && s.ends_with('}')) {
            out.push(s.to_string());
            continue;
        }
        let before = if i > 0 { segments[i - 1] } else { "" };
        let value = match (before, *s) {
            ("clients", _) => f.client_id.clone(),
            ("assignments", _) => f.assignment_id.clone(),
            // A routine's handout is audited like every handout, though a template names no client.
            ("routines", _) => rehabit::library::content::HIP_MOBILITY.to_string(),
            ("sessions", _) => f.session_id.clone(),
            ("practitioners", _) => f.practitioner_id.clone(),
            ("webhooks", _) => f.webhook_id.clone(),
            ("deliveries", _) => f.delivery_id.clone(),
            ("api-keys", _) => f.api_key_id.clone(),
            ("questionnaires", _) => rehabit::outcomes::builtin::PSFS.to_string(),
            ("questionnaire-assignments", _) => f.questionnaire_assignment_id.clone(),
            ("monitoring-episodes", _) => f.episode_id.clone(),
            ("interactions", _) => f.interaction_id.clone(),
            ("by-external-id", _) if template.starts_with("/v1/clients") => "bk-1".into(),
            ("by-external-id", _) if template.starts_with("/v1/practitioners") => "pr-1".into(),
            _ => panic!("the coverage test does not know what to put for {s} in {template}: teach `fill`"),
        };
        out.push(value);
    }
    out.join("/")
}

#[actix_web::test]
async fn every_operation_on_client_data_leaves_an_audit_event() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, "cover").await;
    let doc = serde_json::to_value(rehabit::openapi_document()).expect("document");
    let exempt: BTreeSet<&str> = rehabit::audit::routes::EXEMPT.iter().map(|(id, _)| *id).collect();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"].as_str().expect("operation id").to_string();
            if !exempt.contains(id.as_str()) {
                ops.push((method.to_uppercase(), path.clone(), id));
            }
        }
    }
    assert!(ops.len() >= 40, "only {} audited operations?", ops.len());
    // What removes a fixture goes last.
    ops.sort_by_key(|(method, _, id)| (method == "DELETE", id.clone()));
    for (method, template, id) in &ops {
        let path = fill(template, &f);
        let token = if template.starts_with("/v1/me") {
            &f.client_token
        } else {
            &f.admin
        };
        let before: BTreeSet<String> = app.audit_events().await.iter().map(|e| e["id"].to_string()).collect();
        let mut req = app
            .req(Method::from_bytes(method.as_bytes()).expect("method"), &path)
            .bearer(token);
        if ["POST", "PUT", "PATCH"].contains(&method.as_str()) {
            req = req.json(json!({}));
        }
        let res = req.send().await;
        assert!(res.status < 500, "{id} failed: {}", res.body);
        let events = app.audit_events().await;
        let fresh: Vec<&Value> = events
            .iter()
            .filter(|e| !before.contains(&e["id"].to_string()))
            .collect();
        assert!(
            fresh
                .iter()
                .any(|e| e["action"] == id.as_str() && e["status"] == res.status),
            "{id} ({method} {path}) answered {} and left no audit event: {fresh:?}",
            res.status
        );
    }
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    yes: bool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

#[actix_web::test]
async fn a_change_is_audited_in_its_own_transaction_and_a_read_names_its_clients() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, "tx").await;
    let events = app.audit_events().await;
    let created: Vec<&Value> = events.iter().filter(|e| e["action"] == "create_client").collect();
    assert_eq!(created.len(), 1, "{events:?}");
    assert_eq!(created[0]["status"], 201);
    assert_eq!(created[0]["resource_type"], "client");
    assert_eq!(created[0]["resource_id"], f.client_id.as_str());
    assert_eq!(created[0]["client_ids"], json!([f.client_id]));
    assert_eq!(created[0]["actor_kind"], "user");
    assert_eq!(created[0]["actor_role"], "admin");
    // Written by the transaction that created the client (xmin is the 32-bit xid).
    let mut conn = app.db().await;
    let same: Flag = diesel::sql_query(
        "SELECT (a.txid % 4294967296) = c.xmin::text::bigint AS yes
         FROM audit_events a, clients c WHERE a.action = 'create_client' AND c.id::text = $1",
    )
    .bind::<Text, _>(&f.client_id)
    .get_result(&mut conn)
    .await
    .expect("query");
    assert!(
        same.yes,
        "the audit event and the client were written by different transactions"
    );
    for (action, table) in [("create_api_key", "api_keys"), ("create_webhook", "webhooks")] {
        let same: Flag = diesel::sql_query(format!(
            "SELECT bool_and((a.txid % 4294967296) = t.xmin::text::bigint) AS yes
             FROM audit_events a JOIN {table} t ON t.id = a.resource_id WHERE a.action = '{action}'"
        ))
        .get_result(&mut conn)
        .await
        .expect("query");
        assert!(same.yes, "{action}");
    }

    // A list names every client it returned; a read of an assignment names its client.
    let (other, _) = app
        .client_with_login(
            &f.admin,
            json!({"name": "Ana", "email": "ana@tx.example", "timezone": "Europe/London"}),
        )
        .await;
    ok(&app.get("/v1/clients").bearer(&f.admin).send().await, 200);
    ok(
        &app.get(&format!("/v1/assignments/{}", f.assignment_id))
            .bearer(&f.admin)
            .send()
            .await,
        200,
    );
    ok(&app.get("/v1/me/progress").bearer(&f.client_token).send().await, 200);
    let events = app.audit_events().await;
    let list = events
        .iter()
        .rfind(|e| e["action"] == "list_clients")
        .expect("list audited");
    let named: BTreeSet<&str> = list["client_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(named, BTreeSet::from([f.client_id.as_str(), other.as_str()]));
    let read = events
        .iter()
        .rfind(|e| e["action"] == "get_assignment")
        .expect("read audited");
    assert_eq!(read["client_ids"], json!([f.client_id]));
    assert_eq!(read["resource_type"], "assignment");
    let own = events
        .iter()
        .rfind(|e| e["action"] == "get_my_progress")
        .expect("own read audited");
    assert_eq!(own["client_ids"], json!([f.client_id]));
    assert_eq!(own["actor_role"], "client");
    assert!(own["request_id"].is_string(), "{own}");
    // Nothing but ids: no name, email or note reached the trail.
    let all = serde_json::to_string(&events).expect("json");
    for text in ["Sam Lee", "sam@tx.example", "Ana", "fine", "bk-1"] {
        assert!(!all.contains(text), "`{text}` is in the audit trail");
    }
}

#[actix_web::test]
async fn sign_ins_and_refusals_are_audited() {
    let app = TestApp::spawn().await;
    let a = app.admin_token("A", "admin@a.example").await;
    let b = app.admin_token("B", "admin@b.example").await;
    // One person, staff in A and a client in B.
    let practitioner = ok(
        &app.post("/v1/practitioners")
            .bearer(&a)
            .json(json!({"name": "Pat", "email": "pat@shared.example"}))
            .send()
            .await,
        201,
    );
    let accepted = app
        .accept(practitioner["invitation"]["token"].as_str().expect("token"), PASSWORD)
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let client = ok(
        &app.post("/v1/clients")
            .bearer(&b)
            .json(json!({"name": "Pat", "email": "pat@shared.example", "timezone": "Europe/London"}))
            .send()
            .await,
        201,
    );
    let invite = ok(
        &app.post(&format!("/v1/clients/{}/invitation", id_of(&client)))
            .bearer(&b)
            .send()
            .await,
        201,
    );
    ok(
        &app.accept(invite["token"].as_str().expect("token"), PASSWORD).await,
        200,
    );
    let res = app.login("pat@shared.example", "wrong password entirely").await;
    res.problem(401);
    let events = app.audit_events().await;
    let failed: Vec<&Value> = events.iter().filter(|e| e["action"] == "sign_in_failed").collect();
    assert_eq!(failed.len(), 2, "one in each clinic of the login: {failed:?}");
    let clinics: BTreeSet<&str> = failed.iter().filter_map(|e| e["clinic_id"].as_str()).collect();
    assert_eq!(clinics.len(), 2);
    assert!(failed.iter().all(|e| e["status"] == 401 && e["actor_kind"] == "user"));
    // An unknown email belongs to no clinic: nothing to record, and nothing breaks.
    app.login("nobody@nowhere.example", "whatever it is").await.problem(401);

    let res = app.login("admin@a.example", PASSWORD).await;
    ok(&res, 200);
    let events = app.audit_events().await;
    let signed_in = events
        .iter()
        .rfind(|e| e["action"] == "sign_in")
        .expect("sign-in audited");
    assert_eq!(signed_in["status"], 200);
    assert_eq!(signed_in["actor_role"], "admin");
    let refresh = res.body["refresh_token"].as_str().expect("refresh");
    ok(
        &app.post("/v1/auth/token")
            .json(json!({"grant_type": "refresh_token", "refresh_token": refresh}))
            .send()
            .await,
        200,
    );
    assert!(app.audit_events().await.iter().any(|e| e["action"] == "refresh_token"));

    // A refusal is audited, on any route, with the caller and the status.
    let pat = app.login("pat@shared.example", PASSWORD).await;
    assert_eq!(pat.status, 422, "two clinics: clinic_id needed");
    let clinic_a = failed
        .iter()
        .map(|e| e["clinic_id"].as_str().expect("clinic"))
        .find(|c| {
            events
                .iter()
                .any(|e| e["clinic_id"] == *c && e["action"] == "create_practitioner")
        })
        .expect("clinic A");
    let pat = ok(
        &app.post("/v1/auth/token")
            .json(json!({"grant_type": "password", "username": "pat@shared.example", "password": PASSWORD, "clinic_id": clinic_a}))
            .send()
            .await,
        200,
    );
    let pat = pat["access_token"].as_str().expect("token");
    app.get("/v1/audit-events").bearer(pat).send().await.problem(403);
    app.get("/v1/api-keys").bearer(pat).send().await.problem(403);
    let events = app.audit_events().await;
    for action in ["list_audit_events", "list_api_keys"] {
        let refused = events.iter().rfind(|e| e["action"] == action).expect("refusal audited");
        assert_eq!(refused["status"], 403, "{action}");
        assert_eq!(refused["actor_role"], "practitioner");
    }
}

#[actix_web::test]
async fn the_trail_is_listed_filtered_and_kept_to_its_clinic() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, "list").await;
    let other = app.admin_token("Other", "admin@other.example").await;
    ok(
        &app.get(&format!("/v1/clients/{}", f.client_id))
            .bearer(&f.admin)
            .send()
            .await,
        200,
    );
    app.audit_events().await;

    let page = ok(&app.get("/v1/audit-events?limit=3").bearer(&f.admin).send().await, 200);
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["action"], "get_client", "newest first: {items:?}");
    assert_eq!(items[0]["resource"], json!({"type": "client", "id": f.client_id}));
    assert_eq!(items[0]["actor"]["kind"], "user");
    assert_eq!(items[0]["status"], 200);
    let ids: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);
    let cursor = page["next_cursor"].as_str().expect("more pages");
    let next = ok(
        &app.get(&format!("/v1/audit-events?limit=3&cursor={cursor}"))
            .bearer(&f.admin)
            .send()
            .await,
        200,
    );
    assert!(next["items"][0]["id"].as_str().expect("id") < ids[2]);

    let by_client = ok(
        &app.get(&format!("/v1/audit-events?client_id={}&action=get_client", f.client_id))
            .bearer(&f.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(by_client["items"].as_array().expect("items").len(), 1);
    let me = ok(&app.get("/v1/me").bearer(&f.admin).send().await, 200);
    let by_actor = ok(
        &app.get(&format!(
            "/v1/audit-events?actor_id={}&limit=200",
            me["id"].as_str().expect("id")
        ))
        .bearer(&f.admin)
        .send()
        .await,
        200,
    );
    assert!(
        by_actor["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|e| e["actor"]["id"] == me["id"])
    );
    let future = (Utc::now() + Duration::days(1)).to_rfc3339().replace('+', "%2B");
    let none = ok(
        &app.get(&format!("/v1/audit-events?from={future}"))
            .bearer(&f.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(none["items"], json!([]));
    app.get("/v1/audit-events?action=DROP%20TABLE")
        .bearer(&f.admin)
        .send()
        .await
        .problem(422);
    app.get("/v1/audit-events?client_id=nope")
        .bearer(&f.admin)
        .send()
        .await
        .problem(400);

    let log = ok(
        &app.get(&format!("/v1/clients/{}/access-log", f.client_id))
            .bearer(&f.admin)
            .send()
            .await,
        200,
    );
    assert!(log["items"].as_array().expect("items").iter().all(|e| {
        e["client_ids"]
            .as_array()
            .is_some_and(|ids| ids.contains(&json!(f.client_id)))
    }));

    // Another clinic sees none of it; a practitioner and a client may not read the trail;
    // a key needs `audit:read`.
    let theirs = ok(&app.get("/v1/audit-events?limit=200").bearer(&other).send().await, 200);
    assert!(
        theirs["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|e| e["client_ids"] == json!([]))
    );
    app.get(&format!("/v1/clients/{}/access-log", f.client_id))
        .bearer(&other)
        .send()
        .await
        .problem(404);
    app.get("/v1/audit-events")
        .bearer(&f.client_token)
        .send()
        .await
        .problem(403);
    app.get(&format!("/v1/clients/{}/access-log", f.client_id))
        .bearer(&f.client_token)
        .send()
        .await
        .problem(403);
    let pat = practitioner(&app, &f.admin, "pat2@list.example").await;
    app.get("/v1/audit-events").bearer(&pat).send().await.problem(403);
    let reader = key(&app, &f.admin, &["audit:read"]).await;
    ok(&app.get("/v1/audit-events").bearer(&reader).send().await, 200);
    let other_key = key(&app, &f.admin, &["clients:read"]).await;
    app.get("/v1/audit-events").bearer(&other_key).send().await.problem(403);
}

async fn practitioner(app: &TestApp, admin: &str, email: &str) -> String {
    let res = ok(
        &app.post("/v1/practitioners")
            .bearer(admin)
            .json(json!({"name": "Pat Practitioner", "email": email}))
            .send()
            .await,
        201,
    );
    let res = app
        .accept(res["invitation"]["token"].as_str().expect("token"), PASSWORD)
        .await;
    ok(&res, 200)["access_token"].as_str().expect("token").to_string()
}

async fn key(app: &TestApp, admin: &str, scopes: &[&str]) -> String {
    let res = app
        .post("/v1/api-keys")
        .bearer(admin)
        .json(json!({"name": "Key", "scopes": scopes}))
        .send()
        .await;
    ok(&res, 201)["key"].as_str().expect("key").to_string()
}

#[actix_web::test]
async fn a_client_sees_who_read_their_record_but_never_another_client() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, "mine").await;
    let (other_id, other_token) = app
        .client_with_login(
            &f.admin,
            json!({"name": "Other Person", "email": "other@mine.example", "timezone": "Europe/London"}),
        )
        .await;
    let pat = practitioner(&app, &f.admin, "reader@mine.example").await;
    ok(
        &app.get(&format!("/v1/clients/{}/progress", f.client_id))
            .bearer(&pat)
            .send()
            .await,
        200,
    );
    // The other client probes this client's data: refused, and not shown as an access.
    app.get(&format!("/v1/sessions/{}", f.session_id))
        .bearer(&other_token)
        .send()
        .await
        .problem(404);
    ok(&app.get("/v1/me/sessions").bearer(&f.client_token).send().await, 200);
    app.audit_events().await;

    let log = ok(&app.get("/v1/me/access-log").bearer(&f.client_token).send().await, 200);
    let items = log["items"].as_array().expect("items");
    let progress = items
        .iter()
        .find(|e| e["action"] == "get_client_progress")
        .expect("the practitioner's read is listed");
    assert_eq!(progress["actor"]["name"], "Pat Practitioner");
    assert_eq!(progress["actor"]["role"], "practitioner");
    assert_eq!(progress["actor"]["is_self"], false);
    let own = items
        .iter()
        .find(|e| e["action"] == "list_my_sessions")
        .expect("own reads listed");
    assert_eq!(own["actor"]["is_self"], true);
    assert!(
        items
            .iter()
            .any(|e| e["actor"]["name"] == "Admin of mine" && e["actor"]["role"] == "admin")
    );
    let text = log.to_string();
    assert!(!text.contains("Other Person") && !text.contains(&other_id), "{text}");
    assert!(items.iter().all(|e| e["status"].as_u64().is_some_and(|s| s < 300)));
    // Staff have no own access log.
    app.get("/v1/me/access-log").bearer(&f.admin).send().await.problem(403);
}

#[actix_web::test]
async fn the_trail_refuses_updates_and_deletes() {
    let app = TestApp::spawn().await;
    fixture(&app, "append").await;
    app.audit_events().await;
    let mut conn = app.db().await;
    chain_all(&mut conn).await;
    for sql in [
        "UPDATE audit_events SET status = 200",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "UPDATE audit_chain SET hash = ''",
    ] {
        let refused = diesel::sql_query(sql).execute(&mut conn).await;
        assert!(refused.is_err(), "{sql} was allowed");
    }
    assert!(count(&mut conn, "SELECT count(*) AS n FROM audit_events").await > 5);
}

async fn replica(conn: &mut AsyncPgConnection, sql: &str) {
    // As a database superuser could: with triggers off.
    diesel::sql_query("SET session_replication_role = replica")
        .execute(conn)
        .await
        .expect("superuser");
    for statement in sql.split("; ") {
        diesel::sql_query(statement)
            .execute(conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    diesel::sql_query("SET session_replication_role = DEFAULT")
        .execute(conn)
        .await
        .expect("reset");
}

/// A clinic with audit events, all chained; answers the connection and the event ids in chain
/// order.
async fn chained(app: &TestApp) -> (AsyncPgConnection, String, Vec<String>) {
    let f = fixture(app, "chain").await;
    for _ in 0..3 {
        ok(
            &app.get(&format!("/v1/clients/{}", f.client_id))
                .bearer(&f.admin)
                .send()
                .await,
            200,
        );
    }
    let events = app.audit_events().await;
    let clinic = events
        .iter()
        .rfind(|e| e["action"] == "get_client")
        .and_then(|e| e["clinic_id"].as_str())
        .expect("clinic")
        .to_string();
    let mut conn = app.db().await;
    chain_all(&mut conn).await;
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let ids: Vec<Id> =
        diesel::sql_query("SELECT event_id::text AS id FROM audit_chain WHERE clinic_id::text = $1 ORDER BY seq")
            .bind::<Text, _>(&clinic)
            .load(&mut conn)
            .await
            .expect("chain");
    let reports = chain::verify(&mut conn, None, &[]).await.expect("verify");
    assert!(reports.iter().all(|r| r.problem.is_none()), "{reports:?}");
    (conn, clinic, ids.into_iter().map(|i| i.id).collect())
}

/// Chains until no event waits. Transactions of other tests on the same server hold the
/// chainer back (it waits for every transaction that could still add an earlier event), so
/// this may take a few rounds.
async fn chain_all(conn: &mut AsyncPgConnection) {
    for _ in 0..600 {
        chain::chain_once(conn).await.expect("chained");
        let waiting = count(
            conn,
            "SELECT count(*) AS n FROM audit_events e
             WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.clinic_id = e.clinic_id AND c.event_id = e.id)",
        )
        .await;
        if waiting == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("events stayed unchained");
}

async fn problem_of(conn: &mut AsyncPgConnection, clinic: &str) -> String {
    let clinic = clinic.parse().expect("uuid");
    let reports = chain::verify(conn, Some(clinic), &[]).await.expect("verify runs");
    reports[0].problem.clone().expect("verify must fail")
}

#[actix_web::test]
async fn verify_names_an_altered_event() {
    let app = TestApp::spawn().await;
    let (mut conn, clinic, ids) = chained(&app).await;
    let target = &ids[ids.len() / 2];
    replica(
        &mut conn,
        &format!("UPDATE audit_events SET status = 299 WHERE id = '{target}'"),
    )
    .await;
    let problem = problem_of(&mut conn, &clinic).await;
    assert!(
        problem.contains(target.as_str()) && problem.contains("altered"),
        "{problem}"
    );

    // The command line says the same, with exit status 1.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rehabit"))
        .args(["audit", "verify", "--clinic", &clinic])
        .env("DATABASE_URL", &app.db_url)
        .env("RUST_LOG", "error")
        .output()
        .expect("rehabit runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(target.as_str()) && stdout.contains("FAILED"),
        "{stdout}"
    );
}

#[actix_web::test]
async fn verify_names_a_deleted_event() {
    let app = TestApp::spawn().await;
    let (mut conn, clinic, ids) = chained(&app).await;
    let target = &ids[2];
    replica(&mut conn, &format!("DELETE FROM audit_events WHERE id = '{target}'")).await;
    let problem = problem_of(&mut conn, &clinic).await;
    assert!(
        problem.contains(target.as_str()) && problem.contains("missing"),
        "{problem}"
    );
}

#[actix_web::test]
async fn a_rewritten_tail_shows_against_the_published_head() {
    let app = TestApp::spawn().await;
    let (mut conn, clinic, ids) = chained(&app).await;
    let heads = chain::publish_heads(&mut conn, None).await.expect("published");
    let head = heads
        .iter()
        .find(|h| h.clinic_id.to_string() == clinic)
        .expect("head")
        .clone();
    assert_eq!(head.seq, i64::try_from(ids.len()).expect("len"));

    // The newest event and its chain entry removed: the chain is consistent, but shorter
    // than the head that was published.
    let last = ids.last().expect("events");
    replica(
        &mut conn,
        &format!("DELETE FROM audit_chain WHERE event_id = '{last}'; DELETE FROM audit_events WHERE id = '{last}'"),
    )
    .await;
    let problem = problem_of(&mut conn, &clinic).await;
    assert!(problem.contains("newest events were removed"), "{problem}");

    // Rewritten instead (every hash recomputed after an edit), and the published heads
    // table wiped too: the head taken from the log still catches it.
    let app = TestApp::spawn().await;
    let (mut conn, clinic, ids) = chained(&app).await;
    let heads = chain::publish_heads(&mut conn, None).await.expect("published");
    let head = heads
        .iter()
        .find(|h| h.clinic_id.to_string() == clinic)
        .expect("head")
        .clone();
    let last = ids.last().expect("events");
    replica(
        &mut conn,
        &format!("UPDATE audit_events SET status = 204 WHERE id = '{last}'; DELETE FROM audit_heads"),
    )
    .await;
    #[derive(QueryableByName)]
    struct Prev {
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        hash: Vec<u8>,
    }
    let prev: Prev = diesel::sql_query(format!(
        "SELECT hash FROM audit_chain WHERE clinic_id = '{clinic}' AND seq = {}",
        head.seq - 1
    ))
    .get_result(&mut conn)
    .await
    .expect("previous entry");
    let events = app.audit_events().await;
    let row = events.iter().find(|e| e["id"] == last.as_str()).expect("event");
    let forged = rehabit::audit::AuditRow {
        clinic_id: clinic.parse().expect("uuid"),
        id: last.parse().expect("uuid"),
        occurred_at: serde_json::from_value(row["occurred_at"].clone()).expect("time"),
        actor_kind: row["actor_kind"].as_str().expect("kind").into(),
        actor_id: serde_json::from_value(row["actor_id"].clone()).expect("actor"),
        actor_role: serde_json::from_value(row["actor_role"].clone()).expect("role"),
        action: row["action"].as_str().expect("action").into(),
        resource_type: serde_json::from_value(row["resource_type"].clone()).expect("type"),
        resource_id: serde_json::from_value(row["resource_id"].clone()).expect("resource"),
        client_ids: serde_json::from_value(row["client_ids"].clone()).expect("clients"),
        request_id: serde_json::from_value(row["request_id"].clone()).expect("request"),
        ip: serde_json::from_value(row["ip"].clone()).expect("ip"),
        user_agent: serde_json::from_value(row["user_agent"].clone()).expect("ua"),
        status: 204,
    };
    let hash = chain::entry_hash(&prev.hash, head.seq, &forged);
    replica(
        &mut conn,
        &format!(
            "UPDATE audit_chain SET hash = '\\x{}' WHERE clinic_id = '{clinic}' AND seq = {}",
            hex::encode(&hash),
            head.seq
        ),
    )
    .await;
    let clinic_id = clinic.parse().expect("uuid");
    let reports = chain::verify(&mut conn, Some(clinic_id), &[]).await.expect("verify");
    assert!(
        reports[0].problem.is_none(),
        "without a published head the rewrite is consistent"
    );
    let reports = chain::verify(&mut conn, Some(clinic_id), &[head])
        .await
        .expect("verify");
    let problem = reports[0].problem.clone().expect("caught by the logged head");
    assert!(problem.contains("rewritten"), "{problem}");
}

#[actix_web::test]
async fn retention_purges_old_events_and_leaves_a_checkpoint() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let clinic = uuid::Uuid::now_v7();
    diesel::sql_query(format!(
        "INSERT INTO clinics (id, name) VALUES ('{clinic}', 'Old clinic')"
    ))
    .execute(&mut conn)
    .await
    .expect("clinic");
    let insert = |age_days: i64| {
        format!(
            "INSERT INTO audit_events (clinic_id, id, occurred_at, actor_kind, action, status)
             VALUES ('{clinic}', '{}', now() - interval '{age_days} days', 'system', 'get_client', 200)",
            uuid::Uuid::now_v7()
        )
    };
    for _ in 0..3 {
        diesel::sql_query(insert(2200))
            .execute(&mut conn)
            .await
            .expect("old event");
    }
    chain_all(&mut conn).await;
    for _ in 0..2 {
        diesel::sql_query(insert(1))
            .execute(&mut conn)
            .await
            .expect("new event");
    }
    chain_all(&mut conn).await;
    // A delete outside the purge is refused, old or not.
    assert!(
        diesel::sql_query(format!("DELETE FROM audit_events WHERE clinic_id = '{clinic}'"))
            .execute(&mut conn)
            .await
            .is_err()
    );
    assert_eq!(chain::purge(&mut conn, 2190).await.expect("purged"), 3);
    let left = count(
        &mut conn,
        &format!("SELECT count(*) AS n FROM audit_events WHERE clinic_id = '{clinic}'"),
    )
    .await;
    assert_eq!(left, 2);
    let checkpoint = count(
        &mut conn,
        &format!("SELECT seq AS n FROM audit_checkpoints WHERE clinic_id = '{clinic}'"),
    )
    .await;
    assert_eq!(checkpoint, 3);
    let reports = chain::verify(&mut conn, Some(clinic), &[]).await.expect("verify");
    assert!(reports[0].problem.is_none(), "{reports:?}");
    assert_eq!(reports[0].head.0, 5);
    assert_eq!(chain::purge(&mut conn, 2190).await.expect("purged"), 0);
}

#[actix_web::test]
async fn the_unwritten_events_metric_is_exported_and_zero() {
    let app = TestApp::spawn().await;
    fixture(&app, "metric").await;
    let res = app.get("/metrics").send().await;
    let text = String::from_utf8_lossy(&res.raw);
    assert!(text.contains("rehabit_audit_events_unwritten_total 0"), "{text}");
}

// ---------------------------------------------------------------------------------------
// Export

#[actix_web::test]
async fn an_export_holds_the_whole_record_and_ends_complete() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, "export").await;
    let assignment = ok(
        &app.get(&format!("/v1/assignments/{}", f.assignment_id))
            .bearer(&f.admin)
            .send()
            .await,
        200,
    );
    for note in ["second", "third"] {
        ok(
            &app.post(&format!("/v1/assignments/{}/sessions", f.assignment_id))
                .bearer(&f.client_token)
                .json(session_body(&assignment, note))
                .send()
                .await,
            201,
        );
    }
    ok(
        &app.delete(&format!("/v1/sessions/{}", f.session_id))
            .bearer(&f.client_token)
            .send()
            .await,
        204,
    );
    app.audit_events().await;

    let res = app
        .get(&format!("/v1/clients/{}/export", f.client_id))
        .bearer(&f.admin)
        .send()
        .await;
    let doc = ok(&res, 200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(doc["format"], "rehabit-export/1");
    assert_eq!(doc["complete"], true);
    assert!(String::from_utf8_lossy(&res.raw).ends_with("\"complete\":true}"));
    assert_eq!(doc["client"]["id"], f.client_id.as_str());
    assert_eq!(doc["client"]["name"], "Sam Lee");
    assert_eq!(doc["client"]["login"]["email"], "sam@export.example");
    assert_eq!(doc["assignments"].as_array().expect("assignments").len(), 1);
    assert!(doc["assignments"][0]["items"].as_array().is_some_and(|i| !i.is_empty()));
    assert!(doc["assignments"][0]["schedule"].is_object());
    let sessions = doc["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 3, "deleted logs are kept, so they are exported");
    assert!(
        sessions
            .iter()
            .any(|s| s["id"] == f.session_id.as_str() && s["deleted_at"].is_string())
    );
    assert!(
        sessions
            .iter()
            .all(|s| s["entries"].is_array() && s["measurements"].is_array())
    );
    assert!(doc["progress"]["adherence"].is_object());
    assert_eq!(doc["questionnaire_responses"], json!([]));
    assert_eq!(doc["monitoring"]["episodes"][0]["id"], f.episode_id.as_str());
    assert_eq!(doc["monitoring"]["interactions"][0]["id"], f.interaction_id.as_str());
    assert_eq!(
        doc["questionnaire_assignments"][0]["id"],
        f.questionnaire_assignment_id.as_str()
    );
    assert_eq!(doc["calendar_feeds"], json!([]));
    let log = doc["access_log"].as_array().expect("access log");
    assert!(
        log.iter()
            .any(|e| e["action"] == "create_session" && e["actor"]["is_self"] == true)
    );

    // The client's own copy is the same document; exporting is audited.
    let mine = ok(&app.get("/v1/me/export").bearer(&f.client_token).send().await, 200);
    assert_eq!(mine["client"]["id"], f.client_id.as_str());
    assert_eq!(mine["sessions"].as_array().map(Vec::len), Some(3));
    let events = app.audit_events().await;
    let export = events
        .iter()
        .rfind(|e| e["action"] == "export_client")
        .expect("audited");
    assert_eq!(export["client_ids"], json!([f.client_id]));
    assert!(events.iter().any(|e| e["action"] == "export_my_data"));

    // A client reads their own record only through /v1/me.
    app.get(&format!("/v1/clients/{}/export", f.client_id))
        .bearer(&f.client_token)
        .send()
        .await
        .problem(403);

    // An archived client exports; keys need `data:export`; nobody else gets it.
    ok(
        &app.patch(&format!("/v1/clients/{}", f.client_id))
            .bearer(&f.admin)
            .json(json!({"archived": true}))
            .send()
            .await,
        200,
    );
    let archived = ok(
        &app.get(&format!("/v1/clients/{}/export", f.client_id))
            .bearer(&f.admin)
            .send()
            .await,
        200,
    );
    assert_eq!(archived["client"]["archived"], true);
    assert_eq!(archived["complete"], true);
    let exporter = key(&app, &f.admin, &["data:export"]).await;
    ok(
        &app.get(&format!("/v1/clients/{}/export", f.client_id))
            .bearer(&exporter)
            .send()
            .await,
        200,
    );
    let reader = key(&app, &f.admin, &["clients:read", "sessions:read", "assignments:read"]).await;
    app.get(&format!("/v1/clients/{}/export", f.client_id))
        .bearer(&reader)
        .send()
        .await
        .problem(403);
    let pat = practitioner(&app, &f.admin, "reader@export.example").await;
    app.get(&format!("/v1/clients/{}/export", f.client_id))
        .bearer(&pat)
        .send()
        .await
        .problem(403);
    let other = app.admin_token("Elsewhere", "admin@elsewhere.example").await;
    app.get(&format!("/v1/clients/{}/export", f.client_id))
        .bearer(&other)
        .send()
        .await
        .problem(404);
    app.get(&format!("/v1/clients/{}/export", uuid::Uuid::now_v7()))
        .bearer(&f.admin)
        .send()
        .await
        .problem(404);
    app.get("/v1/me/export").bearer(&f.admin).send().await.problem(403);
}

// ---------------------------------------------------------------------------------------
// Erasure

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
}

/// Every place in the database where `needle` occurs: `table.column (rows)`, searching every
/// text, character, JSON, array and bytea column of every table.
async fn find_everywhere(conn: &mut AsyncPgConnection, needle: &str) -> Vec<String> {
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, c.data_type::text AS data_type
         FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'bytea', 'USER-DEFINED', 'tsvector')",
    )
    .load(conn)
    .await
    .expect("columns");
    assert!(columns.len() > 30, "the search must see the whole schema");
    let mut found = Vec::new();
    for c in columns {
        let hit = if c.data_type == "bytea" {
            format!("position(convert_to($1, 'UTF8') in \"{}\") > 0", c.column_name)
        } else {
            format!("strpos(lower(\"{}\"::text), lower($1)) > 0", c.column_name)
        };
        // The one exception: `client.erased` names the external id, so integrators find their copy.
        let except = match c.table_name.as_str() {
            "events" => " AND type <> 'client.erased'",
            "webhook_deliveries" => " AND event_type <> 'client.erased'",
            _ => "",
        };
        let sql = format!("SELECT count(*) AS n FROM \"{}\" WHERE {hit}{except}", c.table_name);
        let n = diesel::sql_query(&sql)
            .bind::<Text, _>(needle)
            .get_result::<Count>(conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .n;
        if n > 0 {
            found.push(format!("{}.{} ({n} rows)", c.table_name, c.column_name));
        }
    }
    found
}

#[actix_web::test]
async fn erasure_leaves_nothing_the_client_ever_sent() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Erase", "admin@erase.example").await;
    ok(
        &app.post("/v1/webhooks")
            .bearer(&admin)
            .json(json!({"url": "https://hooks.example.com/e",
                         "events": ["client.created", "client.updated", "assignment.created", "session.logged", "session.flagged", "session.updated", "client.erased"]}))
            .send()
            .await,
        201,
    );
    let name = "Quintessa Marlowe-Vance";
    let email = "quintessa.mv@example.org";
    let external = "ext-quintessa-7731";
    let created = app
        .post("/v1/clients")
        .bearer(&admin)
        .header("Idempotency-Key", "create-quintessa")
        .json(json!({"name": name, "email": email, "timezone": "Europe/London", "external_id": external}))
        .send()
        .await;
    let client_id = id_of(&ok(&created, 201));
    let invite = ok(
        &app.post(&format!("/v1/clients/{client_id}/invitation"))
            .bearer(&admin)
            .send()
            .await,
        201,
    );
    let client = ok(
        &app.accept(invite["token"].as_str().expect("token"), PASSWORD).await,
        200,
    );
    let client = client["access_token"].as_str().expect("token").to_string();
    let instructions = "do these after your evening stroll by the canal";
    let item_note = "hold longer on the stiff side please";
    let assignment = ok(
        &app.post(&format!("/v1/clients/{client_id}/assignments"))
            .bearer(&admin)
            .json(
                json!({"routine_id": rehabit::library::content::HIP_MOBILITY, "instructions": instructions,
                         "schedule": {"start_date": (Utc::now() - Duration::days(3)).date_naive()}}),
            )
            .send()
            .await,
        201,
    );
    let assignment_id = id_of(&assignment);
    let item = assignment["items"][0]["id"].clone();
    ok(
        &app.patch(&format!("/v1/assignments/{assignment_id}"))
            .bearer(&admin)
            .json(json!({"items": [{"id": item, "exercise_id": assignment["items"][0]["exercise_id"], "notes": item_note}]}))
            .send()
            .await,
        200,
    );
    let session_note = "my left knee clicked on the stairs";
    let entry_note = "felt a pinch at rep nine";
    let session = ok(
        &app.post(&format!("/v1/assignments/{assignment_id}/sessions"))
            .bearer(&client)
            .header("Idempotency-Key", "log-1")
            .json(json!({
                "performed_at": (Utc::now() - Duration::hours(3)).to_rfc3339(),
                "pain_before": 2, "pain_after": 7, "notes": session_note,
                "entries": [{"assignment_item_id": item, "completed": true, "notes": entry_note}],
                "measurements": [{"kind": "hip_internal_rotation_deg", "side": "left", "value": 28}]
            }))
            .send()
            .await,
        201,
    );
    let review_note = "talked it through by phone on tuesday";
    ok(
        &app.post(&format!("/v1/sessions/{}/review", id_of(&session)))
            .bearer(&admin)
            .json(json!({"note": review_note}))
            .send()
            .await,
        200,
    );
    let new_name = "Quinn Marlowe-Vance";
    ok(
        &app.patch("/v1/me")
            .bearer(&client)
            .json(json!({"name": new_name}))
            .send()
            .await,
        200,
    );
    app.login(email, "not the password at all").await.problem(401);
    ok(&app.get("/v1/me/export").bearer(&client).send().await, 200);
    app.audit_events().await;

    // Refused: without the right confirmation, by a practitioner, another clinic, any key.
    let path = format!("/v1/clients/{client_id}/erase");
    app.post(&path).bearer(&admin).json(json!({})).send().await.problem(422);
    let wrong = app
        .post(&path)
        .bearer(&admin)
        .json(json!({"confirm": uuid::Uuid::now_v7()}))
        .send()
        .await;
    assert_eq!(wrong.problem(422)["errors"][0]["field"], "confirm");
    let pat = practitioner(&app, &admin, "pat@erase.example").await;
    app.post(&path)
        .bearer(&pat)
        .json(json!({"confirm": client_id}))
        .send()
        .await
        .problem(403);
    let other = app.admin_token("Other", "admin@other-erase.example").await;
    app.post(&path)
        .bearer(&other)
        .json(json!({"confirm": client_id}))
        .send()
        .await
        .problem(404);
    let everything = key(
        &app,
        &admin,
        &["clients:read", "clients:write", "data:export", "audit:read"],
    )
    .await;
    app.post(&path)
        .bearer(&everything)
        .json(json!({"confirm": client_id}))
        .send()
        .await
        .problem(403);
    let res = app
        .post("/v1/api-keys")
        .bearer(&admin)
        .json(json!({"name": "Eraser", "scopes": ["data:erase"]}))
        .send()
        .await;
    res.problem(422);
    ok(
        &app.get(&format!("/v1/clients/{client_id}")).bearer(&admin).send().await,
        200,
    );
    ok(&app.get("/v1/me").bearer(&client).send().await, 200);

    let erased = ok(
        &app.post(&path)
            .bearer(&admin)
            .json(json!({"confirm": client_id}))
            .send()
            .await,
        200,
    );
    assert!(erased["erased_at"].is_string());
    let removed = &erased["removed"];
    for (table, rows) in [
        ("clients", 1),
        ("memberships", 1),
        ("users", 1),
        ("assignments", 1),
        ("session_logs", 1),
        ("session_entries", 1),
        ("session_measurements", 1),
    ] {
        assert_eq!(removed[table], rows, "{table}: {erased}");
    }
    assert!(removed["idempotency_keys"].as_i64().is_some_and(|n| n >= 2), "{erased}");
    assert!(removed["assignment_items"].as_i64().is_some_and(|n| n > 0));
    assert!(removed["token_families"].as_i64().is_some_and(|n| n >= 1));
    assert!(
        erased["scrubbed"]["events"].as_i64().is_some_and(|n| n >= 4),
        "{erased}"
    );
    // Event deliveries hold no copy of the event: their body is built from the (now scrubbed)
    // event when sent, so there is nothing of the client's in them to scrub.
    assert_eq!(erased["scrubbed"]["webhook_deliveries"], 0, "{erased}");

    // Tokens stop at once; the client is 404 everywhere.
    app.get("/v1/me").bearer(&client).send().await.problem(401);
    for p in [
        format!("/v1/clients/{client_id}"),
        format!("/v1/clients/{client_id}/export"),
        format!("/v1/clients/{client_id}/sessions"),
        format!("/v1/clients/{client_id}/access-log"),
        format!("/v1/assignments/{assignment_id}"),
        format!("/v1/clients/by-external-id/{external}"),
    ] {
        app.get(&p).bearer(&admin).send().await.problem(404);
    }
    app.post(&path)
        .bearer(&admin)
        .json(json!({"confirm": client_id}))
        .send()
        .await
        .problem(404);

    // Nothing the client (or staff about them) ever wrote is left anywhere.
    let mut conn = app.db().await;
    for needle in [
        name,
        new_name,
        email,
        external,
        session_note,
        entry_note,
        instructions,
        item_note,
        review_note,
    ] {
        let found = find_everywhere(&mut conn, needle).await;
        assert!(found.is_empty(), "`{needle}` survived erasure in {found:?}");
    }
    // Events keep type, ids and time; integrators hear of the erasure.
    let feed = ok(&app.get("/v1/events?limit=200").bearer(&admin).send().await, 200);
    let items = feed["items"].as_array().expect("events");
    let gone = items
        .iter()
        .find(|e| e["type"] == "client.erased")
        .expect("client.erased");
    assert_eq!(gone["data"], json!({"client_id": client_id, "external_id": external}));
    let created = items.iter().find(|e| e["type"] == "client.created").expect("kept");
    assert_eq!(created["data"]["id"], client_id.as_str());
    // The anonymous weekly count stays.
    assert_eq!(
        count(
            &mut conn,
            "SELECT coalesce(sum(sessions), 0)::bigint AS n FROM erased_activity_weekly"
        )
        .await,
        1
    );
    // The erasure is audited, with ids only.
    let events = app.audit_events().await;
    let audit = events
        .iter()
        .rfind(|e| e["action"] == "erase_client" && e["status"] == 200)
        .expect("audited");
    assert_eq!(audit["client_ids"], json!([client_id]));

    // The external id is free: a booking system's upsert makes a new client.
    let again = app
        .put(&format!("/v1/clients/by-external-id/{external}"))
        .bearer(&admin)
        .json(json!({"name": "Someone new", "timezone": "Europe/London"}))
        .send()
        .await;
    assert_ne!(id_of(&ok(&again, 201)), client_id);
}

#[actix_web::test]
async fn a_login_shared_with_another_clinic_survives_erasure() {
    let app = TestApp::spawn().await;
    let a = app.admin_token("A", "admin@a.example").await;
    let b = app.admin_token("B", "admin@b.example").await;
    let (in_a, token_a) = app
        .client_with_login(
            &a,
            json!({"name": "Kim", "email": "kim@shared.example", "timezone": "Europe/London"}),
        )
        .await;
    let in_b = ok(
        &app.post("/v1/clients")
            .bearer(&b)
            .json(json!({"name": "Kim", "email": "kim@shared.example", "timezone": "Europe/London"}))
            .send()
            .await,
        201,
    );
    let invite = ok(
        &app.post(&format!("/v1/clients/{}/invitation", id_of(&in_b)))
            .bearer(&b)
            .send()
            .await,
        201,
    );
    ok(
        &app.accept(invite["token"].as_str().expect("token"), PASSWORD).await,
        200,
    );
    let erased = ok(
        &app.post(&format!("/v1/clients/{in_a}/erase"))
            .bearer(&a)
            .json(json!({"confirm": in_a}))
            .send()
            .await,
        200,
    );
    assert_eq!(erased["removed"]["users"], 0);
    assert_eq!(erased["removed"]["memberships"], 1);
    app.get("/v1/me").bearer(&token_a).send().await.problem(401);
    // The person still signs in to the other clinic.
    let res = app.login("kim@shared.example", PASSWORD).await;
    assert_eq!(ok(&res, 200)["token_type"], "Bearer");
}

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    table_name: String,
}

#[actix_web::test]
async fn every_table_with_client_data_is_exported_and_erased() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let tables: Vec<TableName> = diesel::sql_query(
        "SELECT DISTINCT c.table_name::text AS table_name FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           AND c.column_name IN ('client_id', 'client_ids')",
    )
    .load(&mut conn)
    .await
    .expect("tables");
    assert!(tables.len() >= 4, "the schema's client tables");
    let erased: BTreeSet<&str> = rehabit::erasure::TABLES.iter().map(|(t, _)| *t).collect();
    let exported: BTreeSet<&str> = rehabit::export::CLIENT_TABLES.iter().map(|(t, _)| *t).collect();
    for t in &tables {
        let t = t.table_name.as_str();
        assert!(
            erased.contains(t),
            "`{t}` has a client_id column but erasure does not list it"
        );
        assert!(
            exported.contains(t),
            "`{t}` has a client_id column but the export does not list it"
        );
    }
    // The erasure list names real tables, and every table is accounted for.
    let all: Vec<TableName> = diesel::sql_query(
        "SELECT table_name::text AS table_name FROM information_schema.tables
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .load(&mut conn)
    .await
    .expect("tables");
    let all: BTreeSet<String> = all.into_iter().map(|t| t.table_name).collect();
    for t in &erased {
        assert!(all.contains(*t), "erasure lists `{t}`, which does not exist");
    }
}
