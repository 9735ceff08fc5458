//! Issue 12: least privilege on every path, strict inputs, and no secret ever echoed.

use crate::helpers::{PASSWORD, TestApp};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// Everything logged in this test process from the first call of [`captured_logs`] on, at
/// every level, in the service's JSON format, with every span's fields and every span's start
/// and end. A process-wide
/// subscriber: a thread-scoped one missed events when tests ran side by side.
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

fn captured_logs() -> Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            // Span events too: every request span's fields (its path and query, its request id)
            // are then written, as a log pipeline that records spans would keep them.
            let subscriber = tracing_subscriber::fmt()
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .with_span_events(
                    tracing_subscriber::fmt::format::FmtSpan::NEW | tracing_subscriber::fmt::format::FmtSpan::CLOSE,
                )
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other test sets a subscriber");
            captured
        })
        .clone()
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("`{key}` in {v}")).to_string()
}

/// A whole flow of sign-ups, sign-ins, keys, webhooks and invitations, plus the mistakes
/// integrators make with secrets in hand; afterwards no secret is in any log line or answer.
#[actix_web::test]
async fn no_secret_reaches_a_log_line_or_an_error_body() {
    let app = TestApp::spawn().await;
    let logs = captured_logs();
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

    // A calendar feed's URL is a credential: served, revoked, then asked for again.
    let client = app
        .post("/v1/clients")
        .bearer(&access)
        .json(json!({"name": "Cal", "timezone": "Europe/London"}))
        .send()
        .await;
    assert_eq!(client.status, 201, "{}", client.body);
    let feed = app
        .post(&format!("/v1/clients/{}/calendar", text(&client.body, "id")))
        .bearer(&access)
        .send()
        .await;
    assert_eq!(feed.status, 201, "{}", feed.body);
    let url = text(&feed.body, "url");
    let token = url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".ics")
        .to_string();
    secrets.push(("calendar token".into(), token.clone()));
    let path = format!("/v1/calendar/{token}.ics");
    assert_eq!(app.get(&path).send().await.status, 200);
    let strict = app.get(&format!("{path}?unknown=1")).send().await;
    assert_eq!(strict.status, 400, "{}", strict.body);
    answers.push(strict.body.to_string());
    app.delete(&format!("/v1/clients/{}/calendar", text(&client.body, "id")))
        .bearer(&access)
        .send()
        .await;
    let gone = app.get(&path).send().await;
    assert_eq!(gone.status, 404);
    answers.push(gone.body.to_string());

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
    let logged_request = res.header("x-request-id").expect("a request id").to_string();
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
        logged.contains(&logged_request),
        "the capture holds the log lines of this test's refused request"
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

/// Signs in to one clinic of a login; returns (access token, refresh token).
async fn sign_in(app: &TestApp, email: &str, password: &str, clinic_id: Option<&str>) -> (String, String) {
    let mut body = json!({"grant_type": "password", "username": email, "password": password});
    if let Some(c) = clinic_id {
        body["clinic_id"] = json!(c);
    }
    let res = app.post("/v1/auth/token").json(body).send().await;
    assert_eq!(res.status, 200, "sign-in of {email}: {}", res.body);
    (text(&res.body, "access_token"), text(&res.body, "refresh_token"))
}

async fn refresh_status(app: &TestApp, refresh: &str) -> u16 {
    app.post("/v1/auth/token")
        .json(json!({"grant_type": "refresh_token", "refresh_token": refresh}))
        .send()
        .await
        .status
}

/// Signs a clinic up; returns (clinic id, admin access token).
async fn clinic(app: &TestApp, name: &str, email: &str) -> (String, String) {
    let signup = app.signup(name, email).await;
    let clinic_id = text(&signup["clinic"], "id");
    let (token, _) = sign_in(app, email, PASSWORD, Some(&clinic_id)).await;
    (clinic_id, token)
}

/// As `admin`, adds a practitioner with `email`; returns (practitioner id, invitation token).
async fn add_practitioner(app: &TestApp, admin: &str, email: &str) -> (String, String) {
    let res = app
        .post("/v1/practitioners")
        .bearer(admin)
        .json(json!({"name": "Ana Ruiz", "email": email}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    (text(&res.body, "id"), text(&res.body["invitation"], "token"))
}

async fn set_active(app: &TestApp, admin: &str, practitioner: &str, active: bool) {
    let res = app
        .patch(&format!("/v1/practitioners/{practitioner}"))
        .bearer(admin)
        .json(json!({"active": active}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
}

fn assert_login_shared(res: &crate::helpers::TestResponse) {
    let problem = res.problem(409);
    assert_eq!(
        problem["type"], "https://rehabit.dev/problems/login-shared",
        "{problem}"
    );
    assert_eq!(problem["code"], "login_shared", "{problem}");
}

/// Issue 12, item 1: when clinic A deactivated a practitioner who also works at clinic B, B's
/// admin could reset the shared login with a password of B's choosing, then sign in to A as
/// that person once A reactivated them.
#[actix_web::test]
async fn a_clinic_cannot_take_over_a_login_another_clinic_uses() {
    let app = TestApp::spawn().await;
    let (clinic_a, admin_a) = clinic(&app, "Clinic A", "admin@a.example").await;
    let (clinic_b, admin_b) = clinic(&app, "Clinic B", "admin@b.example").await;
    let email = "ana@both.example";
    let (ana_at_a, invitation) = add_practitioner(&app, &admin_a, email).await;
    assert_eq!(app.accept(&invitation, PASSWORD).await.status, 200);
    // A reset invitation issued while the login is still A's alone, used once B shares it.
    let early_reset = app
        .post(&format!("/v1/practitioners/{ana_at_a}/invitation"))
        .bearer(&admin_a)
        .send()
        .await;
    assert_eq!(early_reset.status, 201, "{}", early_reset.body);
    let (ana_at_b, invitation) = add_practitioner(&app, &admin_b, email).await;
    assert_eq!(
        app.accept(&invitation, PASSWORD).await.status,
        200,
        "joins with her own password"
    );

    set_active(&app, &admin_a, &ana_at_a, false).await;
    let reset = app
        .post(&format!("/v1/practitioners/{ana_at_b}/invitation"))
        .bearer(&admin_b)
        .send()
        .await;
    assert_login_shared(&reset);
    set_active(&app, &admin_a, &ana_at_a, true).await;
    for (admin, practitioner) in [(&admin_a, &ana_at_a), (&admin_b, &ana_at_b)] {
        let reset = app
            .post(&format!("/v1/practitioners/{practitioner}/invitation"))
            .bearer(admin)
            .send()
            .await;
        assert_login_shared(&reset);
    }
    let late = app
        .accept(&text(&early_reset.body, "token"), "a password chosen by the clinic")
        .await;
    assert_login_shared(&late);
    // Her own password still opens both clinics; the clinic's choice opens nothing.
    sign_in(&app, email, PASSWORD, Some(&clinic_a)).await;
    sign_in(&app, email, PASSWORD, Some(&clinic_b)).await;
    let res = app.login(email, "a password chosen by the clinic").await;
    res.problem(401);

    // The operator's reset: a new password, and every sign-in of the login ends.
    let (before, _) = sign_in(&app, email, PASSWORD, Some(&clinic_b)).await;
    let mut conn = app.db().await;
    let reset = rehabit::auth::reset_password(
        &mut conn,
        "Ana@Both.example",
        Some("the operator's new password".into()),
    )
    .await
    .expect("reset");
    assert!(!reset.generated && reset.ended_sign_ins >= 1, "{reset:?}");
    app.get("/v1/me").bearer(&before).send().await.problem(401);
    sign_in(&app, email, "the operator's new password", Some(&clinic_a)).await;
    let generated = rehabit::auth::reset_password(&mut conn, email, None)
        .await
        .expect("reset");
    assert!(generated.generated && generated.password.len() >= 20);
    sign_in(&app, email, &generated.password, Some(&clinic_b)).await;
    let missing = rehabit::auth::reset_password(&mut conn, "nobody@both.example", None).await;
    assert!(missing.is_err_and(|e| e.contains("no login")));
}

/// A client's login that also signed a clinic up (a sign-up with an existing login) is shared
/// the same way; a login one clinic alone uses is still reset by an invitation.
#[actix_web::test]
async fn a_shared_client_login_answers_login_shared_and_an_unshared_one_resets() {
    let app = TestApp::spawn().await;
    let (_, admin_a) = clinic(&app, "Clinic A", "admin@a.example").await;
    let (sam, _) = app
        .client_with_login(
            &admin_a,
            json!({"name": "Sam", "email": "sam@x.example", "timezone": "Europe/London"}),
        )
        .await;
    let (kim, _) = app
        .client_with_login(
            &admin_a,
            json!({"name": "Kim", "email": "kim@x.example", "timezone": "Europe/London"}),
        )
        .await;
    let res = app
        .post("/v1/clinics")
        .json(json!({"clinic_name": "Sam's studio", "admin": {"name": "Sam", "email": "sam@x.example", "password": PASSWORD}}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let reset = app
        .post(&format!("/v1/clients/{sam}/invitation"))
        .bearer(&admin_a)
        .send()
        .await;
    assert_login_shared(&reset);
    let reset = app
        .post(&format!("/v1/clients/{kim}/invitation"))
        .bearer(&admin_a)
        .send()
        .await;
    assert_eq!(reset.status, 201, "{}", reset.body);
    let (old, _) = sign_in(&app, "kim@x.example", PASSWORD, None).await;
    assert_eq!(
        app.accept(&text(&reset.body, "token"), "kim's new password")
            .await
            .status,
        200
    );
    app.get("/v1/me").bearer(&old).send().await.problem(401);
}

/// Issue 12, item 2: archiving then restoring a client, or deactivating then reactivating a
/// practitioner, revived their old tokens. Ending access ends every sign-in, and so does a role
/// change; afterwards the person signs in again.
#[actix_web::test]
async fn ending_access_ends_sign_ins_and_a_restore_does_not_revive_them() {
    let app = TestApp::spawn().await;
    let (_, admin) = clinic(&app, "Clinic", "admin@c.example").await;
    let (sam, _) = app
        .client_with_login(
            &admin,
            json!({"name": "Sam", "email": "sam@c.example", "timezone": "Europe/London"}),
        )
        .await;
    let (access, refresh) = sign_in(&app, "sam@c.example", PASSWORD, None).await;
    for archived in [true, false] {
        let res = app
            .patch(&format!("/v1/clients/{sam}"))
            .bearer(&admin)
            .json(json!({"archived": archived}))
            .send()
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
    }
    app.get("/v1/me").bearer(&access).send().await.problem(401);
    assert_eq!(refresh_status(&app, &refresh).await, 401);
    let (again, _) = sign_in(&app, "sam@c.example", PASSWORD, None).await;
    assert_eq!(app.get("/v1/me").bearer(&again).send().await.status, 200);

    let (ana, invitation) = add_practitioner(&app, &admin, "ana@c.example").await;
    assert_eq!(app.accept(&invitation, PASSWORD).await.status, 200);
    let (access, refresh) = sign_in(&app, "ana@c.example", PASSWORD, None).await;
    set_active(&app, &admin, &ana, false).await;
    set_active(&app, &admin, &ana, true).await;
    app.get("/v1/me").bearer(&access).send().await.problem(401);
    assert_eq!(refresh_status(&app, &refresh).await, 401);

    let (access, refresh) = sign_in(&app, "ana@c.example", PASSWORD, None).await;
    let res = app
        .patch(&format!("/v1/practitioners/{ana}"))
        .bearer(&admin)
        .json(json!({"role": "admin"}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    app.get("/v1/me").bearer(&access).send().await.problem(401);
    assert_eq!(refresh_status(&app, &refresh).await, 401);
    let (admin_now, _) = sign_in(&app, "ana@c.example", PASSWORD, None).await;
    assert_eq!(app.get("/v1/me").bearer(&admin_now).send().await.body["role"], "admin");
    // A change that is not a role change (the same role again, a name) ends nothing.
    let res = app
        .patch(&format!("/v1/practitioners/{ana}"))
        .bearer(&admin)
        .json(json!({"role": "admin", "name": "Ana R."}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(app.get("/v1/me").bearer(&admin_now).send().await.status, 200);
}

/// As `admin`, makes an API key with `scopes`; returns the key and its id.
async fn api_key(app: &TestApp, admin: &str, scopes: &[&str]) -> (String, String) {
    let res = app
        .post("/v1/api-keys")
        .bearer(admin)
        .json(json!({"name": scopes.join(" "), "scopes": scopes}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    (text(&res.body, "key"), text(&res.body, "id"))
}

/// All events the caller's feed shows, paging one at a time.
async fn feed(app: &TestApp, key: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let res = app
            .get(&format!("/v1/events?limit=1&after={after}"))
            .bearer(key)
            .send()
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let items = res.body["items"].as_array().cloned().unwrap_or_default();
        after = text(&res.body, "next_cursor");
        if items.is_empty() {
            return all;
        }
        all.extend(items);
    }
}

/// Issue 12, item 3: a key with only `events:read` read `session.logged` events (pain scores,
/// notes) that `GET /v1/sessions/{id}` refused it, and a key with only `webhooks:write`
/// subscribed to them at a URL of its choosing.
#[actix_web::test]
async fn events_and_webhooks_show_only_what_the_caller_may_read() {
    let app = TestApp::spawn().await;
    let (_, admin) = clinic(&app, "Clinic", "admin@c.example").await;
    let (sam, sam_token) = app
        .client_with_login(
            &admin,
            json!({"name": "Sam", "email": "sam@c.example", "timezone": "Europe/London"}),
        )
        .await;
    let assignment = app
        .post(&format!("/v1/clients/{sam}/assignments"))
        .bearer(&admin)
        .json(json!({"routine_id": rehabit::library::content::HIP_MOBILITY, "schedule": {"start_date": chrono::Utc::now().date_naive()}}))
        .send()
        .await;
    assert_eq!(assignment.status, 201, "{}", assignment.body);
    let log = app
        .post(&format!("/v1/assignments/{}/sessions", text(&assignment.body, "id")))
        .bearer(&sam_token)
        .json(json!({"performed_at": chrono::Utc::now().to_rfc3339(), "pain_before": 3, "pain_after": 8, "notes": "sharp pain in the left hip"}))
        .send()
        .await;
    assert_eq!(log.status, 201, "{}", log.body);

    let (events_only, _) = api_key(&app, &admin, &["events:read"]).await;
    let (events_clients, _) = api_key(&app, &admin, &["events:read", "clients:read"]).await;
    let everything = feed(&app, &admin).await;
    let types = |events: &[Value]| events.iter().map(|e| text(e, "type")).collect::<Vec<_>>();
    assert!(
        types(&everything).contains(&"session.logged".to_string()),
        "{everything:?}"
    );

    let seen = feed(&app, &events_only).await;
    assert!(types(&seen).iter().all(|t| t == "clinic.created"), "{:?}", types(&seen));
    assert!(!serde_json::to_string(&seen).unwrap_or_default().contains("sharp pain"));
    let seen = feed(&app, &events_clients).await;
    let want: Vec<String> = types(&everything)
        .into_iter()
        .filter(|t| t.starts_with("client.") || t == "clinic.created")
        .collect();
    assert_eq!(types(&seen), want, "every client event, in order, none of the others");
    // The audit trail names the clients whose events a page showed.
    let reads: Vec<Value> = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e["action"] == "list_events" && e["status"] == 200)
        .collect();
    assert!(
        reads
            .iter()
            .any(|e| e["client_ids"].as_array().is_some_and(|ids| ids.contains(&json!(sam)))),
        "{reads:?}"
    );
    let res = app
        .get("/v1/events?types=client.created,session.logged")
        .bearer(&events_clients)
        .send()
        .await;
    assert!(
        res.problem(403)["detail"]
            .as_str()
            .unwrap_or("")
            .contains("session.logged"),
        "{}",
        res.body
    );

    // Subscriptions: checked when made and at every change, against whoever makes it.
    let (hooks_only, _) = api_key(&app, &admin, &["webhooks:write"]).await;
    let (hooks_sessions, hooks_sessions_id) =
        api_key(&app, &admin, &["webhooks:write", "events:read", "sessions:read"]).await;
    let subscribe = |key: String, events: Value| {
        let app = &app;
        async move {
            app.post("/v1/webhooks")
                .bearer(&key)
                .json(json!({"url": "https://hooks.example.com/in", "events": events}))
                .send()
                .await
        }
    };
    let res = subscribe(hooks_only.clone(), json!(["session.logged"])).await;
    assert!(
        res.problem(403)["detail"]
            .as_str()
            .unwrap_or("")
            .contains("session.logged")
    );
    let res = subscribe(hooks_sessions.clone(), json!(["session.logged", "client.created"])).await;
    assert!(
        res.problem(403)["detail"]
            .as_str()
            .unwrap_or("")
            .contains("client.created")
    );
    let res = subscribe(hooks_sessions.clone(), json!(["session.logged"])).await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(
        res.body["created_by"],
        json!({"kind": "api_key", "id": hooks_sessions_id})
    );
    let res = subscribe(admin.clone(), json!(["session.logged", "client.created"])).await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["created_by"]["kind"], "practitioner");
    let admins_hook = text(&res.body, "id");
    for change in [
        json!({"url": "https://attacker.example.com/"}),
        json!({"events": ["session.logged"]}),
    ] {
        let res = app
            .patch(&format!("/v1/webhooks/{admins_hook}"))
            .bearer(&hooks_sessions)
            .json(change.clone())
            .send()
            .await;
        if change.get("url").is_some() {
            // The endpoint still delivers client.created, which this key may not read.
            res.problem(403);
        } else {
            assert_eq!(
                res.status, 200,
                "narrowing to what the key reads is allowed: {}",
                res.body
            );
        }
    }
    let res = app
        .patch(&format!("/v1/webhooks/{admins_hook}"))
        .bearer(&hooks_only)
        .json(json!({"url": "https://attacker.example.com/"}))
        .send()
        .await;
    res.problem(403);
    let hook = app
        .get(&format!("/v1/webhooks/{admins_hook}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(
        hook.body["url"], "https://hooks.example.com/in",
        "nothing changed the URL"
    );
}
