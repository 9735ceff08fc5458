//! What an integrator meets first: the command line's `--version`, `/` leading to the docs, docs
//! that make no outside request and offer a box for a pasted token, compressed answers (never
//! one carrying a secret), the operational endpoints documented, one form of timestamps.

use crate::helpers::{PASSWORD, TestApp};
use serde_json::{Value, json};
use std::io::Read;

fn gunzip(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

fn document() -> Value {
    serde_json::to_value(rehabit::openapi_document()).expect("the document as JSON")
}

#[test]
fn the_binary_tells_its_version_and_helps_with_every_command() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rehabit"))
            .args(args)
            .output()
            .expect("rehabit runs")
    };
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("rehabit {}", env!("CARGO_PKG_VERSION"))
    );
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["openapi", "--help"],
        &["demo", "--help"],
        &["user", "reset-password", "--help"],
        &["audit", "verify", "--help"],
    ] {
        let out = run(args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("Usage: rehabit"),
            "{args:?}: {text}"
        );
    }
    // A bad argument is a usage error (2) that names it, and runs nothing.
    let out = run(&["demo", "--clients", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--clients"));
}

#[actix_web::test]
async fn the_root_leads_to_the_docs() {
    let app = TestApp::spawn().await;
    let res = app.get("/").send().await;
    assert_eq!(res.status, 302);
    assert_eq!(res.header("location"), Some("/docs"));
}

/// The docs page, its configuration and its style sheets name no other host (a browser on a
/// real hostname would call it), and the configuration switches off Swagger UI's online
/// validator, which the bundle would otherwise call with the document's URL.
#[actix_web::test]
async fn the_docs_make_no_outside_request() {
    let app = TestApp::spawn().await;
    let page = app.get("/swagger-ui/").send().await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.raw).to_string();
    let assets: Vec<String> = regex::Regex::new(r#"(?:src|href)="([^"]+)""#)
        .expect("regex")
        .captures_iter(&html)
        .map(|c| c[1].to_string())
        .collect();
    assert!(
        assets.iter().any(|a| a.ends_with("swagger-initializer.js")),
        "{assets:?}"
    );
    // Names of XML namespaces are identifiers, never fetched.
    let outside = regex::Regex::new(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}").expect("regex");
    let namespace = |url: &str| url.contains("www.w3.org");
    let mut scanned = vec![("index.html".to_string(), html.clone())];
    for asset in &assets {
        assert!(!outside.is_match(asset), "the page loads {asset} from elsewhere");
        let res = app
            .get(&format!("/swagger-ui/{}", asset.trim_start_matches("./")))
            .send()
            .await;
        assert_eq!(res.status, 200, "{asset}");
        // The bundle holds URLs in its code (links in messages, defaults the config replaces).
        if asset.ends_with(".css") || asset.ends_with("initializer.js") {
            scanned.push((asset.clone(), String::from_utf8_lossy(&res.raw).to_string()));
        }
    }
    for (name, text) in &scanned {
        let urls: Vec<&str> = outside
            .find_iter(text)
            .map(|m| m.as_str())
            .filter(|u| !namespace(u))
            .collect();
        assert!(urls.is_empty(), "{name} names other hosts: {urls:?}");
    }
    let config = &scanned
        .iter()
        .find(|(name, _)| name.ends_with("initializer.js"))
        .expect("the configuration")
        .1;
    assert!(config.contains(r#""validatorUrl": "none""#), "{config}");
    assert!(config.contains(r#""url": "/openapi.json""#), "{config}");
}

/// The *Authorize* dialog offers a box for a pasted access token beside the password form, and
/// every operation that takes the token lists that box's scheme, so the docs send it.
#[actix_web::test]
async fn the_docs_take_a_pasted_token() {
    let doc = document();
    let scheme = &doc["components"]["securitySchemes"]["access_token"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["type"], "oauth2");
    let mut secured = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Some(security) = op["security"].as_array() else {
                continue;
            };
            let names: Vec<&String> = security
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|r| r.keys())
                .collect();
            if names.iter().any(|n| *n == "bearer") {
                secured += 1;
                assert!(names.iter().any(|n| *n == "access_token"), "{method} {path}: {names:?}");
            }
        }
    }
    assert!(secured > 50, "{secured} secured operations");

    // A token pasted there is sent as `Authorization: Bearer`, which the service takes.
    let app = TestApp::spawn().await;
    let token = app.admin_token("Pasted", "pasted@example.com").await;
    assert_eq!(app.get("/v1/me").bearer(&token).send().await.status, 200);
}

#[actix_web::test]
async fn answers_are_compressed_when_the_client_accepts_it() {
    let app = TestApp::spawn().await;
    let plain = app.get("/openapi.json").send().await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);

    let packed = app.get("/openapi.json").header("accept-encoding", "gzip").send().await;
    assert_eq!(packed.status, 200);
    assert_eq!(packed.header("content-encoding"), Some("gzip"));
    assert!(
        packed
            .headers
            .get_all("vary")
            .any(|v| v.to_str().is_ok_and(|v| v.eq_ignore_ascii_case("accept-encoding"))),
        "{:?}",
        packed.headers
    );
    assert!(
        packed.raw.len() * 4 < plain.raw.len(),
        "{} of {} bytes",
        packed.raw.len(),
        plain.raw.len()
    );
    assert_eq!(gunzip(&packed.raw), plain.raw);

    let bundle = app
        .get("/swagger-ui/swagger-ui-bundle.js")
        .header("accept-encoding", "br;q=1.0, gzip;q=0.8")
        .send()
        .await;
    assert_eq!(bundle.header("content-encoding"), Some("gzip"));
    assert!(gunzip(&bundle.raw).len() > 1_000_000);

    // Nothing we can send is acceptable: the answer goes out unencoded, not as a 406.
    let none = app
        .get("/openapi.json")
        .header("accept-encoding", "identity;q=0, br")
        .send()
        .await;
    assert_eq!(none.status, 200);
    assert_eq!(none.header("content-encoding"), None);
    assert_eq!(none.raw, plain.raw);

    // An API answer too.
    let token = app.admin_token("Packed", "packed@example.com").await;
    let me = app
        .get("/v1/me")
        .bearer(&token)
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(me.header("content-encoding"), Some("gzip"));
    let me: Value = serde_json::from_slice(&gunzip(&me.raw)).expect("JSON");
    assert_eq!(me["email"], "packed@example.com");
}

/// An answer holding a secret is never compressed, whatever the client accepts: compressed
/// beside text an attacker chose, its length would leak it (BREACH).
#[actix_web::test]
async fn answers_with_a_secret_are_never_compressed() {
    let app = TestApp::spawn().await;
    app.signup("Secrets", "secrets@example.com").await;
    let gzip = ("accept-encoding", "gzip, br");
    let tokens = app
        .post("/v1/auth/token")
        .header(gzip.0, gzip.1)
        .json(json!({"grant_type": "password", "username": "secrets@example.com", "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(tokens.header("content-encoding"), None);
    let token = tokens.body["access_token"].as_str().expect("a token").to_string();

    let key = app
        .post("/v1/api-keys")
        .bearer(&token)
        .header(gzip.0, gzip.1)
        .json(json!({"name": "Front desk", "scopes": ["clients:read"]}))
        .send()
        .await;
    assert_eq!(key.status, 201, "{}", key.body);
    assert_eq!(key.header("content-encoding"), None);
    assert!(key.body["key"].is_string());

    let client = app
        .post("/v1/clients")
        .bearer(&token)
        .json(json!({"name": "Invited Client", "email": "invited@example.com", "timezone": "Europe/London"}))
        .send()
        .await;
    assert_eq!(client.status, 201, "{}", client.body);
    let invitation = app
        .post(&format!(
            "/v1/clients/{}/invitation",
            client.body["id"].as_str().expect("id")
        ))
        .bearer(&token)
        .header(gzip.0, gzip.1)
        .send()
        .await;
    assert_eq!(invitation.status, 201, "{}", invitation.body);
    assert_eq!(invitation.header("content-encoding"), None);
    let accepted = app
        .post("/v1/auth/accept-invitation")
        .header(gzip.0, gzip.1)
        .json(json!({"token": invitation.body["token"], "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.header("content-encoding"), None);

    // The same client's other answers are compressed as usual.
    let me = app.get("/v1/me").bearer(&token).header(gzip.0, gzip.1).send().await;
    assert_eq!(me.header("content-encoding"), Some("gzip"));
}

/// Every documented answer with a field named like a secret belongs to an operation listed in
/// `http::compression::SECRET_ANSWERS`, and every listed operation exists.
#[test]
fn every_answer_with_a_secret_is_listed() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    fn fields(schema: &Value, schemas: &Value, out: &mut Vec<String>) {
        if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
            return fields(&schemas[name], schemas, out);
        }
        for part in ["allOf", "oneOf", "anyOf"] {
            for s in schema[part].as_array().into_iter().flatten() {
                fields(s, schemas, out);
            }
        }
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            out.push(name.clone());
            fields(property, schemas, out);
        }
        if schema["items"].is_object() {
            fields(&schema["items"], schemas, out);
        }
    }
    let secret_name = |f: &str| {
        ["token", "key", "secret", "password"].contains(&f)
            || f.ends_with("_token")
            || f.ends_with("_secret")
            || f.contains("calendar")
    };
    let mut ids = Vec::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            let id = op["operationId"].as_str().unwrap_or_default().to_string();
            ids.push(id.clone());
            for (status, answer) in op["responses"].as_object().into_iter().flatten() {
                if !status.starts_with('2') {
                    continue;
                }
                for content in answer["content"].as_object().into_iter().flatten().map(|(_, c)| c) {
                    let mut names = Vec::new();
                    fields(&content["schema"], schemas, &mut names);
                    let secrets: Vec<&String> = names.iter().filter(|n| secret_name(n)).collect();
                    assert!(
                        secrets.is_empty() || rehabit::http::compression::carries_secret(&id),
                        "{id} answers {status} with {secrets:?}: list it in SECRET_ANSWERS"
                    );
                }
            }
        }
    }
    for listed in rehabit::http::compression::SECRET_ANSWERS {
        assert!(ids.iter().any(|id| id == listed), "{listed} is no operation");
    }
}

/// `/healthz`, `/readyz` and `/metrics` are in the document (public, tagged `operations`) and
/// in the README.
#[test]
fn the_operational_endpoints_are_documented() {
    let doc = document();
    let readme = include_str!("../../README.md");
    for (path, id) in [
        ("/healthz", "get_health"),
        ("/readyz", "get_readiness"),
        ("/metrics", "get_metrics"),
    ] {
        let op = &doc["paths"][path]["get"];
        assert_eq!(op["operationId"], id, "{path}");
        assert_eq!(op["tags"], json!(["operations"]), "{path}");
        assert_eq!(op["security"], json!([{}]), "{path} is public");
        assert!(op["responses"]["200"].is_object(), "{path}");
        assert!(
            readme.contains(&format!("`{path}`")),
            "the README does not describe {path}"
        );
    }
    assert!(doc["paths"]["/readyz"]["get"]["responses"]["503"].is_object());
    assert!(doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]["text/plain"].is_object());
}

/// Every timestamp in an answer has one form: microseconds, UTC, `Z` (`http::timestamp`),
/// whatever offset or precision the request used.
#[actix_web::test]
async fn timestamps_in_answers_have_one_form() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("Clocks", "clocks@example.com").await;
    let client = app
        .post("/v1/clients")
        .bearer(&token)
        .json(json!({"name": "Tick Tock", "timezone": "Europe/Madrid"}))
        .send()
        .await;
    assert_eq!(client.status, 201, "{}", client.body);
    let client_id = client.body["id"].as_str().expect("id").to_string();
    let routines = app.get("/v1/routines?builtin=true&limit=1").bearer(&token).send().await;
    assert_eq!(routines.status, 200, "{}", routines.body);
    let assignment = app
        .post(&format!("/v1/clients/{client_id}/assignments"))
        .bearer(&token)
        .json(json!({"routine_id": routines.body["items"][0]["id"], "schedule": {"start_date": "2026-01-05"}}))
        .send()
        .await;
    assert_eq!(assignment.status, 201, "{}", assignment.body);
    // Sent with an offset and no fraction: answered in UTC with six digits.
    let log = app
        .post(&format!(
            "/v1/assignments/{}/sessions",
            assignment.body["id"].as_str().expect("id")
        ))
        .bearer(&token)
        .json(json!({"performed_at": "2026-02-03T10:00:00+01:00", "pain_before": 3}))
        .send()
        .await;
    assert_eq!(log.status, 201, "{}", log.body);
    assert_eq!(log.body["performed_at"], "2026-02-03T09:00:00.000000Z");

    let form = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$").expect("regex");
    let looks_like_a_timestamp = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T").expect("regex");
    fn strings<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut seen = 0;
    for path in [
        format!("/v1/clients/{client_id}"),
        "/v1/clients".to_string(),
        format!("/v1/clients/{client_id}/sessions"),
        format!("/v1/clients/{client_id}/assignments"),
        "/v1/events".to_string(),
        "/v1/me".to_string(),
    ] {
        let res = app.get(&path).bearer(&token).send().await;
        assert_eq!(res.status, 200, "{path}: {}", res.body);
        let mut found = Vec::new();
        strings(&res.body, &mut found);
        for s in found.into_iter().filter(|s| looks_like_a_timestamp.is_match(s)) {
            seen += 1;
            assert!(form.is_match(s), "{path}: {s}");
        }
    }
    assert!(seen >= 10, "only {seen} timestamps checked");
}
