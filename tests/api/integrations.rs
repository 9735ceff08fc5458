//! Integrations: API keys with scopes, the events feed, signed webhooks with retries.

use crate::helpers::{PASSWORD, TestApp, TestResponse};
use actix_web::http::Method;
use diesel::QueryableByName;
use diesel::sql_types::{Bytea, Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Every permission an API key may hold.
const GRANTABLE: [&str; 21] = [
    "practitioners:read",
    "practitioners:write",
    "clients:read",
    "clients:write",
    "exercises:read",
    "exercises:write",
    "routines:read",
    "routines:write",
    "assignments:read",
    "assignments:write",
    "sessions:read",
    "sessions:write",
    "events:read",
    "webhooks:read",
    "webhooks:write",
    "audit:read",
    "data:export",
    "outcomes:read",
    "outcomes:write",
    "monitoring:read",
    "monitoring:write",
];

/// Creates an API key and returns the whole answer.
async fn create_key(app: &TestApp, admin: &str, scopes: &[&str]) -> Value {
    let res = app
        .post("/v1/api-keys")
        .bearer(admin)
        .json(json!({"name": "Booking system", "scopes": scopes}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body
}

async fn key(app: &TestApp, admin: &str, scopes: &[&str]) -> String {
    create_key(app, admin, scopes).await["key"]
        .as_str()
        .expect("key")
        .to_string()
}

async fn practitioner_token(app: &TestApp, admin: &str, email: &str) -> String {
    let res = app
        .post("/v1/practitioners")
        .bearer(admin)
        .json(json!({"name": "Pat Smith", "email": email}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let token = res.body["invitation"]["token"].as_str().expect("invitation");
    let res = app.accept(token, PASSWORD).await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body["access_token"].as_str().expect("token").to_string()
}

fn has_problem(res: &TestResponse, status: u16) -> bool {
    res.status == status && res.header("content-type") == Some("application/problem+json")
}

#[actix_web::test]
async fn an_api_key_is_shown_once_stored_as_a_hash_and_revoked_at_once() {
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Bytea)]
        key_hash: Vec<u8>,
        #[diesel(sql_type = Text)]
        everything: String,
    }
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let created = create_key(&app, &admin, &["clients:read", "events:read"]).await;
    let key = created["key"].as_str().expect("key").to_string();
    let id = created["id"].as_str().expect("id").to_string();
    assert!(key.starts_with("rhk_") && key.len() >= 4 + 43, "{key}");
    assert_eq!(created["scopes"], json!(["clients:read", "events:read"]));
    assert_eq!(created["prefix"].as_str(), Some(&key[..8]));
    assert_eq!(created["last_four"].as_str(), Some(&key[key.len() - 4..]));

    // Only the hash is stored: no column of the row holds the key.
    let row: Stored = diesel::sql_query("SELECT key_hash, row_to_json(k)::text AS everything FROM api_keys k")
        .get_result(&mut app.db().await)
        .await
        .expect("row");
    assert_eq!(row.key_hash, Sha256::digest(key.as_bytes()).to_vec());
    assert!(!row.everything.contains(&key[8..key.len() - 4]));

    // The list never shows the key.
    let list = app.get("/v1/api-keys").bearer(&admin).send().await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"][0]["id"], id.as_str());
    assert!(list.body["items"][0].get("key").is_none());
    assert!(!String::from_utf8_lossy(&list.raw).contains(&key[8..]));

    // The key works as a bearer token and as X-Api-Key, for exactly its scopes.
    let res = app.get("/v1/clients").bearer(&key).send().await;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = app.get("/v1/clients").header("X-Api-Key", &key).send().await;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = app
        .post("/v1/clients")
        .header("X-Api-Key", &key)
        .json(json!({"name": "Sam", "timezone": "Europe/London"}))
        .send()
        .await;
    assert!(
        res.problem(403)["detail"]
            .as_str()
            .unwrap_or("")
            .contains("clients:write")
    );
    // Own-account endpoints are for people.
    app.get("/v1/me").bearer(&key).send().await.problem(403);
    let listed = app.get("/v1/api-keys").bearer(&admin).send().await;
    assert!(listed.body["items"][0]["last_used_at"].is_string(), "{}", listed.body);

    // A wrong key, and a key-shaped token that is not one, are 401 with WWW-Authenticate.
    let res = app.get("/v1/clients").bearer("rhk_nope").send().await;
    res.problem(401);
    assert!(res.header("www-authenticate").is_some());
    app.get("/v1/clients")
        .header("X-Api-Key", "nope")
        .send()
        .await
        .problem(401);

    // Revocation takes effect at the next request.
    let res = app.delete(&format!("/v1/api-keys/{id}")).bearer(&admin).send().await;
    assert_eq!(res.status, 204, "{}", res.body);
    app.get("/v1/clients").bearer(&key).send().await.problem(401);
    app.get("/v1/clients")
        .header("X-Api-Key", &key)
        .send()
        .await
        .problem(401);
    app.delete(&format!("/v1/api-keys/{id}"))
        .bearer(&admin)
        .send()
        .await
        .problem(404);
    let list = app.get("/v1/api-keys").bearer(&admin).send().await;
    assert_eq!(list.body["items"], json!([]));
}

#[actix_web::test]
async fn expired_keys_fail_and_keys_stay_in_their_clinic() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let other = app.admin_token("Other", "admin@o.example").await;
    let created = create_key(&app, &admin, &["clients:read"]).await;
    let key = created["key"].as_str().expect("key");
    let id = created["id"].as_str().expect("id");
    // Another clinic neither sees nor deletes it.
    app.delete(&format!("/v1/api-keys/{id}"))
        .bearer(&other)
        .send()
        .await
        .problem(404);
    let list = app.get("/v1/api-keys").bearer(&other).send().await;
    assert_eq!(list.body["items"], json!([]));
    // A key acts in its own clinic only.
    app.post("/v1/clients")
        .bearer(&admin)
        .json(json!({"name": "Mine", "timezone": "Europe/London"}))
        .succeeds()
        .await;
    app.post("/v1/clients")
        .bearer(&other)
        .json(json!({"name": "Theirs", "timezone": "Europe/London"}))
        .succeeds()
        .await;
    let res = app.get("/v1/clients").bearer(key).send().await;
    let names: Vec<&str> = res.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, vec!["Mine"]);

    diesel::sql_query("UPDATE api_keys SET expires_at = now() - interval '1 second'")
        .execute(&mut app.db().await)
        .await
        .expect("expire");
    assert_eq!(app.status_becomes("/v1/clients", key, 401).await, 401);
    app.get("/v1/clients").bearer(key).send().await.problem(401);

    let future = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let res = app
        .post("/v1/api-keys")
        .bearer(&admin)
        .json(json!({"name": "Expiring", "scopes": ["clients:read"], "expires_at": future}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert!(res.body["expires_at"].is_string());
}

#[actix_web::test]
async fn api_keys_write_is_never_grantable_and_only_admins_manage_keys() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let refuse = |body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let res = app.post("/v1/api-keys").bearer(&admin).json(body).send().await;
            res.problem(422);
            res.error_fields()
        }
    };
    assert_eq!(
        refuse(json!({"name": "K", "scopes": ["clients:read", "api_keys:write"]})).await,
        vec!["scopes"]
    );
    assert_eq!(
        refuse(json!({"name": "K", "scopes": ["clients:delete"]})).await,
        vec!["scopes[0]"]
    );
    assert_eq!(refuse(json!({"name": "K", "scopes": []})).await, vec!["scopes"]);
    assert_eq!(
        refuse(json!({"name": "", "scopes": ["clients:read"], "expires_at": "2001-01-01T00:00:00Z"})).await,
        vec!["name", "expires_at"]
    );
    assert_eq!(
        refuse(json!({"name": "K", "scopes": ["clients:read"], "key": "rhk_mine"})).await,
        vec!["key"]
    );

    // A key with every grantable scope still cannot manage keys.
    let all = key(&app, &admin, &GRANTABLE).await;
    app.get("/v1/api-keys").bearer(&all).send().await.problem(403);
    app.post("/v1/api-keys")
        .bearer(&all)
        .json(json!({"name": "K", "scopes": ["clients:read"]}))
        .send()
        .await
        .problem(403);
    // Nor can practitioners.
    let pat = practitioner_token(&app, &admin, "pat@c.example").await;
    app.get("/v1/api-keys").bearer(&pat).send().await.problem(403);
}

#[actix_web::test]
async fn an_idempotent_replay_never_shows_the_key_again() {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let send = || {
        app.post("/v1/api-keys")
            .bearer(&admin)
            .header("Idempotency-Key", "key-1")
            .json(json!({"name": "K", "scopes": ["clients:read"]}))
            .send()
    };
    let first = send().await;
    assert_eq!(first.status, 201);
    let key = first.body["key"].as_str().expect("key").to_string();
    let replay = send().await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header("idempotency-replayed"), Some("true"));
    assert_eq!(replay.body["id"], first.body["id"]);
    assert_eq!(replay.body["key"], Value::Null);
    let stored: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM idempotency_keys WHERE position($1 in convert_from(response_body, 'UTF8')) > 0",
    )
    .bind::<Text, _>(&key[4..])
    .get_result(&mut app.db().await)
    .await
    .expect("count");
    assert_eq!(stored.n, 0, "the key must not be stored for replays");
    let keys: Count = diesel::sql_query("SELECT count(*) AS n FROM api_keys")
        .get_result(&mut app.db().await)
        .await
        .expect("count");
    assert_eq!(keys.n, 1);
}

#[actix_web::test]
async fn keys_are_rate_limited_per_key() {
    let app = TestApp::spawn_with(|c| c.api_key_rate_limit = 3).await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let a = key(&app, &admin, &["clients:read"]).await;
    let b = key(&app, &admin, &["clients:read"]).await;
    for remaining in ["2", "1", "0"] {
        let res = app.get("/v1/clients").bearer(&a).send().await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("ratelimit-limit"), Some("3"));
        assert_eq!(res.header("ratelimit-remaining"), Some(remaining));
        assert!(res.header("ratelimit-reset").is_some());
    }
    let res = app.get("/v1/clients").bearer(&a).send().await;
    assert_eq!(res.problem(429)["type"], "https://rehabit.dev/problems/rate-limited");
    let retry: u64 = res
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry));
    assert_eq!(res.header("ratelimit-remaining"), Some("0"));
    assert_eq!(res.header("ratelimit-limit"), Some("3"));
    // Another key has its own budget; people are not limited this way.
    assert_eq!(app.get("/v1/clients").bearer(&b).send().await.status, 200);
    for _ in 0..5 {
        assert_eq!(app.get("/v1/clients").bearer(&admin).send().await.status, 200);
    }
}

/// Ids that the operations of the scope table act on.
struct Fixture {
    client: String,
    practitioner: String,
    webhook: String,
    /// An endpoint for the delete operation.
    doomed_webhook: String,
    delivery: String,
    exercise: String,
    doomed_exercise: String,
    routine: String,
    doomed_routine: String,
    assignment: String,
    session_body: Value,
    /// Logged by an integration, so any key with `sessions:write` may change it.
    session: String,
    doomed_session: String,
    flagged_session: String,
    questionnaire_assignment: String,
    episode: String,
    interaction: String,
    doomed_interaction: String,
}

/// One request per operation that API keys can call: the scope table. Bodies are valid, so
/// the only reason for a 403 is the permission check.
fn scope_table(f: &Fixture) -> BTreeMap<&'static str, (Method, String, Option<Value>)> {
    let c = &f.client;
    let p = &f.practitioner;
    let mut t = BTreeMap::new();
    let client = json!({"name": "Scoped", "timezone": "Europe/London"});
    t.insert("list_clients", (Method::GET, "/v1/clients".into(), None));
    t.insert(
        "create_client",
        (Method::POST, "/v1/clients".into(), Some(client.clone())),
    );
    t.insert("get_client", (Method::GET, format!("/v1/clients/{c}"), None));
    t.insert(
        "update_client",
        (
            Method::PATCH,
            format!("/v1/clients/{c}"),
            Some(json!({"name": "Renamed"})),
        ),
    );
    t.insert(
        "get_client_by_external_id",
        (Method::GET, "/v1/clients/by-external-id/bk-1".into(), None),
    );
    t.insert(
        "upsert_client",
        (Method::PUT, "/v1/clients/by-external-id/bk-2".into(), Some(client)),
    );
    t.insert(
        "create_client_invitation",
        (Method::POST, format!("/v1/clients/{c}/invitation"), None),
    );
    t.insert("list_practitioners", (Method::GET, "/v1/practitioners".into(), None));
    let (x, r, a) = (&f.exercise, &f.routine, &f.assignment);
    let exercise = json!({"name": "Scoped", "category": "stretch", "body_regions": ["hip"], "difficulty": 1});
    t.insert("list_exercises", (Method::GET, "/v1/exercises".into(), None));
    t.insert(
        "create_exercise",
        (Method::POST, "/v1/exercises".into(), Some(exercise)),
    );
    t.insert("get_exercise", (Method::GET, format!("/v1/exercises/{x}"), None));
    t.insert(
        "update_exercise",
        (
            Method::PATCH,
            format!("/v1/exercises/{x}"),
            Some(json!({"summary": "Scoped"})),
        ),
    );
    t.insert(
        "delete_exercise",
        (Method::DELETE, format!("/v1/exercises/{}", f.doomed_exercise), None),
    );
    let routine = json!({"name": "Scoped", "items": []});
    t.insert("list_routines", (Method::GET, "/v1/routines".into(), None));
    t.insert(
        "create_routine",
        (Method::POST, "/v1/routines".into(), Some(routine.clone())),
    );
    t.insert("get_routine", (Method::GET, format!("/v1/routines/{r}"), None));
    t.insert(
        "get_routine_handout",
        (Method::GET, format!("/v1/routines/{r}/handout"), None),
    );
    t.insert(
        "replace_routine",
        (Method::PUT, format!("/v1/routines/{r}"), Some(routine)),
    );
    t.insert(
        "update_routine",
        (
            Method::PATCH,
            format!("/v1/routines/{r}"),
            Some(json!({"name": "Scoped 2"})),
        ),
    );
    t.insert(
        "delete_routine",
        (Method::DELETE, format!("/v1/routines/{}", f.doomed_routine), None),
    );
    t.insert("copy_routine", (Method::POST, format!("/v1/routines/{r}/copy"), None));
    let homework =
        json!({"routine_id": rehabit::library::content::HIP_MOBILITY, "schedule": {"start_date": "2026-11-02"}});
    t.insert(
        "list_client_assignments",
        (Method::GET, format!("/v1/clients/{c}/assignments"), None),
    );
    t.insert(
        "create_assignment",
        (Method::POST, format!("/v1/clients/{c}/assignments"), Some(homework)),
    );
    t.insert("get_assignment", (Method::GET, format!("/v1/assignments/{a}"), None));
    t.insert(
        "get_assignment_handout",
        (Method::GET, format!("/v1/assignments/{a}/handout"), None),
    );
    t.insert(
        "update_assignment",
        (
            Method::PATCH,
            format!("/v1/assignments/{a}"),
            Some(json!({"name": "Scoped"})),
        ),
    );
    t.insert(
        "get_client_agenda",
        (Method::GET, format!("/v1/clients/{c}/agenda"), None),
    );
    t.insert(
        "get_client_progress",
        (Method::GET, format!("/v1/clients/{c}/progress"), None),
    );
    let sess = &f.session;
    t.insert(
        "create_session",
        (
            Method::POST,
            format!("/v1/assignments/{a}/sessions"),
            Some(f.session_body.clone()),
        ),
    );
    t.insert(
        "list_client_sessions",
        (Method::GET, format!("/v1/clients/{c}/sessions"), None),
    );
    t.insert("list_sessions", (Method::GET, "/v1/sessions".into(), None));
    t.insert("get_session", (Method::GET, format!("/v1/sessions/{sess}"), None));
    t.insert(
        "update_session",
        (
            Method::PATCH,
            format!("/v1/sessions/{sess}"),
            Some(json!({"notes": "Scoped"})),
        ),
    );
    t.insert(
        "delete_session",
        (Method::DELETE, format!("/v1/sessions/{}", f.doomed_session), None),
    );
    t.insert(
        "review_session",
        (Method::POST, format!("/v1/sessions/{}/review", f.flagged_session), None),
    );
    t.insert("list_events", (Method::GET, "/v1/events".into(), None));
    let w = &f.webhook;
    let hook = json!({"url": "https://hooks.example.com/scoped", "events": ["client.created"]});
    t.insert("list_webhooks", (Method::GET, "/v1/webhooks".into(), None));
    t.insert("create_webhook", (Method::POST, "/v1/webhooks".into(), Some(hook)));
    t.insert("get_webhook", (Method::GET, format!("/v1/webhooks/{w}"), None));
    t.insert(
        "update_webhook",
        (
            Method::PATCH,
            format!("/v1/webhooks/{w}"),
            Some(json!({"description": "Scoped"})),
        ),
    );
    t.insert(
        "delete_webhook",
        (Method::DELETE, format!("/v1/webhooks/{}", f.doomed_webhook), None),
    );
    t.insert(
        "rotate_webhook_secret",
        (Method::POST, format!("/v1/webhooks/{w}/rotate-secret"), None),
    );
    t.insert("ping_webhook", (Method::POST, format!("/v1/webhooks/{w}/ping"), None));
    t.insert(
        "list_webhook_deliveries",
        (Method::GET, format!("/v1/webhooks/{w}/deliveries"), None),
    );
    t.insert(
        "redeliver_webhook_delivery",
        (
            Method::POST,
            format!("/v1/webhooks/{w}/deliveries/{}/redeliver", f.delivery),
            None,
        ),
    );
    t.insert(
        "create_practitioner",
        (
            Method::POST,
            "/v1/practitioners".into(),
            Some(json!({"name": "New", "email": "new@c.example"})),
        ),
    );
    t.insert(
        "get_practitioner",
        (Method::GET, format!("/v1/practitioners/{p}"), None),
    );
    t.insert(
        "update_practitioner",
        (
            Method::PATCH,
            format!("/v1/practitioners/{p}"),
            Some(json!({"name": "Pat"})),
        ),
    );
    t.insert(
        "create_practitioner_invitation",
        (Method::POST, format!("/v1/practitioners/{p}/invitation"), None),
    );
    t.insert("list_audit_events", (Method::GET, "/v1/audit-events".into(), None));
    t.insert(
        "get_client_access_log",
        (Method::GET, format!("/v1/clients/{c}/access-log"), None),
    );
    t.insert("export_client", (Method::GET, format!("/v1/clients/{c}/export"), None));
    t.insert(
        "export_client_fhir",
        (Method::GET, format!("/v1/clients/{c}/fhir"), None),
    );
    let psfs = rehabit::outcomes::builtin::PSFS;
    let qa = &f.questionnaire_assignment;
    t.insert("list_questionnaires", (Method::GET, "/v1/questionnaires".into(), None));
    t.insert(
        "create_questionnaire",
        (
            Method::POST,
            "/v1/questionnaires".into(),
            Some(
                json!({"code": "scoped", "name": "Scoped", "direction": "higher_is_better",
                "items": [{"code": "a", "text": "A", "type": "scale", "min": 0, "max": 4}],
                "scoring": {"method": "sum", "min_answered": 1}}),
            ),
        ),
    );
    t.insert(
        "get_questionnaire",
        (Method::GET, format!("/v1/questionnaires/{psfs}"), None),
    );
    t.insert(
        "create_questionnaire_assignment",
        (
            Method::POST,
            format!("/v1/clients/{c}/questionnaire-assignments"),
            Some(json!({"questionnaire_id": psfs, "schedule": {"start_date": "2026-11-02", "every": 1, "unit": "weeks"}})),
        ),
    );
    t.insert(
        "list_questionnaire_assignments",
        (Method::GET, format!("/v1/clients/{c}/questionnaire-assignments"), None),
    );
    t.insert(
        "update_questionnaire_assignment",
        (
            Method::PATCH,
            format!("/v1/questionnaire-assignments/{qa}"),
            Some(json!({"status": "stopped"})),
        ),
    );
    t.insert(
        "create_questionnaire_response",
        (
            Method::POST,
            format!("/v1/questionnaire-assignments/{qa}/responses"),
            Some(json!({"answers": [{"item_id": rehabit::outcomes::builtin::psfs_item(1, true), "value": 5}]})),
        ),
    );
    t.insert(
        "get_client_outcomes",
        (Method::GET, format!("/v1/clients/{c}/outcomes"), None),
    );
    t.insert(
        "create_monitoring_episode",
        (
            Method::POST,
            format!("/v1/clients/{c}/monitoring-episodes"),
            Some(json!({"start_date": "2026-01-01", "end_date": "2026-01-31"})),
        ),
    );
    t.insert(
        "update_monitoring_episode",
        (
            Method::PATCH,
            format!("/v1/monitoring-episodes/{}", f.episode),
            Some(json!({"end_date": "2026-11-30"})),
        ),
    );
    t.insert(
        "create_interaction",
        (
            Method::POST,
            format!("/v1/clients/{c}/interactions"),
            Some(json!({"kind": "review", "minutes": 5, "interactive": false, "occurred_at": "2026-11-20T10:00:00Z"})),
        ),
    );
    t.insert(
        "update_interaction",
        (
            Method::PATCH,
            format!("/v1/interactions/{}", f.interaction),
            Some(json!({"minutes": 11})),
        ),
    );
    t.insert(
        "delete_interaction",
        (
            Method::DELETE,
            format!("/v1/interactions/{}", f.doomed_interaction),
            None,
        ),
    );
    t.insert(
        "get_client_monitoring",
        (Method::GET, format!("/v1/clients/{c}/monitoring"), None),
    );
    t.insert("list_monitoring", (Method::GET, "/v1/monitoring".into(), None));
    t.insert(
        "create_client_calendar",
        (Method::POST, format!("/v1/clients/{c}/calendar"), Some(json!({}))),
    );
    t.insert(
        "delete_client_calendar",
        (Method::DELETE, format!("/v1/clients/{c}/calendar"), None),
    );
    t.insert(
        "upsert_practitioner",
        (
            Method::PUT,
            "/v1/practitioners/by-external-id/pr-1".into(),
            Some(json!({"name": "Booked", "email": "booked@c.example"})),
        ),
    );
    t
}

/// Every operation the OpenAPI document offers to API keys: operation id → (method, scope).
fn key_operations() -> BTreeMap<String, (String, String)> {
    let doc = serde_json::to_value(rehabit::openapi_document()).expect("document");
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"].as_str().expect("operation id").to_string();
            let security = op["security"].as_array().cloned().unwrap_or_default();
            let bearer: Vec<String> = security
                .iter()
                .filter_map(|r| r.get("bearer"))
                .flat_map(|s| s.as_array().cloned().unwrap_or_default())
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect();
            let has_bearer = security.iter().any(|r| r.get("bearer").is_some());
            // Every authenticated operation under /v1 names its permission, except a person's
            // own account.
            if has_bearer && path.starts_with("/v1/") && !path.starts_with("/v1/me") {
                assert_eq!(bearer.len(), 1, "{id} must declare the one permission it needs");
            }
            let key_scopes: Vec<&Value> = security.iter().filter_map(|r| r.get("api_key")).collect();
            match key_scopes.as_slice() {
                [] => assert!(
                    bearer.is_empty()
                        || bearer.iter().all(|p| p
                            .parse::<rehabit::auth::Permission>()
                            .is_ok_and(|p| !p.grantable_to_keys())),
                    "{id} needs {bearer:?} but is not offered to API keys"
                ),
                [scopes] => {
                    // API-key schemes have no scopes in OpenAPI: the key needs the scope the
                    // bearer requirement names, which the description states.
                    assert_eq!(scopes, &&json!([]), "{id}: the api_key requirement lists no scopes");
                    let desc = op["description"].as_str().unwrap_or("");
                    assert!(
                        desc.contains(&format!("`{}`", bearer[0])),
                        "{id} must name its permission"
                    );
                    assert!(op["responses"]["429"].is_object(), "{id} must document its rate limit");
                    ops.insert(id, (method.clone(), bearer[0].clone()));
                }
                _ => panic!("{id} has several API-key requirements"),
            }
        }
    }
    ops
}

#[actix_web::test]
async fn every_scope_is_enforced_over_every_operation() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let client = app
        .post("/v1/clients")
        .bearer(&admin)
        .json(json!({"name": "Sam", "email": "sam@c.example", "timezone": "Europe/London", "external_id": "bk-1"}))
        .send()
        .await;
    let practitioner = app
        .post("/v1/practitioners")
        .bearer(&admin)
        .json(json!({"name": "Pat", "email": "pat@c.example"}))
        .send()
        .await;
    let webhook = create_webhook(&app, &admin, "https://hooks.example.com/a", &["client.created"]).await;
    let doomed = create_webhook(&app, &admin, "https://hooks.example.com/b", &["client.created"]).await;
    let ping = app
        .post(&format!("/v1/webhooks/{}/ping", webhook["id"].as_str().expect("id")))
        .bearer(&admin)
        .send()
        .await;
    let delivery = ping.body["id"].clone();
    let made = |path: &'static str, body: Value| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let res = app.post(path).bearer(&admin).json(body).send().await;
            assert_eq!(res.status, 201, "{}", res.body);
            res.body["id"].as_str().expect("id").to_string()
        }
    };
    let exercise = json!({"name": "Own", "category": "stretch", "body_regions": ["hip"], "difficulty": 1});
    let own_exercise = made("/v1/exercises", exercise.clone()).await;
    let doomed_exercise = made("/v1/exercises", exercise).await;
    let routine = json!({"name": "Own", "items": []});
    let own_routine = made("/v1/routines", routine.clone()).await;
    let doomed_routine = made("/v1/routines", routine).await;
    let client_id = client.body["id"].as_str().expect("client").to_string();
    let assignment = app
        .post(&format!("/v1/clients/{client_id}/assignments"))
        .bearer(&admin)
        .json(json!({"routine_id": rehabit::library::content::HIP_MOBILITY, "schedule": {"start_date": "2026-11-02"}}))
        .send()
        .await;
    let assignment_id = assignment.body["id"].as_str().expect("assignment").to_string();
    let session_body = json!({
        "performed_at": (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339(),
        "pain_before": 2, "pain_after": 2,
        "entries": [{"assignment_item_id": assignment.body["items"][0]["id"], "completed": true}]
    });
    let integration = key(&app, &admin, &["sessions:write"]).await;
    let log = |body: Value| {
        let (app, integration, assignment_id) = (&app, integration.clone(), assignment_id.clone());
        async move {
            let res = app
                .post(&format!("/v1/assignments/{assignment_id}/sessions"))
                .bearer(&integration)
                .json(body)
                .send()
                .await;
            assert_eq!(res.status, 201, "{}", res.body);
            res.body["id"].as_str().expect("id").to_string()
        }
    };
    let session = log(session_body.clone()).await;
    let doomed_session = log(session_body.clone()).await;
    let mut worse = session_body.clone();
    worse["pain_after"] = json!(8);
    let flagged_session = log(worse).await;
    let outcome_path = format!("/v1/clients/{client_id}/questionnaire-assignments");
    let episode_path = format!("/v1/clients/{client_id}/monitoring-episodes");
    let interaction_path = format!("/v1/clients/{client_id}/interactions");
    let made_at = |path: String, body: Value| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let res = app.post(&path).bearer(&admin).json(body).send().await;
            assert_eq!(res.status, 201, "{}", res.body);
            res.body["id"].as_str().expect("id").to_string()
        }
    };
    let questionnaire_assignment = made_at(
        outcome_path,
        json!({"questionnaire_id": rehabit::outcomes::builtin::PSFS, "schedule": {"start_date": "2026-11-02", "every": 2, "unit": "weeks"}}),
    )
    .await;
    let episode = made_at(episode_path, json!({"start_date": "2026-11-02"})).await;
    let call = json!({"kind": "call", "minutes": 10, "interactive": true, "occurred_at": (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339()});
    let interaction = made_at(interaction_path.clone(), call.clone()).await;
    let doomed_interaction = made_at(interaction_path, call).await;
    let fixture = Fixture {
        questionnaire_assignment,
        episode,
        interaction,
        doomed_interaction,
        session_body,
        session,
        doomed_session,
        flagged_session,
        exercise: own_exercise,
        doomed_exercise,
        routine: own_routine,
        doomed_routine,
        assignment: assignment_id,
        client: client.body["id"].as_str().expect("client").to_string(),
        practitioner: practitioner.body["id"].as_str().expect("practitioner").to_string(),
        webhook: webhook["id"].as_str().expect("webhook").to_string(),
        doomed_webhook: doomed["id"].as_str().expect("webhook").to_string(),
        delivery: delivery.as_str().expect("delivery").to_string(),
    };
    let table = scope_table(&fixture);
    let documented = key_operations();
    let in_table: BTreeSet<&str> = table.keys().copied().collect();
    let in_doc: BTreeSet<&str> = documented.keys().map(String::as_str).collect();
    assert_eq!(
        in_doc, in_table,
        "the scope table must cover exactly the operations keys can call"
    );

    let mut only = BTreeMap::new();
    let mut all_but = BTreeMap::new();
    for scope in GRANTABLE {
        // Subscribing a webhook is reading events: the endpoint's `client.created` needs
        // `events:read` and `clients:read` besides `webhooks:write`.
        let with: &[&str] = match scope {
            "webhooks:write" => &["webhooks:write", "events:read", "clients:read"],
            _ => &[scope],
        };
        only.insert(scope, key(&app, &admin, with).await);
        let rest: Vec<&str> = GRANTABLE.iter().copied().filter(|s| *s != scope).collect();
        all_but.insert(scope, key(&app, &admin, &rest).await);
    }
    for (id, (method, path, body)) in &table {
        let (doc_method, scope) = &documented[*id];
        assert_eq!(doc_method.to_uppercase(), method.as_str(), "{id}");
        let send = |key: String| {
            let mut req = app.req(method.clone(), path).bearer(&key);
            if let Some(b) = body {
                req = req.json(b.clone());
            }
            req.send()
        };
        let denied = send(all_but[scope.as_str()].clone()).await;
        assert!(
            has_problem(&denied, 403),
            "{id} without `{scope}` must be 403, got {}: {}",
            denied.status,
            denied.body
        );
        let allowed = send(only[scope.as_str()].clone()).await;
        assert!(
            ![401, 403].contains(&allowed.status) && allowed.status < 500,
            "{id} with only `{scope}` must be allowed, got {}: {}",
            allowed.status,
            allowed.body
        );
    }
}

async fn events_page(app: &TestApp, key: &str, query: &str) -> (Vec<Value>, String) {
    let res = app.get(&format!("/v1/events{query}")).bearer(key).send().await;
    assert_eq!(res.status, 200, "{}", res.body);
    let cursor = res.body["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("next_cursor is never null: {}", res.body))
        .to_string();
    (res.body["items"].as_array().cloned().unwrap_or_default(), cursor)
}

fn types_of(items: &[Value]) -> Vec<&str> {
    items.iter().filter_map(|e| e["type"].as_str()).collect()
}

#[actix_web::test]
async fn the_feed_lists_a_clinics_events_in_order_and_keeps_its_place() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let other = app.admin_token("Other", "admin@o.example").await;
    let reader = key(&app, &admin, &["events:read", "clients:read"]).await;
    let client = app
        .post("/v1/clients")
        .bearer(&admin)
        .json(json!({"name": "Sam", "timezone": "Europe/London"}))
        .send()
        .await;
    let id = client.body["id"].as_str().expect("id").to_string();
    app.patch(&format!("/v1/clients/{id}"))
        .bearer(&admin)
        .json(json!({"name": "Sam Lee"}))
        .succeeds()
        .await;
    app.patch(&format!("/v1/clients/{id}"))
        .bearer(&admin)
        .json(json!({"archived": true}))
        .succeeds()
        .await;
    app.post("/v1/clients")
        .bearer(&other)
        .json(json!({"name": "Not ours", "timezone": "Europe/London"}))
        .succeeds()
        .await;

    let (items, cursor) = events_page(&app, &reader, "").await;
    assert_eq!(
        types_of(&items),
        vec!["clinic.created", "client.created", "client.updated", "client.archived"]
    );
    let archived = &items[3];
    assert_eq!(archived["data"]["id"], id.as_str());
    assert_eq!(archived["data"]["archived"], true);
    assert_eq!(archived["data"]["name"], "Sam Lee");
    for e in &items {
        assert!(e["id"].is_string() && e["occurred_at"].is_string(), "{e}");
        assert_eq!(
            e.as_object().map(|o| o.len()),
            Some(4),
            "{{id, type, occurred_at, data}}: {e}"
        );
    }

    // Caught up: nothing new, and the cursor keeps its place.
    let (none, same) = events_page(&app, &reader, &format!("?after={cursor}")).await;
    assert!(none.is_empty());
    assert_eq!(same, cursor);
    app.patch(&format!("/v1/clients/{id}"))
        .bearer(&admin)
        .json(json!({"archived": false}))
        .succeeds()
        .await;
    let (new, _) = events_page(&app, &reader, &format!("?after={cursor}")).await;
    assert_eq!(types_of(&new), vec!["client.restored"]);

    // Pages of two.
    let (first, c1) = events_page(&app, &reader, "?limit=2").await;
    let (second, c2) = events_page(&app, &reader, &format!("?limit=2&after={c1}")).await;
    let (third, _) = events_page(&app, &reader, &format!("?limit=2&after={c2}")).await;
    assert_eq!(types_of(&first), vec!["clinic.created", "client.created"]);
    assert_eq!(types_of(&second), vec!["client.updated", "client.archived"]);
    assert_eq!(types_of(&third), vec!["client.restored"]);

    // A type filter; a caught-up filtered poller moves past the events it does not want.
    let (created, c) = events_page(&app, &reader, "?types=client.created,clinic.created").await;
    assert_eq!(types_of(&created), vec!["clinic.created", "client.created"]);
    app.patch(&format!("/v1/clients/{id}"))
        .bearer(&admin)
        .json(json!({"name": "Sam L."}))
        .succeeds()
        .await;
    let (nothing, c_next) = events_page(&app, &reader, &format!("?types=client.created&after={c}")).await;
    assert!(nothing.is_empty());
    let (all_after, _) = events_page(&app, &reader, &format!("?after={c_next}")).await;
    assert!(
        all_after.is_empty(),
        "the filtered cursor moved to the head: {all_after:?}"
    );

    // An event type outside the vocabulary is read but breaks a rule: 422 ("Strict inputs").
    app.get("/v1/events?types=client.eaten")
        .bearer(&reader)
        .send()
        .await
        .problem(422);
    app.get("/v1/events?after=garbage")
        .bearer(&reader)
        .send()
        .await
        .problem(400);
    app.get("/v1/events?limit=0").bearer(&reader).send().await.problem(422);
    app.get("/v1/events?limit=201")
        .bearer(&reader)
        .send()
        .await
        .problem(422);
    // The feed's cursor is `after`; `cursor` (the lists' name) is refused, naming `after`.
    let res = app.get("/v1/events?cursor=abc").bearer(&reader).send().await;
    assert!(
        res.problem(400)["detail"].as_str().unwrap_or("").contains("`after`"),
        "{}",
        res.body
    );
    // The other clinic sees only its own.
    let (theirs, _) = events_page(&app, &other, "").await;
    assert_eq!(types_of(&theirs), vec!["clinic.created", "client.created"]);
}

/// Writers commit concurrently, holding their transaction open a random while after taking a
/// number (some roll back); a poller following the cursor must see every committed event
/// exactly once, in order.
#[actix_web::test]
async fn a_poller_sees_every_event_once_and_in_order_under_concurrent_writers() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    use std::cell::Cell;
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let app = TestApp::spawn_with(|c| c.database_pool_size = 8).await;
    let signup = app.signup("Busy", "admin@busy.example").await;
    let clinic: uuid::Uuid = signup["clinic"]["id"].as_str().expect("clinic").parse().expect("uuid");
    let admin_login = app.login("admin@busy.example", PASSWORD).await;
    let admin = admin_login.body["access_token"].as_str().expect("token").to_string();
    let reader = key(&app, &admin, &["events:read", "clients:read"]).await;
    let writing = Cell::new(WRITERS + 1);

    let writer = |w: usize| {
        let url = app.db_url.clone();
        let writing = &writing;
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await.expect("db");
            for i in 0..EACH {
                let rollback = i % 7 == 3;
                let _ = conn
                    .transaction::<_, diesel::result::Error, _>(async move |conn| {
                        rehabit::events::emit(
                            conn,
                            clinic,
                            rehabit::events::EventType::ClientUpdated,
                            &json!({"writer": w, "n": i}),
                        )
                        .await?;
                        diesel::sql_query("SELECT pg_sleep(random() * 0.02)")
                            .execute(conn)
                            .await?;
                        if rollback {
                            return Err(diesel::result::Error::RollbackTransaction);
                        }
                        Ok(())
                    })
                    .await;
            }
            writing.set(writing.get() - 1);
        }
    };
    // Writes through the API too, alongside the direct writers.
    let api_writer = async {
        for i in 0..20 {
            let res = app
                .post("/v1/clients")
                .bearer(&admin)
                .json(json!({"name": format!("Client {i}"), "timezone": "Europe/London"}))
                .send()
                .await;
            assert_eq!(res.status, 201, "{}", res.body);
        }
        writing.set(writing.get() - 1);
    };
    let poller = async {
        let mut seen: Vec<Value> = Vec::new();
        let mut cursor = String::new();
        let mut polls = 0;
        loop {
            let done = writing.get() == 0;
            let query = if cursor.is_empty() {
                "?limit=7".to_string()
            } else {
                format!("?limit=7&after={cursor}")
            };
            let (items, next) = events_page(&app, &reader, &query).await;
            polls += 1;
            let empty = items.is_empty();
            seen.extend(items);
            cursor = next;
            if done && empty {
                return (seen, polls);
            }
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
    };
    let writers = futures_util::future::join_all((0..WRITERS).map(writer));
    let (_, _, (seen, polls)) = tokio::join!(writers, api_writer, poller);

    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    let committed: Vec<uuid::Uuid> = diesel::sql_query("SELECT id FROM events WHERE clinic_id = $1 ORDER BY seq")
        .bind::<diesel::sql_types::Uuid, _>(clinic)
        .load::<Id>(&mut app.db().await)
        .await
        .expect("events")
        .into_iter()
        .map(|r| r.id)
        .collect();
    let polled: Vec<uuid::Uuid> = seen
        .iter()
        .map(|e| e["id"].as_str().expect("id").parse().expect("uuid"))
        .collect();
    let rolled_back = (0..EACH).filter(|i| i % 7 == 3).count() * WRITERS;
    assert_eq!(committed.len(), 1 + 20 + WRITERS * EACH - rolled_back);
    assert_eq!(
        polled, committed,
        "the poller saw every committed event once, in commit order"
    );
    assert!(polls > 10, "the poller ran while writers wrote ({polls} polls)");
}

/// The sequencer's promise with a transaction held open for seconds: several writers commit
/// while one keeps its event uncommitted, three readers page the feed at the same time. Each
/// reader sees every committed event exactly once, all in the same order; the long writer's
/// event, written before the others but committed after them, comes after them.
#[actix_web::test]
async fn three_readers_see_every_event_once_while_a_writer_stays_open_for_seconds() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    use std::cell::Cell;
    const WRITERS: usize = 4;
    const EACH: usize = 15;
    const READERS: usize = 3;
    let app = TestApp::spawn_with(|c| c.database_pool_size = 8).await;
    let signup = app.signup("Held", "admin@held.example").await;
    let clinic: uuid::Uuid = signup["clinic"]["id"].as_str().expect("clinic").parse().expect("uuid");
    let admin = app.login("admin@held.example", PASSWORD).await.body["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let reader = key(&app, &admin, &["events:read", "clients:read"]).await;
    let opened = std::sync::atomic::AtomicBool::new(false);
    let writing = Cell::new(WRITERS + 1);

    let long_writer = async {
        let mut conn = AsyncPgConnection::establish(&app.db_url).await.expect("db");
        let opened = &opened;
        let id = conn
            .transaction::<_, diesel::result::Error, _>(async move |conn| {
                let id = rehabit::events::emit(
                    conn,
                    clinic,
                    rehabit::events::EventType::ClientUpdated,
                    &json!({"long": true}),
                )
                .await?;
                opened.store(true, Ordering::SeqCst);
                diesel::sql_query("SELECT pg_sleep(2)").execute(conn).await?;
                Ok(id)
            })
            .await
            .expect("long transaction");
        writing.set(writing.get() - 1);
        id
    };
    let writer = |w: usize| {
        let (url, opened, writing) = (app.db_url.clone(), &opened, &writing);
        async move {
            // Starts once the long transaction holds its (unnumbered) event.
            while !opened.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let mut conn = AsyncPgConnection::establish(&url).await.expect("db");
            for i in 0..EACH {
                let _ = conn
                    .transaction::<_, diesel::result::Error, _>(async move |conn| {
                        rehabit::events::emit(
                            conn,
                            clinic,
                            rehabit::events::EventType::ClientUpdated,
                            &json!({"writer": w, "n": i}),
                        )
                        .await?;
                        diesel::sql_query("SELECT pg_sleep(random() * 0.01)")
                            .execute(conn)
                            .await?;
                        if i % 5 == 2 {
                            return Err(diesel::result::Error::RollbackTransaction);
                        }
                        Ok(())
                    })
                    .await;
            }
            writing.set(writing.get() - 1);
        }
    };
    let poller = |_: usize| {
        let (app, reader, writing) = (&app, &reader, &writing);
        async move {
            let mut seen: Vec<uuid::Uuid> = Vec::new();
            let mut cursor = String::new();
            loop {
                let done = writing.get() == 0;
                let query = if cursor.is_empty() {
                    "?limit=5".to_string()
                } else {
                    format!("?limit=5&after={cursor}")
                };
                let (items, next) = events_page(app, reader, &query).await;
                let empty = items.is_empty();
                seen.extend(
                    items
                        .iter()
                        .map(|e| e["id"].as_str().expect("id").parse::<uuid::Uuid>().expect("uuid")),
                );
                cursor = next;
                if done && empty {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    let (long_id, _, seen) = tokio::join!(
        long_writer,
        futures_util::future::join_all((0..WRITERS).map(writer)),
        futures_util::future::join_all((0..READERS).map(poller)),
    );

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        seq: Option<i64>,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        written: i64,
    }
    let rows: Vec<Row> = diesel::sql_query("SELECT id, seq, written FROM events WHERE clinic_id = $1 ORDER BY seq")
        .bind::<diesel::sql_types::Uuid, _>(clinic)
        .load(&mut app.db().await)
        .await
        .expect("events");
    let committed_writes = WRITERS * (EACH - (0..EACH).filter(|i| i % 5 == 2).count());
    assert_eq!(
        rows.len(),
        1 + 1 + committed_writes,
        "clinic.created, the long one, the writers'"
    );
    let seqs: Vec<Option<i64>> = rows.iter().map(|r| r.seq).collect();
    let expected: Vec<Option<i64>> = (1..).take(rows.len()).map(Some).collect();
    assert_eq!(seqs, expected, "every committed event numbered, without a gap");
    let committed: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
    for (n, seen) in seen.iter().enumerate() {
        assert_eq!(seen, &committed, "reader {n} saw every committed event once, in order");
    }
    let long = rows.iter().find(|r| r.id == long_id).expect("the long event");
    assert!(
        rows.iter().any(|r| r.written > long.written && r.seq < long.seq),
        "events committed while the long transaction was open come before its event"
    );
}

/// A cursor a poller stored before events were numbered by the sequencer (`{"seq":5}`, encoded
/// as the feed encodes it) resumes at the same event, and new events follow the old numbers.
#[actix_web::test]
async fn a_cursor_stored_before_the_sequencer_resumes_in_place() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Old", "admin@old.example").await;
    let reader = key(&app, &admin, &["events:read", "clients:read"]).await;
    let mut db = app.db().await;
    // What the outbox held before the change: events numbered at write time, the counter at the
    // last number. (The sign-up's event takes number 1 first.)
    rehabit::events::sequence_all(&mut db).await.expect("sequence");
    let inserted = diesel::sql_query(
        "WITH c AS (SELECT clinic_id FROM events WHERE seq = 1)
         INSERT INTO events (clinic_id, seq, id, type, data)
         SELECT c.clinic_id, n, rehabit_uuid_v7(), 'client.updated', jsonb_build_object('old', n) FROM c, generate_series(2, 8) n",
    )
    .execute(&mut db)
    .await
    .expect("old events");
    assert_eq!(inserted, 7);
    diesel::sql_query(
        "UPDATE event_counters SET last_seq = 8 WHERE clinic_id = (SELECT clinic_id FROM events WHERE seq = 1)",
    )
    .execute(&mut db)
    .await
    .expect("counter");
    let stored = "eyJzZXEiOjV9";
    assert_eq!(
        stored,
        rehabit::http::pagination::encode_cursor(&json!({"seq": 5})),
        "the cursor is the feed's encoding of position 5"
    );
    let (items, next) = events_page(&app, &reader, &format!("?after={stored}")).await;
    let old: Vec<&Value> = items.iter().map(|e| &e["data"]["old"]).collect();
    assert_eq!(old, vec![&json!(6), &json!(7), &json!(8)]);
    app.post("/v1/clients")
        .bearer(&admin)
        .json(json!({"name": "New", "timezone": "Europe/London"}))
        .succeeds()
        .await;
    let (items, _) = events_page(&app, &reader, &format!("?after={next}")).await;
    assert_eq!(types_of(&items), vec!["client.created"]);
    let (items, _) = events_page(&app, &reader, &format!("?after={stored}")).await;
    assert_eq!(
        items.len(),
        4,
        "the stored cursor still reads from position 6: {items:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Webhooks, against a real HTTP receiver on 127.0.0.1.

use rehabit::webhooks::worker::{Clock, Worker};
use std::sync::atomic::{AtomicI64, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone)]
struct Received {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A tiny HTTP/1.1 server that records each request and answers with a configurable status
/// after a configurable delay.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let got = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (g, s, d) = (got.clone(), status.clone(), delay_ms.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (g, s, d) = (g.clone(), s.clone(), d.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let Ok(n) = sock.read(&mut chunk).await else { return };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let headers: BTreeMap<String, String> = head
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    let len: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
                    while buf.len() < head_end + len {
                        let Ok(n) = sock.read(&mut chunk).await else { return };
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = buf[head_end..].to_vec();
                    g.lock().expect("lock").push(Received { headers, body });
                    let delay = AtomicU64::load(&d, Ordering::SeqCst);
                    if delay > 0 {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                    }
                    let code = AtomicU16::load(&s, Ordering::SeqCst);
                    let reply = format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                    let _ = sock.write_all(reply.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Receiver {
            url: format!("http://{addr}/hooks"),
            got,
            status,
            delay_ms,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }
}

/// A clock the test moves by hand.
struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    fn new() -> (ManualClock, Clock) {
        let micros = Arc::new(AtomicI64::new(chrono::Utc::now().timestamp_micros()));
        let read = micros.clone();
        let clock: Clock = Arc::new(move || {
            chrono::DateTime::from_timestamp_micros(AtomicI64::load(&read, Ordering::SeqCst)).expect("time")
        });
        (ManualClock(micros), clock)
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_micros(AtomicI64::load(&self.0, Ordering::SeqCst)).expect("time")
    }

    fn set(&self, t: chrono::DateTime<chrono::Utc>) {
        self.0.store(t.timestamp_micros(), Ordering::SeqCst);
    }
}

fn worker(app: &TestApp, block_private: bool, clock: Clock) -> Worker {
    let pool = rehabit::db::pool(&app.db_url, 2).expect("pool");
    Worker::new(pool, block_private, clock).expect("worker")
}

async fn create_webhook(app: &TestApp, token: &str, url: &str, events: &[&str]) -> Value {
    let res = app
        .post("/v1/webhooks")
        .bearer(token)
        .json(json!({"url": url, "events": events, "description": "Booking system"}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body
}

async fn deliveries(app: &TestApp, token: &str, webhook: &str) -> Vec<Value> {
    let res = app
        .get(&format!("/v1/webhooks/{webhook}/deliveries?limit=200"))
        .bearer(token)
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body["items"].as_array().cloned().unwrap_or_default()
}

async fn new_client(app: &TestApp, token: &str, name: &str) -> Value {
    let res = app
        .post("/v1/clients")
        .bearer(token)
        .json(json!({"name": name, "timezone": "Europe/London"}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body
}

/// HMAC-SHA256 computed here, independently of the service's signing code.
fn hmac_hex(secret: &str, t: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn signatures(r: &Received) -> (String, Vec<String>) {
    let header = r.headers.get("rehabit-signature").expect("signature header");
    let mut t = String::new();
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.to_string(),
            Some(("v1", x)) => v1.push(x.to_string()),
            other => panic!("unexpected signature part {other:?}"),
        }
    }
    (t, v1)
}

#[actix_web::test]
async fn a_delivery_is_signed_shaped_like_the_feed_and_verifies() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let receiver = Receiver::start().await;
    let created = create_webhook(&app, &admin, &receiver.url, &["client.created", "client.archived"]).await;
    let secret = created["secret"].as_str().expect("secret").to_string();
    let webhook = created["id"].as_str().expect("id").to_string();
    assert!(secret.starts_with("whsec_") && secret.len() > 40);
    assert_eq!(created["events"], json!(["client.created", "client.archived"]));
    assert_eq!(created["enabled"], true);
    let got = app.get(&format!("/v1/webhooks/{webhook}")).bearer(&admin).send().await;
    assert!(got.body.get("secret").is_none());
    assert!(!String::from_utf8_lossy(&got.raw).contains(&secret));
    let listed = app.get("/v1/webhooks").bearer(&admin).send().await;
    assert!(!String::from_utf8_lossy(&listed.raw).contains(&secret));

    let client = new_client(&app, &admin, "Sam").await;
    let id = client["id"].as_str().expect("id");
    // Not subscribed: no delivery.
    app.patch(&format!("/v1/clients/{id}"))
        .bearer(&admin)
        .json(json!({"name": "Sam Lee"}))
        .succeeds()
        .await;
    let (clock_handle, clock) = ManualClock::new();
    let w = worker(&app, false, clock);
    assert_eq!(w.run_once().await.expect("run"), 1);
    assert_eq!(w.run_once().await.expect("run"), 0, "a success is not sent again");

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    let body = r.json();
    assert_eq!(body["type"], "client.created");
    assert_eq!(body["data"]["id"], id);
    assert_eq!(
        r.headers.get("rehabit-event-id").map(String::as_str),
        body["id"].as_str()
    );
    assert_eq!(
        r.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let (t, v1) = signatures(r);
    assert_eq!(r.headers.get("rehabit-timestamp"), Some(&t));
    assert_eq!(t, clock_handle.now().timestamp().to_string());
    assert_eq!(
        v1,
        vec![hmac_hex(&secret, &t, &r.body)],
        "the signature verifies with the secret"
    );
    assert!(rehabit::webhooks::signing::verify(
        r.headers.get("rehabit-signature").expect("sig"),
        &secret,
        &r.body,
        clock_handle.now().timestamp(),
        300
    ));

    // The body is the feed's event, field for field.
    let reader = key(&app, &admin, &["events:read", "clients:read"]).await;
    let (feed, _) = events_page(&app, &reader, "?types=client.created").await;
    assert_eq!(feed[0], body);

    let list = deliveries(&app, &admin, &webhook).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["state"], "succeeded");
    assert_eq!(list[0]["event_id"], body["id"]);
    assert_eq!(list[0]["attempts"][0]["status_code"], 200);
    assert!(list[0]["attempts"][0]["duration_ms"].is_number());
    assert_eq!(list[0]["attempts"][0]["error"], Value::Null);

    // Ping: a signed `ping` event for this endpoint only.
    let ping = app
        .post(&format!("/v1/webhooks/{webhook}/ping"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(ping.status, 202, "{}", ping.body);
    assert_eq!(ping.body["event_type"], "ping");
    clock_handle.set(chrono::Utc::now());
    assert_eq!(w.run_once().await.expect("run"), 1);
    let r = receiver.received().pop().expect("ping");
    assert_eq!(r.json()["type"], "ping");
    assert_eq!(r.json()["data"]["webhook_id"], webhook.as_str());
    let (t, v1) = signatures(&r);
    assert_eq!(v1, vec![hmac_hex(&secret, &t, &r.body)]);

    // Rotation: the new secret signs at once, the old one too for a while.
    let rotated = app
        .post(&format!("/v1/webhooks/{webhook}/rotate-secret"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().expect("secret").to_string();
    assert_ne!(new_secret, secret);
    app.patch(&format!("/v1/clients/{id}"))
        .bearer(&admin)
        .json(json!({"archived": true}))
        .succeeds()
        .await;
    clock_handle.set(chrono::Utc::now());
    assert_eq!(w.run_once().await.expect("run"), 1);
    let r = receiver.received().pop().expect("archived");
    assert_eq!(r.json()["type"], "client.archived");
    let (t, v1) = signatures(&r);
    assert_eq!(
        v1,
        vec![hmac_hex(&new_secret, &t, &r.body), hmac_hex(&secret, &t, &r.body)]
    );
}

#[actix_web::test]
async fn a_failing_receiver_is_retried_on_the_backoff_schedule_then_the_endpoint_is_disabled() {
    use rehabit::webhooks::schedule::{RETRY_WINDOW, retry_delay};
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let receiver = Receiver::start().await;
    receiver.status.store(500, Ordering::SeqCst);
    let created = create_webhook(&app, &admin, &receiver.url, &["client.created"]).await;
    let webhook = created["id"].as_str().expect("id").to_string();
    new_client(&app, &admin, "Sam").await;
    let (clock, now) = ManualClock::new();
    let start = clock.now();
    let w = worker(&app, false, now);

    let mut attempt_times = Vec::new();
    for n in 1..=40u32 {
        assert_eq!(w.run_once().await.expect("run"), 1, "attempt {n} is due");
        attempt_times.push(clock.now());
        let d = deliveries(&app, &admin, &webhook).await.remove(0);
        assert_eq!(d["attempts"].as_array().map(Vec::len), Some(n as usize));
        if d["state"] == "failed" {
            break;
        }
        assert_eq!(d["state"], "pending");
        let next: chrono::DateTime<chrono::Utc> = d["next_attempt_at"].as_str().expect("next").parse().expect("time");
        assert_eq!(next - clock.now(), retry_delay(n), "after failure {n}");
        // Nothing is sent before it is due.
        clock.set(next - chrono::Duration::seconds(1));
        assert_eq!(w.run_once().await.expect("run"), 0);
        clock.set(next);
    }
    let d = deliveries(&app, &admin, &webhook).await.remove(0);
    assert_eq!(d["state"], "failed");
    let last = *attempt_times.last().expect("attempts");
    assert!(last - start >= RETRY_WINDOW, "retried for at least three days");
    assert_eq!(attempt_times.len(), 22);
    let got = receiver.received();
    assert_eq!(got.len(), attempt_times.len(), "one request per attempt");
    assert!(
        got.iter().all(|r| r.json()["id"] == got[0].json()["id"]),
        "the same event each time"
    );
    let first = &d["attempts"][0];
    assert_eq!(first["status_code"], 500);
    assert_eq!(first["error"], "the receiver answered 500");

    // Failing for the whole window turned the endpoint off, and it says why.
    let hook = app.get(&format!("/v1/webhooks/{webhook}")).bearer(&admin).send().await;
    assert_eq!(hook.body["enabled"], false);
    assert!(
        hook.body["disabled_reason"].as_str().is_some_and(|r| r.contains("500")),
        "{}",
        hook.body
    );
    // While off, new events are not queued for it; pings are refused.
    new_client(&app, &admin, "Kim").await;
    assert_eq!(deliveries(&app, &admin, &webhook).await.len(), 1);
    app.post(&format!("/v1/webhooks/{webhook}/ping"))
        .bearer(&admin)
        .send()
        .await
        .problem(409);
    // Turned back on, it gets events again.
    let res = app
        .patch(&format!("/v1/webhooks/{webhook}"))
        .bearer(&admin)
        .json(json!({"enabled": true}))
        .send()
        .await;
    assert_eq!((res.status, &res.body["enabled"]), (200, &json!(true)), "{}", res.body);
    assert_eq!(res.body["disabled_reason"], Value::Null);
    receiver.status.store(204, Ordering::SeqCst);
    new_client(&app, &admin, "Lee").await;
    assert_eq!(w.run_once().await.expect("run"), 1);
    assert_eq!(
        receiver.received().last().map(|r| r.json()["data"]["name"].clone()),
        Some(json!("Lee"))
    );
}

#[actix_web::test]
async fn two_workers_never_send_an_event_twice() {
    let app = TestApp::spawn_with(|c| c.database_pool_size = 6).await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let receiver = Receiver::start().await;
    receiver.delay_ms.store(15, Ordering::SeqCst);
    create_webhook(&app, &admin, &receiver.url, &["client.created"]).await;
    const EVENTS: usize = 60;
    for i in 0..EVENTS {
        new_client(&app, &admin, &format!("Client {i}")).await;
    }
    let (_, clock) = ManualClock::new();
    let (a, b) = (worker(&app, false, clock.clone()), worker(&app, false, clock));
    #[derive(QueryableByName)]
    struct Pending {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let url = app.db_url.clone();
    let drain = |w: Worker| {
        let url = url.clone();
        async move {
            use diesel_async::AsyncConnection;
            let mut db = diesel_async::AsyncPgConnection::establish(&url).await.expect("db");
            let mut sent = 0;
            for _ in 0..500 {
                match w.run_once().await.expect("run") {
                    0 => {
                        let pending: Pending =
                            diesel::sql_query("SELECT count(*) AS n FROM webhook_deliveries WHERE state = 'pending'")
                                .get_result(&mut db)
                                .await
                                .expect("count");
                        if pending.n == 0 {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    n => sent += n,
                }
            }
            sent
        }
    };
    let (sent_a, sent_b) = tokio::join!(drain(a), drain(b));
    assert_eq!(sent_a + sent_b, EVENTS);
    assert!(sent_a > 0 && sent_b > 0, "both workers took part: {sent_a} + {sent_b}");
    let ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.headers["rehabit-event-id"].clone())
        .collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), EVENTS, "every event was sent once");
    assert_eq!(unique.len(), EVENTS, "no event was sent twice");
}

#[actix_web::test]
async fn redelivery_sends_the_same_event_again_as_a_new_delivery() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let other = app.admin_token("Other", "admin@o.example").await;
    let receiver = Receiver::start().await;
    let webhook = create_webhook(&app, &admin, &receiver.url, &["client.created"]).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    new_client(&app, &admin, "Sam").await;
    let w = worker(&app, false, rehabit::webhooks::worker::system_clock());
    w.run_once().await.expect("run");
    let first = deliveries(&app, &admin, &webhook).await.remove(0);
    let first_id = first["id"].as_str().expect("id");
    let path = format!("/v1/webhooks/{webhook}/deliveries/{first_id}/redeliver");
    app.post(&path).bearer(&other).send().await.problem(404);
    let again = app.post(&path).bearer(&admin).send().await;
    assert_eq!(again.status, 202, "{}", again.body);
    assert_eq!(again.body["redelivery_of"], first_id);
    assert_eq!(again.body["event_id"], first["event_id"]);
    assert_eq!(again.body["state"], "pending");
    assert_eq!(w.run_once().await.expect("run"), 1);
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body, "the same body");
    assert_eq!(got[0].headers["rehabit-event-id"], got[1].headers["rehabit-event-id"]);
    assert_ne!(
        got[0].headers["rehabit-delivery-id"],
        got[1].headers["rehabit-delivery-id"]
    );
    let list = deliveries(&app, &admin, &webhook).await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["state"], "succeeded");
    let failed = app
        .get(&format!("/v1/webhooks/{webhook}/deliveries?state=failed"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(failed.body["items"], json!([]));
}

#[actix_web::test]
async fn housekeeping_deletes_deliveries_finished_long_ago() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let receiver = Receiver::start().await;
    let webhook = create_webhook(&app, &admin, &receiver.url, &["client.created"]).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    new_client(&app, &admin, "Old").await;
    let w = worker(&app, false, rehabit::webhooks::worker::system_clock());
    w.run_once().await.expect("run");
    let old = deliveries(&app, &admin, &webhook).await.remove(0);
    let old_id = old["id"].as_str().expect("id");
    // A redelivery of it, finished now; and a new event whose delivery is still pending.
    let path = format!("/v1/webhooks/{webhook}/deliveries/{old_id}/redeliver");
    assert_eq!(app.post(&path).bearer(&admin).send().await.status, 202);
    w.run_once().await.expect("run");
    new_client(&app, &admin, "Pending").await;
    let mut db = app.db().await;
    let aged = diesel::sql_query(format!(
        "UPDATE webhook_deliveries SET completed_at = now() - interval '31 days' WHERE id = '{old_id}'"
    ))
    .execute(&mut db)
    .await
    .expect("age it");
    assert_eq!(aged, 1);

    let purged = rehabit::housekeeping::run_once(&mut db).await.expect("housekeeping");
    assert_eq!(purged.deliveries, 1);
    let left = deliveries(&app, &admin, &webhook).await;
    assert_eq!(left.len(), 2, "the redelivery and the pending one stay");
    assert!(left.iter().all(|d| d["id"] != old_id));
    assert!(left.iter().any(|d| d["state"] == "pending"));
    assert!(
        left.iter().all(|d| d["redelivery_of"].is_null()),
        "a redelivery outlives the delivery it repeated"
    );
    assert_eq!(
        rehabit::housekeeping::run_once(&mut db)
            .await
            .expect("again")
            .deliveries,
        0
    );
}

#[actix_web::test]
async fn webhook_endpoints_are_managed_with_versions_and_stay_in_their_clinic() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let other = app.admin_token("Other", "admin@o.example").await;
    let created = create_webhook(&app, &admin, "https://hooks.example.com/a", &["client.created"]).await;
    let id = created["id"].as_str().expect("id");
    let path = format!("/v1/webhooks/{id}");
    app.get(&path).bearer(&other).send().await.problem(404);
    app.delete(&path).bearer(&other).send().await.problem(404);
    let res = app
        .patch(&path)
        .bearer(&admin)
        .header("If-Match", "\"7\"")
        .json(json!({"description": "x"}))
        .send()
        .await;
    res.problem(412);
    let res = app
        .patch(&path)
        .bearer(&admin)
        .header("If-Match", "\"1\"")
        .json(json!({"events": ["client.created", "client.updated"], "enabled": false, "url": "http://hooks.example.com/b"}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("etag"), Some("\"2\""));
    assert_eq!(res.body["enabled"], false);
    assert_eq!(res.body["url"], "http://hooks.example.com/b");
    assert_eq!(res.body["events"], json!(["client.created", "client.updated"]));
    let res = app.patch(&path).bearer(&admin).json(json!({"events": []})).send().await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "events");
    let res = app.patch(&path).bearer(&admin).json(json!({"url": null})).send().await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "url");
    // Deleting it is final.
    app.delete(&path)
        .bearer(&admin)
        .header("If-Match", "\"1\"")
        .send()
        .await
        .problem(412);
    assert_eq!(app.delete(&path).bearer(&admin).send().await.status, 204);
    app.get(&path).bearer(&admin).send().await.problem(404);
    app.post(&format!("{path}/ping"))
        .bearer(&admin)
        .send()
        .await
        .problem(404);
    app.get(&format!("{path}/deliveries"))
        .bearer(&admin)
        .send()
        .await
        .problem(404);

    // Validation.
    let refuse = |body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let res = app.post("/v1/webhooks").bearer(&admin).json(body).send().await;
            res.problem(422);
            res.error_fields()
        }
    };
    assert_eq!(
        refuse(json!({"url": "ftp://x.example/", "events": ["client.created"]})).await,
        vec!["url"]
    );
    assert_eq!(
        refuse(json!({"url": "https://u:p@x.example/", "events": ["client.created"]})).await,
        vec!["url"]
    );
    assert_eq!(
        refuse(json!({"url": "https://x.example/", "events": ["client.eaten"]})).await,
        vec!["events[0]"]
    );
    assert_eq!(
        refuse(json!({"url": "https://x.example/", "events": []})).await,
        vec!["events"]
    );
    // Private targets are allowed by default.
    create_webhook(&app, &admin, "http://127.0.0.1:9/hook", &["client.created"]).await;
}

#[actix_web::test]
async fn private_targets_are_refused_when_blocked_at_registration_and_at_delivery() {
    let app = TestApp::spawn_with(|c| c.webhook_block_private_networks = true).await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest",
        "http://localhost:9000/hook",
    ] {
        let res = app
            .post("/v1/webhooks")
            .bearer(&admin)
            .json(json!({"url": url, "events": ["client.created"]}))
            .send()
            .await;
        assert_eq!(res.problem(422)["errors"][0]["field"], "url", "{url}");
    }
    // An endpoint whose name only resolves to loopback at delivery time (registered before the
    // setting was on, say) is refused after DNS resolution; so is a literal address.
    let receiver = Receiver::start().await;
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next())
        .expect("port")
        .to_string();
    let by_name = create_webhook(&app, &admin, "https://hooks.example.com/x", &["client.created"]).await;
    let by_ip = create_webhook(&app, &admin, "https://hooks.example.com/y", &["client.created"]).await;
    let mut db = app.db().await;
    for (hook, url) in [
        (&by_name, format!("http://localhost:{port}/hooks")),
        (&by_ip, format!("http://127.0.0.1:{port}/hooks")),
    ] {
        diesel::sql_query("UPDATE webhooks SET url = $1 WHERE id = $2")
            .bind::<Text, _>(url)
            .bind::<diesel::sql_types::Uuid, _>(hook["id"].as_str().expect("id").parse::<uuid::Uuid>().expect("uuid"))
            .execute(&mut db)
            .await
            .expect("point at loopback");
    }
    new_client(&app, &admin, "Sam").await;
    let (_, clock) = ManualClock::new();
    let w = worker(&app, true, clock);
    assert_eq!(w.run_once().await.expect("run"), 2);
    assert!(receiver.received().is_empty(), "nothing reached the loopback receiver");
    for hook in [&by_name, &by_ip] {
        let d = deliveries(&app, &admin, hook["id"].as_str().expect("id"))
            .await
            .remove(0);
        let error = d["attempts"][0]["error"].as_str().unwrap_or("").to_string();
        assert!(error.contains("WEBHOOK_BLOCK_PRIVATE_NETWORKS"), "{error}");
        assert_eq!(d["state"], "pending", "it will be retried");
    }
}

/// Issue 12: with private networks allowed (the default), cloud metadata and the host's own
/// unspecified address were still accepted and tried.
#[actix_web::test]
async fn link_local_unspecified_and_multicast_targets_are_never_allowed() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:8080/hook",
        "http://[::]/hook",
        "http://[fe80::1]/hook",
        "http://[ff02::1]/hook",
        "http://224.0.0.1/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://[fd00:ec2::254]/latest",
    ] {
        let res = app
            .post("/v1/webhooks")
            .bearer(&admin)
            .json(json!({"url": url, "events": ["client.created"]}))
            .send()
            .await;
        let problem = res.problem(422);
        assert_eq!(problem["errors"][0]["field"], "url", "{url}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap_or("")
                .contains("never a webhook target"),
            "{url}: {problem}"
        );
    }
    let hook = create_webhook(&app, &admin, "https://hooks.example.com/x", &["client.created"]).await;
    let id = hook["id"].as_str().expect("id");
    let res = app
        .patch(&format!("/v1/webhooks/{id}"))
        .bearer(&admin)
        .json(json!({"url": "http://169.254.169.254/"}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "url");
    // A row that points there anyway (written before this rule) is refused at delivery.
    diesel::sql_query("UPDATE webhooks SET url = 'http://169.254.169.254/latest' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(id.parse::<uuid::Uuid>().expect("uuid"))
        .execute(&mut app.db().await)
        .await
        .expect("point at the metadata service");
    new_client(&app, &admin, "Sam").await;
    let (_, clock) = ManualClock::new();
    assert_eq!(worker(&app, false, clock).run_once().await.expect("run"), 1);
    let d = deliveries(&app, &admin, id).await.remove(0);
    let error = d["attempts"][0]["error"].as_str().unwrap_or("").to_string();
    assert!(error.contains("never a webhook target"), "{error}");
}

#[actix_web::test]
async fn a_running_worker_delivers_every_event_while_a_receiver_that_never_answers_holds_its_own() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let receiver = Receiver::start().await;
    let stuck = Receiver::start().await;
    // Longer than the test: this receiver holds every delivery it gets.
    stuck.delay_ms.store(600_000, Ordering::SeqCst);
    create_webhook(&app, &admin, &stuck.url, &["client.created"]).await;
    create_webhook(&app, &admin, &receiver.url, &["client.created"]).await;
    let pool = rehabit::db::pool(&app.db_url, 2).expect("pool");
    let running = Worker::new(pool, false, rehabit::webhooks::worker::system_clock())
        .expect("worker")
        .spawn(Duration::from_millis(100));

    // Each create answers (new_client asserts 201) although the stuck receiver never does: the
    // API does not wait for deliveries.
    let mut ids = Vec::new();
    for i in 0..5 {
        let client = new_client(&app, &admin, &format!("Client {i}")).await;
        ids.push(client["id"].as_str().expect("client id").to_string());
    }
    // Every event reaches the healthy receiver while the stuck one still holds its first. The
    // bound only stops a broken worker from hanging the suite; it measures nothing.
    let give_up = Instant::now() + Duration::from_secs(60);
    while receiver.received().len() < ids.len() {
        assert!(
            Instant::now() < give_up,
            "only {} of 5 deliveries arrived",
            receiver.received().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.abort();
    let delivered: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).expect("json body");
            body["data"]["id"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    let mut expected = ids;
    let mut got = delivered.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "each client's event once: {delivered:?}");
}
