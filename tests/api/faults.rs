//! Faults without surprises (issue 13), in-process: retries that never duplicate, bounded
//! waits, dropped connections and a stop that is announced first. The faults that need a real
//! process and a PostgreSQL to stop are in `tests/faults/` (`tests/faults/run.sh`).
//!
//! These tests assert outcomes, never timings.

use crate::helpers::{TestApp, TestResponse};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde_json::json;
use std::time::Duration;

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

fn assert_retry_after(res: &TestResponse) {
    res.problem(503);
    let secs: u64 = res
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("503 without Retry-After: {:?}", res.headers));
    assert!(secs >= 1);
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

/// Every pooled connection bounds its statements, lock waits and idle transactions.
#[actix_web::test]
async fn pooled_connections_bound_their_waits() {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        value: String,
    }
    let app = TestApp::spawn_with(|c| {
        c.database_statement_timeout = Duration::from_millis(4_000);
        c.database_lock_timeout = Duration::from_millis(1_500);
        c.database_idle_in_transaction_timeout = Duration::from_millis(12_000);
    })
    .await;
    for pool in [&app.state.pool, &app.state.auth_pool] {
        let mut conn = pool.get().await.expect("connection");
        let mut show = async |name: &str| -> String {
            diesel::sql_query(format!("SELECT current_setting('{name}') AS value"))
                .get_result::<Setting>(&mut conn)
                .await
                .expect("setting")
                .value
        };
        assert_eq!(show("statement_timeout").await, "4s");
        assert_eq!(show("lock_timeout").await, "1500ms");
        assert_eq!(show("idle_in_transaction_session_timeout").await, "12s");
        assert_eq!(show("application_name").await, "rehabit");
    }
}

/// A table locked for longer than the lock timeout: writers get a 503 with `Retry-After` (not a
/// 500, not an endless wait), while readiness and sign-in, which never queue behind them, answer.
#[actix_web::test]
async fn a_held_lock_is_a_bounded_wait() {
    let app = TestApp::spawn_with(|c| c.database_lock_timeout = Duration::from_millis(200)).await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let mut locker = app.db().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE clients IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    for key in [None, Some("locked-out")] {
        let mut req = app
            .post("/v1/clients")
            .bearer(&admin)
            .json(json!({"name": "Blocked", "timezone": "UTC"}));
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        assert_retry_after(&req.send().await);
    }
    assert_eq!(app.get("/readyz").send().await.status, 200);
    assert_eq!(app.get("/v1/me").bearer(&admin).send().await.status, 200);
    locker.batch_execute("COMMIT").await.expect("unlock");
    // The key of the refused request was released with its transaction.
    let res = app
        .post("/v1/clients")
        .bearer(&admin)
        .header("Idempotency-Key", "locked-out")
        .json(json!({"name": "Blocked", "timezone": "UTC"}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(clients_named(&app, "Blocked").await, 1);
}

/// Every connection of the pool held by stuck work: readiness and authentication use the
/// connections kept apart for them, and the request that needs the pool answers 503 once its
/// wait runs out.
#[actix_web::test]
async fn readiness_and_authentication_do_not_queue_behind_work() {
    let app = TestApp::spawn_with(|c| {
        c.database_pool_size = 1;
        c.database_pool_wait = Duration::from_millis(200);
    })
    .await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let held = app.state.pool.get().await.expect("the only connection");
    assert_eq!(app.get("/readyz").send().await.status, 200);
    // Signed in (so authentication answered), then refused for want of a connection.
    assert_retry_after(&app.get("/v1/clients").bearer(&admin).send().await);
    app.get("/v1/clients").bearer("forged").send().await.problem(401);
    drop(held);
    assert_eq!(app.get("/v1/clients").bearer(&admin).send().await.status, 200);
}

/// A request cut by the time limit answers 503 with `Retry-After`, keeps nothing it started and
/// frees its key: the retry after the obstacle is gone succeeds once.
#[actix_web::test]
async fn a_request_past_its_time_limit_keeps_nothing() {
    let app = TestApp::spawn_with(|c| {
        c.request_timeout = Duration::from_secs(1);
        c.database_lock_timeout = Duration::from_secs(30);
        c.database_statement_timeout = Duration::from_secs(30);
    })
    .await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let mut locker = app.db().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE clients IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let create = || {
        app.post("/v1/clients")
            .bearer(&admin)
            .header("Idempotency-Key", "too-slow")
            .json(json!({"name": "Patient", "timezone": "UTC"}))
            .send()
    };
    let cut = create().await;
    assert_retry_after(&cut);
    assert!(cut.header("x-request-id").is_some(), "the cut answer names its request");
    locker.batch_execute("COMMIT").await.expect("unlock");
    // The cut request's session is closed, so PostgreSQL drops its transaction and its key's
    // lock; until it has noticed, a retry may still hear "in progress" (409), as a client that
    // honours Retry-After would not.
    let mut last = None;
    for _ in 0..40 {
        let res = create().await;
        if res.status != 409 {
            last = Some(res);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let res = last.expect("the key was freed");
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(clients_named(&app, "Patient").await, 1);
}

/// A body that stops arriving is cut with a 408 problem document.
#[actix_web::test]
async fn a_stalled_body_is_a_408() {
    let app = TestApp::spawn_with(|c| c.body_read_timeout = Duration::from_secs(1)).await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let res = app
        .post("/v1/clients")
        .bearer(&admin)
        .send_stalled("application/json", b"{\"name\": ")
        .await;
    res.problem(408);
    let res = app
        .post("/v1/clients")
        .bearer(&admin)
        .header("Idempotency-Key", "stalled")
        .send_stalled("application/json", b"{")
        .await;
    res.problem(408);
    let res = app
        .post("/v1/auth/token")
        .send_stalled("application/x-www-form-urlencoded", b"grant_type=pass")
        .await;
    res.problem(408);
}

/// PostgreSQL ends the session of a request waiting in a statement ("terminating connection
/// due to administrator command"): the request answers 503 with `Retry-After`, and the pool
/// drops the broken connection, so the next request is served.
#[actix_web::test]
async fn a_connection_dropped_mid_request_is_a_503() {
    #[derive(QueryableByName)]
    struct Terminated {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let app = TestApp::spawn_with(|c| {
        c.database_pool_size = 1;
        c.database_lock_timeout = Duration::from_secs(30);
    })
    .await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let mut locker = app.db().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE clients IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let request = app
        .post("/v1/clients")
        .bearer(&admin)
        .json(json!({"name": "Cut off", "timezone": "UTC"}))
        .send();
    let terminate = async {
        let mut admin_conn = AsyncPgConnection::establish(&app.db_url).await.expect("connection");
        for _ in 0..200 {
            let done: Terminated = diesel::sql_query(
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = 'rehabit' AND wait_event_type = 'Lock'",
            )
            .get_result(&mut admin_conn)
            .await
            .expect("terminate");
            if done.n > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the request never waited for the lock");
    };
    let (res, ()) = tokio::join!(request, terminate);
    assert_retry_after(&res);
    locker.batch_execute("COMMIT").await.expect("unlock");
    let res = app
        .post("/v1/clients")
        .bearer(&admin)
        .json(json!({"name": "Served", "timezone": "UTC"}))
        .send()
        .await;
    assert_eq!(res.status, 201, "the broken connection was discarded: {}", res.body);
}

/// An unreachable database is a 503 with `Retry-After` on every request, counted in the
/// metrics (and logged once per outage, not once per answer).
#[actix_web::test]
async fn an_outage_is_counted_not_logged_per_request() {
    let app = TestApp::spawn_with(|c| {
        c.database_url = rehabit::config::Secret::new("postgres://postgres@127.0.0.1:1/nowhere");
    })
    .await;
    for _ in 0..3 {
        assert_retry_after(&app.get("/v1/clients").bearer("rhk_unknown").send().await);
    }
    let res = app.get("/metrics").send().await;
    let text = String::from_utf8(res.raw).expect("utf-8");
    let answered: f64 = text
        .lines()
        .find(|l| l.starts_with("rehabit_db_unavailable_answers_total{reason=\"unreachable\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no outage counter: {text}"));
    assert!(answered >= 3.0, "{text}");
    assert!(text.contains("rehabit_db_outages_total"), "{text}");
}

/// Once a stop begins, `/readyz` answers 503 while requests are still served.
#[actix_web::test]
async fn a_stop_is_announced_before_it_happens() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    app.state.shutdown.advance(rehabit::shutdown::Phase::Draining);
    let res = app.get("/readyz").send().await;
    assert_retry_after(&res);
    assert_eq!(app.get("/v1/me").bearer(&admin).send().await.status, 200);
    let res = app
        .post("/v1/clients")
        .bearer(&admin)
        .header("Idempotency-Key", "during-drain")
        .json(json!({"name": "Drained", "timezone": "UTC"}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
}
