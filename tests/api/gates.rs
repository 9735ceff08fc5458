//! Defects the contract gates (`.ci/contract-gates`: Spectral, Schemathesis, the generated
//! TypeScript client) found in the service, each kept fixed by a test here.

use crate::helpers::{PASSWORD, TestApp};
use serde_json::json;

/// Schemathesis: `POST /v1/practitioners` without credentials answered 422 (the key was
/// already used) instead of 401, because anonymous callers shared one key space everywhere.
#[actix_web::test]
async fn without_credentials_a_reused_key_is_still_a_401() {
    let app = TestApp::spawn().await;
    let signup = app
        .post("/v1/clinics")
        .header("Idempotency-Key", "0")
        .json(json!({"clinic_name": "Keys", "admin": {"name": "K", "email": "k@keys.example", "password": PASSWORD}}))
        .send()
        .await;
    assert_eq!(signup.status, 201, "{}", signup.body);
    for path in ["/v1/practitioners", "/v1/clients", "/v1/routines"] {
        let res = app
            .post(path)
            .header("Idempotency-Key", "0")
            .json(json!({"name": "Nobody"}))
            .send()
            .await;
        res.problem(401);
        assert!(
            res.header("www-authenticate").is_some_and(|c| c.starts_with("Bearer")),
            "{path}: 401 without a challenge"
        );
    }
    // Sign-ups, which need no credentials, still share the anonymous space.
    let other = app
        .post("/v1/clinics")
        .header("Idempotency-Key", "0")
        .json(json!({"clinic_name": "Other", "admin": {"name": "O", "email": "o@keys.example", "password": PASSWORD}}))
        .send()
        .await;
    assert_eq!(other.problem(422)["errors"][0]["field"], "Idempotency-Key");
}
