//! Operations endpoints, request ids, the docs, and the committed OpenAPI document.

use crate::helpers::TestApp;

#[actix_web::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn().await;
    let res = app.get("/healthz").send().await;
    assert_eq!((res.status, res.body["status"].as_str()), (200, Some("ok")));
    assert!(res.header("x-request-id").is_some_and(|id| !id.is_empty()));
    let res = app.get("/readyz").send().await;
    assert_eq!(res.status, 200);
    app.get("/v1/me").send().await;
    let res = app.get("/metrics").send().await;
    assert_eq!(res.status, 200);
    let text = String::from_utf8(res.raw).expect("utf-8");
    assert!(text.contains("rehabit_http_requests_total"), "{text}");
    assert!(
        text.contains("endpoint=\"/v1/me\""),
        "requests are labelled by route pattern: {text}"
    );
    assert!(text.contains("rehabit_db_pool_connections"), "{text}");
}

#[actix_web::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn_with(|c| {
        c.database_url = rehabit::config::Secret::new("postgres://postgres@127.0.0.1:1/nowhere");
    })
    .await;
    app.get("/readyz").send().await.problem(503);
    assert_eq!(app.get("/healthz").send().await.status, 200);
}

#[actix_web::test]
async fn docs_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let res = app.get("/docs").send().await;
    assert_eq!(res.status, 302);
    assert_eq!(res.header("location"), Some("/swagger-ui/"));
    let res = app.get("/swagger-ui/").send().await;
    assert_eq!(res.status, 200);
    assert!(String::from_utf8_lossy(&res.raw).contains("swagger"));
    let res = app.get("/openapi.json").send().await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["info"]["title"], "Rehabit API");
}

/// The committed document must be what the code generates. To refresh it after a change:
/// `cargo run -- openapi > openapi/openapi.json` (or run the tests with `UPDATE_OPENAPI=1`).
#[test]
fn committed_openapi_matches_the_code() {
    let generated = serde_json::to_string_pretty(&rehabit::openapi_document()).expect("renders") + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).expect("write openapi.json");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` and commit it"
    );
}
