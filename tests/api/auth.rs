//! Sign-up, tokens, revocation, throttling and `/v1/me`.

use crate::helpers::{PASSWORD, TestApp};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

#[actix_web::test]
async fn a_clinic_signs_up_gets_tokens_and_reads_me() {
    let app = TestApp::spawn().await;
    let signup = app.signup("Harbour Physio", "Ana@Harbour.Example").await;
    assert_eq!(signup["clinic"]["name"], "Harbour Physio");
    assert_eq!(
        signup["admin"]["email"], "ana@harbour.example",
        "emails are stored lower-cased"
    );
    assert_eq!(signup["admin"]["role"], "admin");
    assert_eq!(signup["admin"]["status"], "active");

    // The email is case-insensitive at sign-in too.
    let tokens = app.login("ANA@harbour.example", PASSWORD).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(tokens.body["token_type"], "Bearer");
    assert_eq!(tokens.body["expires_in"], 900);
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let access = tokens.body["access_token"].as_str().expect("access token");

    let me = app.get("/v1/me").bearer(access).send().await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["email"], "ana@harbour.example");
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["clinic"]["id"], signup["clinic"]["id"]);
    assert_eq!(me.body["practitioner_id"], signup["admin"]["id"]);
    assert!(me.body["client_id"].is_null());
    assert_eq!(me.header("etag"), Some("\"1\""));
}

#[actix_web::test]
async fn the_token_endpoint_takes_form_bodies() {
    let app = TestApp::spawn().await;
    app.signup("Form Clinic", "form@clinic.example").await;
    let body = format!(
        "grant_type=password&username=form%40clinic.example&password={}",
        PASSWORD.replace(' ', "+")
    );
    let res = app
        .post("/v1/auth/token")
        .raw("application/x-www-form-urlencoded", body)
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let refresh = res.body["refresh_token"].as_str().expect("refresh");
    let res = app
        .post("/v1/auth/token")
        .raw(
            "application/x-www-form-urlencoded",
            format!("grant_type=refresh_token&refresh_token={refresh}"),
        )
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);

    let res = app
        .post("/v1/auth/token")
        .raw("application/x-www-form-urlencoded", "grant_type=magic")
        .send()
        .await;
    res.problem(422);

    // An optional field may be left out, but null is not a value the document allows.
    let res = app
        .post("/v1/auth/token")
        .json(json!({"grant_type": "password", "username": "a@b.example", "password": "p", "scope": null}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "scope");
    let res = app
        .post("/v1/auth/revoke")
        .json(json!({"token": "not-a-token", "token_type_hint": null}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "token_type_hint");

    // A username that is no email address is refused before it reaches the database (a NUL
    // byte in it used to be a 500).
    for username in ["a\u{0}b@x.example", "not an email"] {
        let res = app
            .post("/v1/auth/token")
            .json(json!({"grant_type": "password", "username": username, "password": "whatever123"}))
            .send()
            .await;
        assert_eq!(res.problem(422)["errors"][0]["field"], "username");
    }
    let res = app
        .post("/v1/auth/token")
        .raw(
            "application/x-www-form-urlencoded",
            "grant_type=password&username=a%00b%40x.example&password=whatever123",
        )
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "username");
}

#[actix_web::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_sign_in() {
    let app = TestApp::spawn().await;
    app.signup("Rotate", "rot@clinic.example").await;
    let first = app.login("rot@clinic.example", PASSWORD).await.body;
    let refresh1 = first["refresh_token"].as_str().expect("refresh").to_string();

    let refresh = |t: &str| {
        app.post("/v1/auth/token")
            .json(json!({"grant_type": "refresh_token", "refresh_token": t}))
            .send()
    };
    let second = refresh(&refresh1).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let refresh2 = second.body["refresh_token"].as_str().expect("refresh").to_string();
    let access2 = second.body["access_token"].as_str().expect("access").to_string();
    assert_ne!(refresh1, refresh2);
    assert_eq!(app.get("/v1/me").bearer(&access2).send().await.status, 200);

    // Replaying the used refresh token is refused and revokes the whole family.
    let replay = refresh(&refresh1).await;
    assert_eq!(replay.problem(401)["error"], "invalid_grant");
    assert_eq!(
        refresh(&refresh2).await.status,
        401,
        "the rotated token died with its family"
    );
    assert_eq!(
        app.get("/v1/me").bearer(&access2).send().await.status,
        401,
        "access tokens of the family die too"
    );

    // Another sign-in is unaffected.
    let other = app.login("rot@clinic.example", PASSWORD).await.body;
    assert_eq!(
        app.get("/v1/me")
            .bearer(other["access_token"].as_str().expect("t"))
            .send()
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn revoking_ends_the_sign_in() {
    let app = TestApp::spawn().await;
    app.signup("Revoke", "rev@clinic.example").await;
    let t = app.login("rev@clinic.example", PASSWORD).await.body;
    let access = t["access_token"].as_str().expect("access");
    let refresh = t["refresh_token"].as_str().expect("refresh");

    let res = app.post("/v1/auth/revoke").json(json!({"token": refresh})).send().await;
    assert_eq!(res.status, 200);
    assert_eq!(app.get("/v1/me").bearer(access).send().await.status, 401);
    let res = app
        .post("/v1/auth/token")
        .json(json!({"grant_type": "refresh_token", "refresh_token": refresh}))
        .send()
        .await;
    res.problem(401);

    // Unknown tokens are fine to revoke (RFC 7009); an access token revokes its sign-in.
    assert_eq!(
        app.post("/v1/auth/revoke")
            .json(json!({"token": "nonsense"}))
            .send()
            .await
            .status,
        200
    );
    let t = app.login("rev@clinic.example", PASSWORD).await.body;
    let access = t["access_token"].as_str().expect("access");
    assert_eq!(
        app.post("/v1/auth/revoke")
            .json(json!({"token": access}))
            .send()
            .await
            .status,
        200
    );
    assert_eq!(app.get("/v1/me").bearer(access).send().await.status, 401);
}

fn forge(claims: serde_json::Value, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .expect("encodes")
}

#[actix_web::test]
async fn forged_and_expired_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let good = app.admin_token("Forge", "forge@clinic.example").await;
    let parts: Vec<&str> = good.split('.').collect();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");

    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let mut tampered_claims = claims.clone();
    tampered_claims["clinic"] = json!(uuid::Uuid::now_v7());
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(tampered_claims.to_string()),
        parts[2]
    );
    let wrong_key = forge(claims.clone(), b"not-the-server-secret-not-the-server");
    let secret = app.state.config.jwt_secret.expose().as_bytes().to_vec();
    let mut expired_claims = claims.clone();
    expired_claims["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    let expired = forge(expired_claims, &secret);
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    let wrong_aud = forge(wrong_aud, &secret);

    // RFC 6750 section 3.1: a presented token that cannot be used is `invalid_token`, with a
    // description; "expired" only for a token whose signature verified.
    let mut expired_forged = claims.clone();
    expired_forged["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    let expired_forged = forge(expired_forged, b"not-the-server-secret-not-the-server");
    for (what, token) in [
        ("alg none", alg_none),
        ("tampered", tampered),
        ("wrong key", wrong_key),
        ("expired", expired),
        ("wrong aud", wrong_aud),
        ("expired and forged", expired_forged),
        ("an unknown API key", "rhk_not-a-key-of-this-service".to_string()),
    ] {
        let res = app.get("/v1/me").bearer(&token).send().await;
        res.problem(401);
        let challenge = res.header("www-authenticate").unwrap_or_default().to_string();
        assert!(
            challenge.starts_with("Bearer realm=\"rehabit\", error=\"invalid_token\", error_description=\""),
            "{what}: {challenge}"
        );
        assert_eq!(challenge.contains("expired"), what == "expired", "{what}: {challenge}");
    }
    // No credentials at all: a challenge without an error code.
    let res = app.get("/v1/me").send().await;
    res.problem(401);
    assert_eq!(res.header("www-authenticate"), Some("Bearer realm=\"rehabit\""));
    // The genuine token still works, and a token re-signed with the real key is accepted
    // (proves the checks above failed for the reasons named, not for any token).
    assert_eq!(app.get("/v1/me").bearer(&good).send().await.status, 200);
    assert_eq!(
        app.get("/v1/me").bearer(&forge(claims, &secret)).send().await.status,
        200
    );
}

#[actix_web::test]
async fn deactivating_a_membership_ends_access_at_once() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let token = app.admin_token("Deact", "deact@clinic.example").await;
    assert_eq!(app.get("/v1/me").bearer(&token).send().await.status, 200);
    diesel::sql_query("UPDATE memberships SET active = false")
        .execute(&mut app.db().await)
        .await
        .expect("update");
    // Made behind the service's back: it hears of it through the database's notification.
    assert_eq!(app.status_becomes("/v1/me", &token, 401).await, 401);
    app.get("/v1/me").bearer(&token).send().await.problem(401);
    app.login("deact@clinic.example", PASSWORD).await.problem(401);
}

#[actix_web::test]
async fn wrong_email_and_wrong_password_look_the_same() {
    let app = TestApp::spawn().await;
    app.signup("Same", "same@clinic.example").await;
    let wrong_pw = app.login("same@clinic.example", "not the password").await;
    let wrong_email = app.login("nobody@clinic.example", "not the password").await;
    wrong_pw.problem(401);
    assert_eq!(wrong_pw.body, wrong_email.body);
    assert_eq!(wrong_pw.body["error"], "invalid_grant");
}

#[actix_web::test]
async fn failed_sign_ins_are_throttled_per_account() {
    let app = TestApp::spawn().await;
    app.signup("Throttle", "thr@clinic.example").await;
    for _ in 0..5 {
        app.login("thr@clinic.example", "wrong password!").await.problem(401);
    }
    let res = app.login("thr@clinic.example", "wrong password!").await;
    res.problem(429);
    let wait: u64 = res
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(wait > 0 && wait <= 900);
    // Even the right password waits out the window: the lock is on the account.
    app.login("thr@clinic.example", PASSWORD).await.problem(429);
}

#[actix_web::test]
async fn failed_sign_ins_are_throttled_per_address() {
    let app = TestApp::spawn().await;
    for i in 0..30 {
        let res = app
            .post("/v1/auth/token")
            .peer("203.0.113.9:5000")
            .json(json!({"grant_type": "password", "username": format!("u{i}@x.example"), "password": "whatever123"}))
            .send()
            .await;
        res.problem(401);
    }
    let res = app
        .post("/v1/auth/token")
        .peer("203.0.113.9:5000")
        .json(json!({"grant_type": "password", "username": "new@x.example", "password": "whatever123"}))
        .send()
        .await;
    res.problem(429);
    let other = app
        .post("/v1/auth/token")
        .peer("198.51.100.7:5000")
        .json(json!({"grant_type": "password", "username": "new@x.example", "password": "whatever123"}))
        .send()
        .await;
    other.problem(401);
}

#[actix_web::test]
async fn sign_up_names_every_bad_field() {
    let app = TestApp::spawn().await;
    let res = app
        .post("/v1/clinics")
        .json(json!({"clinic_name": "  ", "admin": {"name": "A", "email": "not-an-email", "password": "short"}}))
        .send()
        .await;
    res.problem(422);
    let mut fields = res.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["admin.email", "admin.password", "clinic_name"]);

    let res = app
        .post("/v1/clinics")
        .json(json!({"clinic_name": "X", "admin": {"name": "A", "email": "a@b.example"}}))
        .send()
        .await;
    res.problem(422);
    assert_eq!(
        res.error_fields(),
        vec!["admin"],
        "a missing field is named: {}",
        res.body
    );

    let res = app
        .post("/v1/clinics")
        .json(json!({"clinic_name": 5, "admin": {"name": "A", "email": "a@b.example", "password": PASSWORD}}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "clinic_name", "{}", res.body);
}

#[actix_web::test]
async fn an_existing_login_adds_a_clinic_with_its_own_password() {
    let app = TestApp::spawn().await;
    let first = app.signup("First", "multi@clinic.example").await;
    // Someone else cannot claim the email.
    let res = app
        .post("/v1/clinics")
        .json(json!({"clinic_name": "Imposter", "admin": {"name": "X", "email": "multi@clinic.example", "password": "another password"}}))
        .send()
        .await;
    res.problem(409);
    let second = app.signup("Second", "multi@clinic.example").await;
    assert_ne!(first["clinic"]["id"], second["clinic"]["id"]);

    let res = app.login("multi@clinic.example", PASSWORD).await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "clinic_id");
    let res = app
        .post("/v1/auth/token")
        .json(json!({"grant_type": "password", "username": "multi@clinic.example", "password": PASSWORD, "clinic_id": second["clinic"]["id"]}))
        .send()
        .await;
    assert_eq!(res.status, 200);
    let me = app
        .get("/v1/me")
        .bearer(res.body["access_token"].as_str().expect("t"))
        .send()
        .await;
    assert_eq!(me.body["clinic"]["name"], "Second");
}

#[actix_web::test]
async fn sign_up_can_be_switched_off() {
    let app = TestApp::spawn_with(|c| c.signup_enabled = false).await;
    let res = app
        .post("/v1/clinics")
        .json(json!({"clinic_name": "Nope", "admin": {"name": "N", "email": "n@n.example", "password": PASSWORD}}))
        .send()
        .await;
    res.problem(403);
}

#[actix_web::test]
async fn me_changes_name_and_password() {
    let app = TestApp::spawn().await;
    app.signup("Me", "me@clinic.example").await;
    let session_a = app.login("me@clinic.example", PASSWORD).await.body;
    let session_b = app.login("me@clinic.example", PASSWORD).await.body;
    let a = session_a["access_token"].as_str().expect("a");
    let b = session_b["access_token"].as_str().expect("b");

    let res = app
        .patch("/v1/me")
        .bearer(a)
        .header("If-Match", "\"1\"")
        .json(json!({"name": "Ana R."}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["name"], "Ana R.");
    assert_eq!(res.header("etag"), Some("\"2\""));
    // Stale If-Match: 412, and nothing changes.
    let res = app
        .patch("/v1/me")
        .bearer(a)
        .header("If-Match", "\"1\"")
        .json(json!({"name": "Stale"}))
        .send()
        .await;
    res.problem(412);
    assert_eq!(app.get("/v1/me").bearer(a).send().await.body["name"], "Ana R.");

    app.patch("/v1/me")
        .bearer(a)
        .json(json!({"name": null}))
        .send()
        .await
        .problem(422);
    let res = app
        .patch("/v1/me")
        .bearer(a)
        .json(json!({"current_password": null}))
        .send()
        .await;
    assert_eq!(
        res.problem(422)["errors"][0]["field"],
        "current_password",
        "null is not a password"
    );
    let res = app
        .patch("/v1/me")
        .bearer(a)
        .json(json!({"password": "a brand new password"}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "current_password");
    let res = app
        .patch("/v1/me")
        .bearer(a)
        .json(json!({"password": "a brand new password", "current_password": "wrong one!!"}))
        .send()
        .await;
    assert_eq!(
        res.problem(422)["errors"][0]["field"],
        "current_password",
        "a wrong password is not a bad token: apps must not sign out"
    );
    assert_eq!(app.get("/v1/me").bearer(a).send().await.status, 200);
    let res = app
        .patch("/v1/me")
        .bearer(a)
        .json(json!({"password": "a brand new password", "current_password": PASSWORD}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    // The other sign-in ends; this one goes on; the new password works, the old does not.
    assert_eq!(app.get("/v1/me").bearer(b).send().await.status, 401);
    assert_eq!(app.get("/v1/me").bearer(a).send().await.status, 200);
    app.login("me@clinic.example", PASSWORD).await.problem(401);
    assert_eq!(app.login("me@clinic.example", "a brand new password").await.status, 200);
}

#[actix_web::test]
async fn current_password_guesses_count_as_failed_sign_ins() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("Guess clinic", "guess@clinic.example").await;
    let guess = |n: usize| {
        app.patch("/v1/me")
            .bearer(&token)
            .json(json!({"password": "a brand new password", "current_password": format!("guess number {n}")}))
            .send()
    };
    for n in 0..rehabit::auth::throttle::PER_ACCOUNT {
        guess(usize::try_from(n).unwrap_or(0)).await.problem(422);
    }
    let res = guess(99).await;
    res.problem(429);
    assert!(res.header("retry-after").is_some());
    // The same allowance as signing in: the account is locked for a while either way.
    app.login("guess@clinic.example", PASSWORD).await.problem(429);
}

#[actix_web::test]
async fn sign_up_emits_clinic_created_in_the_outbox() {
    use diesel::sql_types::{BigInt, Nullable, Text};
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Ev {
        #[diesel(sql_type = Nullable<BigInt>)]
        seq: Option<i64>,
        #[diesel(sql_type = Text)]
        ty: String,
        #[diesel(sql_type = Text)]
        name: String,
    }
    let app = TestApp::spawn().await;
    app.signup("Outbox", "outbox@clinic.example").await;
    let mut db = app.db().await;
    let read = async |db: &mut diesel_async::AsyncPgConnection| -> Vec<(Option<i64>, String, String)> {
        diesel::sql_query("SELECT seq, type AS ty, data->>'name' AS name FROM events")
            .load::<Ev>(db)
            .await
            .expect("events")
            .into_iter()
            .map(|e| (e.seq, e.ty, e.name))
            .collect()
    };
    // Written without a feed position; the sequencer (housekeeping, or the feed before a read)
    // gives it the clinic's first.
    let unnumbered = (None, "clinic.created".to_string(), "Outbox".to_string());
    assert_eq!(read(&mut db).await, vec![unnumbered]);
    assert_eq!(rehabit::events::sequence_all(&mut db).await.expect("sequence"), 1);
    let numbered = (Some(1), "clinic.created".to_string(), "Outbox".to_string());
    assert_eq!(read(&mut db).await, vec![numbered]);
    assert_eq!(rehabit::events::sequence_all(&mut db).await.expect("again"), 0);
}

/// Two instances of the service on one database, each with its own cache of callers (issue 16):
/// access ended on one is refused by that one at once, and by the other once the database's
/// notification reaches it (a bounded wait; the assertion is on the outcome, not its speed).
#[actix_web::test]
async fn access_ended_on_one_instance_is_refused_by_the_other() {
    use diesel_async::RunQueryDsl;
    let a = TestApp::spawn().await;
    let b = a.second_instance().await;
    let admin = a.admin_token("Two", "two@clinic.example").await;
    let other_sign_in = a.login("two@clinic.example", PASSWORD).await.body["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let res = a
        .post("/v1/api-keys")
        .bearer(&admin)
        .json(json!({"name": "Booking", "scopes": ["clients:read"]}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let (key, key_id) = (
        res.body["key"].as_str().expect("key").to_string(),
        res.body["id"].as_str().expect("id").to_string(),
    );
    // Both instances have seen every credential, with their caches in use.
    assert_eq!(b.get("/v1/me").bearer(&admin).send().await.status, 200);
    a.cache_listening().await;
    b.cache_listening().await;
    for app in [&a, &b] {
        assert_eq!(app.get("/v1/me").bearer(&admin).send().await.status, 200);
        assert_eq!(app.get("/v1/me").bearer(&other_sign_in).send().await.status, 200);
        assert_eq!(app.get("/v1/clients").bearer(&key).send().await.status, 200);
        assert!(app.state.auth_cache.len() >= 3, "the callers are cached");
    }

    // A sign-in ended on A: A refuses its next request, B after its notification.
    let res = a.post("/v1/auth/revoke").json(json!({"token": admin})).send().await;
    assert_eq!(res.status, 200, "{}", res.body);
    a.get("/v1/me").bearer(&admin).send().await.problem(401);
    assert_eq!(b.status_becomes("/v1/me", &admin, 401).await, 401);
    // The other sign-in is untouched on both.
    assert_eq!(a.get("/v1/me").bearer(&other_sign_in).send().await.status, 200);
    assert_eq!(b.get("/v1/me").bearer(&other_sign_in).send().await.status, 200);

    // A key revoked on B: B refuses at once, A after its notification.
    assert_eq!(a.get("/v1/clients").bearer(&key).send().await.status, 200);
    let res = b
        .delete(&format!("/v1/api-keys/{key_id}"))
        .bearer(&other_sign_in)
        .send()
        .await;
    assert_eq!(res.status, 204, "{}", res.body);
    b.get("/v1/clients").bearer(&key).send().await.problem(401);
    assert_eq!(a.status_becomes("/v1/clients", &key, 401).await, 401);

    // A membership ended behind both instances' backs (direct SQL): both refuse.
    assert_eq!(a.get("/v1/me").bearer(&other_sign_in).send().await.status, 200);
    assert_eq!(b.get("/v1/me").bearer(&other_sign_in).send().await.status, 200);
    diesel::sql_query("UPDATE memberships SET active = false")
        .execute(&mut a.db().await)
        .await
        .expect("deactivate");
    assert_eq!(a.status_becomes("/v1/me", &other_sign_in, 401).await, 401);
    assert_eq!(b.status_becomes("/v1/me", &other_sign_in, 401).await, 401);
}

/// When the listening connection drops, the instance stops trusting its cache (a change made
/// meanwhile could not be heard) and listens again on a new connection.
#[actix_web::test]
async fn the_cache_is_bypassed_while_its_listener_is_down() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let token = app.admin_token("Drop", "drop@clinic.example").await;
    assert_eq!(app.get("/v1/me").bearer(&token).send().await.status, 200);
    app.cache_listening().await;
    assert_eq!(app.get("/v1/me").bearer(&token).send().await.status, 200);
    assert!(!app.state.auth_cache.is_empty());
    let ended = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN rehabit_auth%'",
    )
    .execute(&mut app.db().await)
    .await
    .expect("terminate the listener");
    assert_eq!(ended, 1, "one listening connection");
    for _ in 0..500 {
        if !app.state.auth_cache.is_listening() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(app.state.auth_cache.is_empty(), "emptied when its connection dropped");
    // It listens again, and notifications work on the new connection.
    app.cache_listening().await;
    assert_eq!(app.get("/v1/me").bearer(&token).send().await.status, 200);
    diesel::sql_query("UPDATE token_families SET revoked_at = now()")
        .execute(&mut app.db().await)
        .await
        .expect("revoke");
    assert_eq!(app.status_becomes("/v1/me", &token, 401).await, 401);
}
