//! Conventions every endpoint shares: problem documents, body limits, idempotency.

use crate::helpers::{PASSWORD, TestApp};
use serde_json::json;

fn signup_body(email: &str) -> serde_json::Value {
    json!({"clinic_name": "Idem", "admin": {"name": "I", "email": email, "password": PASSWORD}})
}

#[actix_web::test]
async fn malformed_input_gets_problem_documents() {
    let app = TestApp::spawn().await;
    let res = app
        .post("/v1/clinics")
        .raw("application/json", "{not json")
        .send()
        .await;
    res.problem(400);
    let res = app.post("/v1/clinics").raw("text/plain", "hello").send().await;
    res.problem(415);
    let big = format!("{{\"clinic_name\": \"{}\"}}", "x".repeat(1024 * 1024 + 10));
    let res = app.post("/v1/clinics").raw("application/json", big).send().await;
    res.problem(413);
    let res = app.get("/v1/nowhere").send().await;
    res.problem(404);
    let res = app.post("/v1/clinics").json(json!({"clinic_name": "X", "admin": {"name": "A", "email": "a@b.example", "password": PASSWORD}, "extra": 1})).send().await;
    assert_eq!(
        res.problem(422)["errors"][0]["field"],
        "extra",
        "unknown fields are refused: {}",
        res.body
    );
    let res = app.post("/v1/auth/token").json(json!([1, 2])).send().await;
    res.problem(422);
}

#[actix_web::test]
async fn nul_characters_never_reach_the_database() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("Nul", "nul@x.example").await;
    let res = app
        .post("/v1/clients")
        .bearer(&token)
        .json(json!({"name": "a\u{0}b", "timezone": "UTC"}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "name");
    app.get("/v1/clients?q=%00").bearer(&token).send().await.problem(400);
    app.get("/v1/clients/by-external-id/a%00b")
        .bearer(&token)
        .send()
        .await
        .problem(400);
    let res = app.get("/v1/clients?q=ok").bearer(&token).send().await;
    assert_eq!(res.status, 200);
}

#[actix_web::test]
async fn idempotent_sign_up_replays_the_first_answer() {
    let app = TestApp::spawn().await;
    let first = app
        .post("/v1/clinics")
        .header("Idempotency-Key", "k-1")
        .json(signup_body("i@x.example"))
        .send()
        .await;
    assert_eq!(first.status, 201);
    let replay = app
        .post("/v1/clinics")
        .header("Idempotency-Key", "k-1")
        .json(signup_body("i@x.example"))
        .send()
        .await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.body, first.body);
    assert_eq!(replay.header("idempotency-replayed"), Some("true"));
    assert_eq!(replay.header("content-type"), Some("application/json"));

    // The same key with another body is refused and creates nothing.
    let other = app
        .post("/v1/clinics")
        .header("Idempotency-Key", "k-1")
        .json(signup_body("j@x.example"))
        .send()
        .await;
    assert_eq!(other.problem(422)["errors"][0]["field"], "Idempotency-Key");
    app.login("j@x.example", PASSWORD).await.problem(401);

    // Without the key, the same body is a new request (and meets the existing login).
    let again = app.post("/v1/clinics").json(signup_body("i@x.example")).send().await;
    assert_eq!(again.status, 201, "an existing login with its password adds a clinic");
    assert_ne!(again.body["clinic"]["id"], first.body["clinic"]["id"]);
}

#[actix_web::test]
async fn an_in_flight_key_is_a_conflict_and_failures_are_not_stored() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    // A reservation whose request is still running (made the way the middleware makes one).
    let first = app
        .post("/v1/clinics")
        .header("Idempotency-Key", "busy")
        .json(signup_body("b@x.example"))
        .send()
        .await;
    assert_eq!(first.status, 201);
    diesel::sql_query("UPDATE idempotency_keys SET completed = false, response_status = NULL")
        .execute(&mut app.db().await)
        .await
        .expect("reset");
    let dup = app
        .post("/v1/clinics")
        .header("Idempotency-Key", "busy")
        .json(signup_body("b@x.example"))
        .send()
        .await;
    dup.problem(409);

    // A validation failure is stored and replayed like any answer.
    let bad = json!({"clinic_name": "", "admin": {"name": "A", "email": "c@x.example", "password": PASSWORD}});
    app.post("/v1/clinics")
        .header("Idempotency-Key", "bad")
        .json(bad.clone())
        .send()
        .await
        .problem(422);
    let res = app
        .post("/v1/clinics")
        .header("Idempotency-Key", "bad")
        .json(bad)
        .send()
        .await;
    res.problem(422);
    assert_eq!(res.header("idempotency-replayed"), Some("true"));

    let res = app
        .post("/v1/clinics")
        .header("Idempotency-Key", "")
        .json(signup_body("d@x.example"))
        .send()
        .await;
    res.problem(400);
}

#[actix_web::test]
async fn concurrent_retries_create_one_clinic() {
    use diesel::sql_types::BigInt;
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let app = TestApp::spawn().await;
    let send = || {
        app.post("/v1/clinics")
            .header("Idempotency-Key", "race")
            .json(signup_body("race@x.example"))
            .send()
    };
    let (a, b, c) = tokio::join!(send(), send(), send());
    let statuses = [a.status, b.status, c.status];
    assert!(statuses.contains(&201), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    let count: Count = diesel::sql_query("SELECT count(*) AS n FROM clinics WHERE NOT is_system")
        .get_result(&mut app.db().await)
        .await
        .expect("count");
    assert_eq!(count.n, 1);
}

#[actix_web::test]
async fn a_served_path_with_another_method_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let res = app.req(actix_web::http::Method::DELETE, "/v1/me").send().await;
    res.problem(405);
    assert_eq!(res.header("allow"), Some("GET, PATCH"));
    let res = app.req(actix_web::http::Method::TRACE, "/healthz").send().await;
    res.problem(405);
    assert_eq!(res.header("allow"), Some("GET"));
    let res = app.get("/v1/clinics").send().await;
    assert_eq!(
        res.problem(405)["type"],
        "https://rehabit.dev/problems/method-not-allowed"
    );
    assert_eq!(res.header("allow"), Some("POST"));
    // A path nobody serves stays a 404.
    app.req(actix_web::http::Method::DELETE, "/v1/nowhere")
        .send()
        .await
        .problem(404);
}

/// Issue 12, item 7: every operation refuses what its documented query parameters do not
/// allow, before authentication: unknown or repeated parameters and values that do not parse
/// are 400, parsed values outside a range or vocabulary 422, each naming the parameter. What
/// passes meets authentication (401 here: no credentials are sent).
#[actix_web::test]
async fn every_operation_is_strict_about_its_query() {
    let app = TestApp::spawn().await;
    let passes = 401;
    let long = format!("q={}", "a".repeat(201));
    let cases = [
        ("GET", "/v1/clients", "q=sam&limit=5", passes),
        ("GET", "/v1/clients", "search=sam", 400),
        ("GET", "/v1/clients", "limit=5&limit=6", 400),
        ("GET", "/v1/clients", "limit=0", 422),
        ("GET", "/v1/clients", "limit=ten", 400),
        ("GET", "/v1/clients", "archived=yes", 400),
        ("GET", "/v1/clients", long.as_str(), 422),
        ("GET", "/v1/exercises", long.as_str(), 422),
        ("GET", "/v1/sessions", "reviewd=false", 400),
        ("GET", "/v1/sessions", "reviewed=false&flagged=true", passes),
        ("GET", "/v1/events", "since=0", 400),
        ("GET", "/v1/events", "cursor=abc", 400),
        ("GET", "/v1/events", "after=", passes),
        ("GET", "/v1/me", "x=1", 400),
        ("GET", "/healthz", "verbose=1", 400),
        ("GET", "/v1/exercises", "category=dance", 422),
        ("GET", "/v1/exercises", "category=stretch&difficulty=6", 422),
        ("GET", "/v1/me/assignments", "status=active", passes),
        ("GET", "/v1/me/assignments", "status=asleep", 422),
        ("GET", "/v1/me/agenda", "from=2026-02-30", 400),
        ("GET", "/v1/me/agenda", "from=2026-2-3", 400),
        ("GET", "/v1/me/agenda", "from=2026-02-28&to=2026-03-01", passes),
        ("GET", "/v1/me/sessions", "assignment_id=nope", 400),
        ("POST", "/v1/clients", "", passes),
    ];
    for (method, path, query, want) in cases {
        let uri = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).expect("method");
        let res = app.req(method.clone(), &uri).send().await;
        assert_eq!(res.status, want, "{method} {uri}: {}", res.body);
        if want != passes {
            assert!(
                res.body["errors"][0]["field"].is_string(),
                "{uri}: names the parameter: {}",
                res.body
            );
        }
    }
    let res = app.get("/v1/clients?search=sam").send().await;
    assert_eq!(res.problem(400)["errors"][0]["field"], "search");
    assert!(
        res.body["errors"][0]["message"].as_str().unwrap_or("").contains("`q`"),
        "{}",
        res.body
    );
    let res = app.get("/v1/clients?correct%20horse%20battery=1").send().await;
    assert!(
        !res.body.to_string().contains("horse"),
        "an unknown name is not echoed: {}",
        res.body
    );
    let res = app.get("/v1/me/agenda?from=tomorrow").send().await;
    assert!(
        res.problem(400)["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("YYYY-MM-DD")
    );
    let res = app.get("/v1/events?cursor=abc").send().await;
    assert!(
        res.problem(400)["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("`after`")
    );
}

/// Every operation the audit trail leaves out is one the document serves.
#[actix_web::test]
async fn audit_exemptions_name_documented_operations() {
    let doc = rehabit::openapi_document();
    let routes = rehabit::http::routes::Routes::from_openapi(&doc);
    for (id, _) in rehabit::audit::routes::EXEMPT {
        assert!(routes.iter().any(|r| r.operation_id == *id), "{id} is not an operation");
    }
}
