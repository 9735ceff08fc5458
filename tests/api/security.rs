//! Issue 12: least privilege on every path, strict inputs, and no secret ever echoed.

use crate::helpers::{PASSWORD, TestApp};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// Everything the service logs while a guard from [`capture_logs`] lives, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut all) = self.0.lock() {
            all.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// Logs of this thread (where the in-process service runs) at TRACE, in both formats the
/// service can write.
fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    use tracing_subscriber::layer::SubscriberExt;
    let captured = Captured::default();
    let (pretty, json) = (captured.clone(), captured.clone());
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || pretty.clone())
                .with_ansi(false),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || json.clone()),
        )
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    let guard = tracing::subscriber::set_default(subscriber);
    (captured, guard)
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("`{key}` in {v}")).to_string()
}

/// A whole flow of sign-ups, sign-ins, keys, webhooks and invitations, plus the mistakes
/// integrators make with secrets in hand; afterwards no secret is in any log line or answer.
#[actix_web::test]
async fn no_secret_reaches_a_log_line_or_an_error_body() {
    let app = TestApp::spawn().await;
    let (logs, _guard) = capture_logs();
    let mut secrets: Vec<(String, String)> = vec![("admin password".into(), PASSWORD.into())];
    let mut answers: Vec<String> = Vec::new();

    app.signup("Secrets", "admin@secrets.example").await;
    let signed_in = app.login("admin@secrets.example", PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let access = text(&signed_in.body, "access_token");
    let refresh = text(&signed_in.body, "refresh_token");
    secrets.push(("access token".into(), access.clone()));
    secrets.push(("refresh token".into(), refresh.clone()));

    let refreshed = app
        .post("/v1/auth/token")
        .json(json!({"grant_type": "refresh_token", "refresh_token": refresh}))
        .send()
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let access = text(&refreshed.body, "access_token");
    secrets.push(("second access token".into(), access.clone()));
    secrets.push(("second refresh token".into(), text(&refreshed.body, "refresh_token")));

    let key = app
        .post("/v1/api-keys")
        .bearer(&access)
        .json(json!({"name": "Booking", "scopes": ["clients:read"]}))
        .send()
        .await;
    assert_eq!(key.status, 201, "{}", key.body);
    let api_key = text(&key.body, "key");
    secrets.push(("API key".into(), api_key.clone()));
    for (name, value) in [
        ("authorization", format!("Bearer {api_key}")),
        ("x-api-key", api_key.clone()),
    ] {
        let res = app.get("/v1/clients").header(name, &value).send().await;
        assert_eq!(res.status, 200, "{}", res.body);
    }
    let wrong_key = format!("{}x", api_key);
    secrets.push(("a wrong API key".into(), wrong_key.clone()));
    answers.push(
        app.get("/v1/clients")
            .header("x-api-key", &wrong_key)
            .send()
            .await
            .body
            .to_string(),
    );

    let hook = app
        .post("/v1/webhooks")
        .bearer(&access)
        .json(json!({"url": "https://hooks.example.com/x", "events": ["client.created"]}))
        .send()
        .await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    secrets.push(("webhook secret".into(), text(&hook.body, "secret")));
    let rotated = app
        .post(&format!("/v1/webhooks/{}/rotate-secret", text(&hook.body, "id")))
        .bearer(&access)
        .send()
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    secrets.push(("rotated webhook secret".into(), text(&rotated.body, "secret")));

    let practitioner = app
        .post("/v1/practitioners")
        .bearer(&access)
        .json(json!({"name": "Ana", "email": "ana@secrets.example"}))
        .send()
        .await;
    assert_eq!(practitioner.status, 201, "{}", practitioner.body);
    let invitation = text(&practitioner.body["invitation"], "token");
    secrets.push(("invitation".into(), invitation.clone()));
    let second_password = "another long password 2";
    secrets.push(("invited password".into(), second_password.into()));
    let accepted = app.accept(&invitation, second_password).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);

    // Mistakes made with secrets in hand: JSON sent as a form (`curl -d`), no content type,
    // a password where another type goes, an unknown grant, a bad current password.
    let curl_d =
        json!({"grant_type": "password", "username": "admin@secrets.example", "password": PASSWORD}).to_string();
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", curl_d.clone()),
        ("text/plain", curl_d.clone()),
        (
            "application/json",
            format!("{{\"grant_type\": \"password\", \"password\": [\"{PASSWORD}\"]}}"),
        ),
        ("application/json", format!("{{\"grant_type\": \"{PASSWORD}\"}}")),
        ("application/json", format!("{{\"{PASSWORD}\": 1}}")),
        (
            "application/json",
            format!("{{\"grant_type\": \"password\", \"password\": \"{PASSWORD}"),
        ),
        ("application/x-www-form-urlencoded", format!("grant_type={PASSWORD}")),
        (
            "application/x-www-form-urlencoded",
            format!("{PASSWORD}=1&grant_type=password"),
        ),
    ] {
        let res = app.post("/v1/auth/token").raw(content_type, body.clone()).send().await;
        assert!(
            [400, 415, 422].contains(&res.status),
            "{content_type} {body}: {} {}",
            res.status,
            res.body
        );
        answers.push(res.body.to_string());
    }
    let res = app
        .post("/v1/auth/token")
        .raw("application/x-www-form-urlencoded", curl_d.clone())
        .send()
        .await;
    assert!(
        res.problem(400)["detail"]
            .as_str()
            .unwrap_or("")
            .contains("application/json"),
        "{}",
        res.body
    );
    for (content_type, body) in [
        (
            "application/x-www-form-urlencoded",
            json!({"token": refresh}).to_string(),
        ),
        ("application/json", format!("{{\"token\": [\"{refresh}\"]}}")),
        ("application/json", format!("{{\"tokn\": \"{refresh}\"}}")),
    ] {
        let res = app.post("/v1/auth/revoke").raw(content_type, body.clone()).send().await;
        assert!([400, 422].contains(&res.status), "{body}: {} {}", res.status, res.body);
        answers.push(res.body.to_string());
    }
    let res = app
        .patch("/v1/me")
        .bearer(&access)
        .json(json!({"password": "a brand new password", "current_password": second_password}))
        .send()
        .await;
    answers.push(res.problem(422).to_string());
    secrets.push(("a new password".into(), "a brand new password".into()));
    let res = app
        .post("/v1/auth/accept-invitation")
        .json(json!({"token": invitation, "password": 12}))
        .send()
        .await;
    answers.push(res.body.to_string());
    let res = app.get("/v1/me").bearer(&format!("{access}x")).send().await;
    answers.push(res.body.to_string());
    answers.push(res.header("www-authenticate").unwrap_or_default().to_string());

    let logged = logs.text();
    assert!(
        logged.contains("/v1/auth/token"),
        "the capture sees the service's request logs"
    );
    for (what, secret) in &secrets {
        assert!(!logged.contains(secret.as_str()), "the {what} is in the log:\n{logged}");
        for answer in &answers {
            assert!(
                !answer.contains(secret.as_str()),
                "the {what} is in an error answer: {answer}"
            );
        }
    }
}
