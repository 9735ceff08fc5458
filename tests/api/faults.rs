//! Faults without surprises (issue 13), in-process: retries that never duplicate.
//!
//! These tests assert outcomes, never timings.

use crate::helpers::TestApp;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use serde_json::json;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(&mut app.db().await)
        .await
        .expect("count")
        .n
}

async fn clients_named(app: &TestApp, name: &str) -> i64 {
    diesel::sql_query("SELECT count(*) AS n FROM clients WHERE name = $1")
        .bind::<Text, _>(name)
        .get_result::<Count>(&mut app.db().await)
        .await
        .expect("count")
        .n
}

/// The old middleware committed the work, then failed to store the answer (no free connection
/// then): the key stayed reserved (409 for a minute), and then the work ran again. Now the
/// answer is stored in the work's own transaction: when it cannot be stored, the work is not
/// kept either, and the retry is a clean first attempt.
#[actix_web::test]
async fn work_whose_answer_cannot_be_stored_is_not_kept() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    // A fault injected below the service: storing a finished answer fails.
    app.db()
        .await
        .batch_execute(
            "CREATE FUNCTION refuse_answers() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected: the answer cannot be stored'; END $$; \
             CREATE TRIGGER refuse_answers BEFORE INSERT OR UPDATE ON idempotency_keys \
             FOR EACH ROW WHEN (NEW.completed) EXECUTE FUNCTION refuse_answers();",
        )
        .await
        .expect("inject the fault");
    let create = || {
        app.post("/v1/clients")
            .bearer(&admin)
            .header("Idempotency-Key", "sam-once")
            .json(json!({"name": "Sam Once", "timezone": "UTC"}))
            .send()
    };
    let first = create().await;
    assert!(
        first.status >= 500,
        "the answer was not stored, so neither is the work: {}",
        first.body
    );
    assert_eq!(clients_named(&app, "Sam Once").await, 0, "work kept without its answer");

    app.db()
        .await
        .batch_execute("DROP TRIGGER refuse_answers ON idempotency_keys")
        .await
        .expect("heal");
    let retry = create().await;
    assert_eq!(retry.status, 201, "a clean second attempt, not a 409: {}", retry.body);
    assert_eq!(retry.header("idempotency-replayed"), None);
    let replay = create().await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header("idempotency-replayed"), Some("true"));
    assert_eq!(replay.body["id"], retry.body["id"]);
    assert_eq!(clients_named(&app, "Sam Once").await, 1);
}

/// A server error releases the key at once: the retry runs, it is not refused as "in progress".
#[actix_web::test]
async fn a_server_error_releases_its_key() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    app.db()
        .await
        .batch_execute(
            "CREATE FUNCTION refuse_clients() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected: clients cannot be written'; END $$; \
             CREATE TRIGGER refuse_clients BEFORE INSERT ON clients \
             FOR EACH ROW EXECUTE FUNCTION refuse_clients();",
        )
        .await
        .expect("inject the fault");
    let create = || {
        app.post("/v1/clients")
            .bearer(&admin)
            .header("Idempotency-Key", "sam-later")
            .json(json!({"name": "Sam Later", "timezone": "UTC"}))
            .send()
    };
    let failed = create().await;
    assert_eq!(failed.status, 500, "{}", failed.body);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM idempotency_keys").await, 0);
    app.db()
        .await
        .batch_execute("DROP TRIGGER refuse_clients ON clients")
        .await
        .expect("heal");
    let retry = create().await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(clients_named(&app, "Sam Later").await, 1);
}

/// Every connection a request uses while its key is held belongs to one transaction: a pool
/// of one connection is enough for an idempotent create (the old middleware needed it three
/// times over), and nothing is left reserved.
#[actix_web::test]
async fn an_idempotent_create_needs_one_connection() {
    let app = TestApp::spawn_with(|c| c.database_pool_size = 1).await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    for attempt in 0..2 {
        let res = app
            .post("/v1/clients")
            .bearer(&admin)
            .header("Idempotency-Key", "one-conn")
            .json(json!({"name": "Solo", "timezone": "UTC"}))
            .send()
            .await;
        assert_eq!(res.status, 201, "attempt {attempt}: {}", res.body);
    }
    assert_eq!(clients_named(&app, "Solo").await, 1);
}

/// DELETE means gone for an API key too: a replay of the key that created it is a new request,
/// not a 201 presenting the deleted key.
#[actix_web::test]
async fn a_deleted_api_key_is_not_replayed_as_created() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let create = || {
        app.post("/v1/api-keys")
            .bearer(&admin)
            .header("Idempotency-Key", "booking-key")
            .json(json!({"name": "Booking", "scopes": ["clients:read"]}))
            .send()
    };
    let first = create().await;
    assert_eq!(first.status, 201, "{}", first.body);
    let location = first.header("location").expect("Location").to_string();
    assert_eq!(
        location,
        format!("/v1/api-keys/{}", first.body["id"].as_str().expect("id"))
    );
    assert_eq!(create().await.header("idempotency-replayed"), Some("true"));

    let deleted = app.delete(&location).bearer(&admin).send().await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let again = create().await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(
        again.header("idempotency-replayed"),
        None,
        "the deleted key was replayed"
    );
    assert_ne!(again.body["id"], first.body["id"]);
    assert!(again.body["key"].is_string(), "a new key, shown once");
}
