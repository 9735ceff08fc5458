//! Practitioners, clients, invitations and booking-system upserts.

use crate::helpers::{PASSWORD, TestApp, TestResponse};
use serde_json::{Value, json};

fn token_of(res: &TestResponse) -> String {
    assert_eq!(res.status, 200, "{}", res.body);
    res.body["access_token"].as_str().expect("access token").to_string()
}

async fn invite_practitioner(app: &TestApp, admin: &str, email: &str) -> Value {
    let res = app
        .post("/v1/practitioners")
        .bearer(admin)
        .json(json!({"name": "Pat Smith", "email": email}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body
}

async fn new_client(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post("/v1/clients").bearer(token).json(body).send().await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body
}

#[actix_web::test]
async fn a_practitioner_is_invited_accepts_and_is_deactivated() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let created = invite_practitioner(&app, &admin, "pat@c.example").await;
    assert_eq!(created["status"], "invited");
    assert_eq!(created["role"], "practitioner");
    let token = created["invitation"]["token"].as_str().expect("token");
    assert!(token.starts_with("rhi_"));
    let id = created["id"].as_str().expect("id");

    // Not yet a login: password sign-in fails until the invitation is accepted.
    app.login("pat@c.example", PASSWORD).await.problem(401);
    app.accept(token, "short").await.problem(422);
    let pat = token_of(&app.accept(token, PASSWORD).await);
    app.accept(token, PASSWORD).await.problem(401);

    let me = app.get("/v1/me").bearer(&pat).send().await;
    assert_eq!(
        (me.body["role"].as_str(), me.body["practitioner_id"].as_str()),
        (Some("practitioner"), Some(id))
    );
    let got = app.get(&format!("/v1/practitioners/{id}")).bearer(&admin).send().await;
    assert_eq!(got.body["status"], "active");

    // Practitioners read the staff list but do not manage it.
    let list = app.get("/v1/practitioners").bearer(&pat).send().await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(2));
    app.post("/v1/practitioners")
        .bearer(&pat)
        .json(json!({"name": "X", "email": "x@c.example"}))
        .send()
        .await
        .problem(403);

    // Deactivation ends access at once, for a still-unexpired token too.
    let res = app
        .patch(&format!("/v1/practitioners/{id}"))
        .bearer(&admin)
        .json(json!({"active": false}))
        .send()
        .await;
    assert_eq!((res.status, res.body["status"].as_str()), (200, Some("deactivated")));
    app.get("/v1/me").bearer(&pat).send().await.problem(401);
    app.login("pat@c.example", PASSWORD).await.problem(401);
    let inactive = app.get("/v1/practitioners?active=false").bearer(&admin).send().await;
    assert_eq!(inactive.body["items"][0]["id"], id);
    // ... and reactivation restores it.
    app.patch(&format!("/v1/practitioners/{id}"))
        .bearer(&admin)
        .json(json!({"active": true}))
        .succeeds()
        .await;
    assert_eq!(app.login("pat@c.example", PASSWORD).await.status, 200);
}

#[actix_web::test]
async fn invitations_expire_and_newer_ones_replace_older() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let created = invite_practitioner(&app, &admin, "pat@c.example").await;
    let first = created["invitation"]["token"].as_str().expect("token").to_string();
    let id = created["id"].as_str().expect("id");

    let again = app
        .post(&format!("/v1/practitioners/{id}/invitation"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    let second = again.body["token"].as_str().expect("token").to_string();
    app.accept(&first, PASSWORD).await.problem(401);

    diesel::sql_query("UPDATE invitations SET expires_at = now() - interval '1 second'")
        .execute(&mut app.db().await)
        .await
        .expect("expire");
    app.accept(&second, PASSWORD).await.problem(401);
    app.accept("rhi_not-a-real-token", PASSWORD).await.problem(401);
}

#[actix_web::test]
async fn an_existing_login_joins_a_second_clinic_with_its_own_password() {
    let app = TestApp::spawn().await;
    app.admin_token("Clinic A", "a@a.example").await;
    let admin_b = app.admin_token("Clinic B", "b@b.example").await;
    let pat = app
        .post("/v1/practitioners")
        .bearer(&admin_b)
        .json(json!({"name": "Shared Person", "email": "A@a.example"}))
        .send()
        .await;
    assert_eq!(pat.status, 201, "{}", pat.body);
    let token = pat.body["invitation"]["token"].as_str().expect("token");
    app.accept(token, "a different password").await.problem(401);
    let t = token_of(&app.accept(token, PASSWORD).await);
    assert_eq!(
        app.get("/v1/me").bearer(&t).send().await.body["clinic"]["name"],
        "Clinic B"
    );
    // The login now belongs to two clinics.
    assert_eq!(
        app.login("a@a.example", PASSWORD).await.problem(422)["errors"][0]["field"],
        "clinic_id"
    );

    // Clinic B cannot reset a login that clinic A relies on: no invitation is issued.
    let again = app
        .post(&format!(
            "/v1/practitioners/{}/invitation",
            pat.body["id"].as_str().expect("id")
        ))
        .bearer(&admin_b)
        .send()
        .await;
    assert_eq!(again.problem(409)["code"], "login_shared");
}

#[actix_web::test]
async fn a_new_invitation_resets_a_password_and_ends_sign_ins() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let created = invite_practitioner(&app, &admin, "pat@c.example").await;
    let pat = token_of(
        &app.accept(created["invitation"]["token"].as_str().expect("t"), PASSWORD)
            .await,
    );
    let reset = app
        .post(&format!(
            "/v1/practitioners/{}/invitation",
            created["id"].as_str().expect("id")
        ))
        .bearer(&admin)
        .send()
        .await;
    token_of(
        &app.accept(reset.body["token"].as_str().expect("t"), "my new password!")
            .await,
    );
    app.get("/v1/me").bearer(&pat).send().await.problem(401);
    app.login("pat@c.example", PASSWORD).await.problem(401);
    assert_eq!(app.login("pat@c.example", "my new password!").await.status, 200);
}

#[actix_web::test]
async fn the_last_admin_stays_an_admin() {
    let app = TestApp::spawn().await;
    let signup = app.signup("Clinic", "admin@c.example").await;
    let admin = token_of(&app.login("admin@c.example", PASSWORD).await);
    let id = signup["admin"]["id"].as_str().expect("id");
    let path = format!("/v1/practitioners/{id}");
    app.patch(&path)
        .bearer(&admin)
        .json(json!({"active": false}))
        .send()
        .await
        .problem(409);
    app.patch(&path)
        .bearer(&admin)
        .json(json!({"role": "practitioner"}))
        .send()
        .await
        .problem(409);
    app.patch(&path)
        .bearer(&admin)
        .json(json!({"role": "client"}))
        .send()
        .await
        .problem(422);
    // With a second admin, the first may step down.
    let other = app
        .post("/v1/practitioners")
        .bearer(&admin)
        .json(json!({"name": "Second", "email": "second@c.example", "role": "admin"}))
        .send()
        .await;
    token_of(
        &app.accept(other.body["invitation"]["token"].as_str().expect("t"), PASSWORD)
            .await,
    );
    let res = app
        .patch(&path)
        .bearer(&admin)
        .json(json!({"role": "practitioner"}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
}

#[actix_web::test]
async fn practitioners_are_upserted_by_external_id() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let path = "/v1/practitioners/by-external-id/staff-17";
    app.put(path)
        .bearer(&admin)
        .json(json!({"name": "No Email"}))
        .send()
        .await
        .problem(422);
    let created = app
        .put(path)
        .bearer(&admin)
        .json(json!({"name": "Kim", "email": "kim@c.example"}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["external_id"], "staff-17");
    assert!(created.body["invitation"]["token"].is_string());
    let events_before = app.event_types().await.len();

    let same = app.put(path).bearer(&admin).json(json!({"name": "Kim"})).send().await;
    assert_eq!((same.status, same.body["version"].as_i64()), (200, Some(1)));
    assert_eq!(
        app.event_types().await.len(),
        events_before,
        "a no-op upsert emits nothing"
    );
    let renamed = app
        .put(path)
        .bearer(&admin)
        .json(json!({"name": "Kim Lee"}))
        .send()
        .await;
    assert_eq!(
        (renamed.body["name"].as_str(), renamed.body["email"].as_str()),
        (Some("Kim Lee"), Some("kim@c.example"))
    );
    app.put(path)
        .bearer(&admin)
        .json(json!({"email": "other@c.example"}))
        .send()
        .await
        .problem(422);
    app.put(path)
        .bearer(&admin)
        .header("If-Match", "\"1\"")
        .json(json!({"name": "Stale"}))
        .send()
        .await
        .problem(412);

    let send = |i: u32| {
        app.put("/v1/practitioners/by-external-id/staff-99")
            .bearer(&admin)
            .json(json!({"name": format!("Racer {i}"), "email": "racer@c.example"}))
            .send()
    };
    let (a, b, c) = tokio::join!(send(1), send(2), send(3));
    let mut statuses = vec![a.status, b.status, c.status];
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 201], "{} {} {}", a.body, b.body, c.body);
    let list = app.get("/v1/practitioners").bearer(&admin).send().await;
    let racers = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|p| p["external_id"] == "staff-99")
        .count();
    assert_eq!(racers, 1);
}

#[actix_web::test]
async fn clients_are_created_read_updated_and_validated() {
    let app = TestApp::spawn().await;
    let signup = app.signup("Clinic", "admin@c.example").await;
    let admin = token_of(&app.login("admin@c.example", PASSWORD).await);
    let admin_id = signup["admin"]["id"].as_str().expect("id");
    let client = new_client(
        &app,
        &admin,
        json!({"name": "Sam Lee", "email": "Sam@Example.com", "timezone": "Europe/London", "external_id": "bk-1042", "primary_practitioner_id": admin_id}),
    )
    .await;
    assert_eq!(
        (client["email"].as_str(), client["archived"].as_bool()),
        (Some("sam@example.com"), Some(false))
    );
    assert_eq!(client["has_login"], false);
    let id = client["id"].as_str().expect("id");
    let path = format!("/v1/clients/{id}");

    let res = app
        .post("/v1/clients")
        .bearer(&admin)
        .json(json!({"name": "", "email": "nope", "timezone": "Mars/Base", "external_id": "has space"}))
        .send()
        .await;
    res.problem(422);
    let mut fields = res.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["email", "external_id", "name", "timezone"]);
    let res = app
        .post("/v1/clients")
        .bearer(&admin)
        .json(json!({"name": "X", "timezone": "UTC", "primary_practitioner_id": uuid::Uuid::now_v7()}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "primary_practitioner_id");
    let res = app
        .post("/v1/clients")
        .bearer(&admin)
        .json(json!({"name": "Dup", "timezone": "UTC", "external_id": "bk-1042"}))
        .send()
        .await;
    res.problem(409);

    let res = app
        .patch(&path)
        .bearer(&admin)
        .header("If-Match", "\"1\"")
        .json(json!({"timezone": "America/New_York", "email": null}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        (res.body["timezone"].as_str(), res.body["email"].is_null()),
        (Some("America/New_York"), true)
    );
    assert_eq!(res.header("etag"), Some("\"2\""));
    app.patch(&path)
        .bearer(&admin)
        .header("If-Match", "\"1\"")
        .json(json!({"name": "Stale"}))
        .send()
        .await
        .problem(412);
    app.patch(&path)
        .bearer(&admin)
        .json(json!({"name": null}))
        .send()
        .await
        .problem(422);
    app.patch(&path)
        .bearer(&admin)
        .json(json!({"timezone": "Nowhere/Land"}))
        .send()
        .await
        .problem(422);
    let got = app.get(&path).bearer(&admin).send().await;
    assert_eq!(
        (got.body["name"].as_str(), got.body["version"].as_i64()),
        (Some("Sam Lee"), Some(2))
    );
    let by_ext = app
        .get("/v1/clients/by-external-id/bk-1042")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(by_ext.body["id"], id);
    app.get("/v1/clients/by-external-id/unknown")
        .bearer(&admin)
        .send()
        .await
        .problem(404);
    app.get("/v1/clients/not-a-uuid")
        .bearer(&admin)
        .send()
        .await
        .problem(400);
}

#[actix_web::test]
async fn the_client_list_pages_searches_and_filters() {
    let app = TestApp::spawn().await;
    let signup = app.signup("Clinic", "admin@c.example").await;
    let admin = token_of(&app.login("admin@c.example", PASSWORD).await);
    let admin_id = signup["admin"]["id"].as_str().expect("id").to_string();
    let mut ids = Vec::new();
    for (i, name) in ["Ada Lovelace", "Bob Stone", "Cy Lee", "Di 100%", "Ed Lee"]
        .iter()
        .enumerate()
    {
        let mut body = json!({"name": name, "timezone": "UTC", "external_id": format!("ext-{i}")});
        if i % 2 == 0 {
            body["primary_practitioner_id"] = json!(admin_id);
        }
        let c = new_client(&app, &admin, body).await;
        ids.push(c["id"].as_str().expect("id").to_string());
    }
    let mut seen = Vec::new();
    let mut url = "/v1/clients?limit=2".to_string();
    let mut pages = 0;
    loop {
        let page = app.get(&url).bearer(&admin).send().await;
        assert_eq!(page.status, 200, "{}", page.body);
        pages += 1;
        for item in page.body["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => url = format!("/v1/clients?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!((pages, &seen), (3, &ids), "every client once, in creation order");
    app.get("/v1/clients?limit=0").bearer(&admin).send().await.problem(422);
    app.get("/v1/clients?cursor=garbage")
        .bearer(&admin)
        .send()
        .await
        .problem(400);

    let names = |res: TestResponse| -> Vec<String> {
        res.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["name"].as_str().expect("n").to_string())
            .collect()
    };
    assert_eq!(
        names(app.get("/v1/clients?q=LEE").bearer(&admin).send().await),
        vec!["Cy Lee", "Ed Lee"]
    );
    assert_eq!(
        names(app.get("/v1/clients?q=100%25").bearer(&admin).send().await),
        vec!["Di 100%"]
    );
    assert_eq!(
        names(app.get("/v1/clients?q=ext-1").bearer(&admin).send().await),
        vec!["Bob Stone"]
    );
    let mine = app
        .get(&format!("/v1/clients?primary_practitioner_id={admin_id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(names(mine), vec!["Ada Lovelace", "Cy Lee", "Ed Lee"]);

    app.patch(&format!("/v1/clients/{}", ids[0]))
        .bearer(&admin)
        .json(json!({"archived": true}))
        .succeeds()
        .await;
    assert_eq!(
        names(app.get("/v1/clients?archived=true").bearer(&admin).send().await),
        vec!["Ada Lovelace"]
    );
    assert_eq!(names(app.get("/v1/clients").bearer(&admin).send().await).len(), 4);
}

#[actix_web::test]
async fn a_client_logs_in_sees_only_themselves_and_archiving_ends_access() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let no_email = new_client(&app, &admin, json!({"name": "No Mail", "timezone": "UTC"})).await;
    let res = app
        .post(&format!(
            "/v1/clients/{}/invitation",
            no_email["id"].as_str().expect("id")
        ))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "email");

    let client = new_client(
        &app,
        &admin,
        json!({"name": "Sam Lee", "email": "sam@example.com", "timezone": "Europe/London"}),
    )
    .await;
    let id = client["id"].as_str().expect("id");
    let inv = app
        .post(&format!("/v1/clients/{id}/invitation"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(inv.status, 201, "{}", inv.body);
    let sam = token_of(&app.accept(inv.body["token"].as_str().expect("t"), PASSWORD).await);
    let me = app.get("/v1/me").bearer(&sam).send().await;
    assert_eq!(
        (me.body["role"].as_str(), me.body["client_id"].as_str()),
        (Some("client"), Some(id))
    );
    assert_eq!(
        app.get(&format!("/v1/clients/{id}")).bearer(&admin).send().await.body["has_login"],
        true
    );

    // A client cannot list or read the clinic's clients or staff.
    app.get("/v1/clients").bearer(&sam).send().await.problem(403);
    app.get(&format!("/v1/clients/{id}"))
        .bearer(&sam)
        .send()
        .await
        .problem(403);
    app.get("/v1/practitioners").bearer(&sam).send().await.problem(403);

    // Renaming oneself renames the client record.
    app.patch("/v1/me")
        .bearer(&sam)
        .json(json!({"name": "Samantha Lee"}))
        .succeeds()
        .await;
    assert_eq!(
        app.get(&format!("/v1/clients/{id}")).bearer(&admin).send().await.body["name"],
        "Samantha Lee"
    );

    let res = app
        .patch(&format!("/v1/clients/{id}"))
        .bearer(&admin)
        .json(json!({"archived": true}))
        .send()
        .await;
    assert_eq!(res.body["archived"], true);
    assert!(res.body["archived_at"].is_string());
    app.get("/v1/me").bearer(&sam).send().await.problem(401);
    app.login("sam@example.com", PASSWORD).await.problem(401);
    app.post(&format!("/v1/clients/{id}/invitation"))
        .bearer(&admin)
        .send()
        .await
        .problem(409);

    let res = app
        .patch(&format!("/v1/clients/{id}"))
        .bearer(&admin)
        .json(json!({"archived": false}))
        .send()
        .await;
    assert_eq!(res.body["archived"], false);
    assert_eq!(app.login("sam@example.com", PASSWORD).await.status, 200);
}

#[actix_web::test]
async fn clients_are_upserted_by_external_id() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let path = "/v1/clients/by-external-id/bk-7";
    let res = app
        .put(path)
        .bearer(&admin)
        .json(json!({"email": "x@example.com"}))
        .send()
        .await;
    let mut fields = res.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["name", "timezone"]);
    let created = app
        .put(path)
        .bearer(&admin)
        .json(json!({"name": "Jo", "email": "jo@example.com", "timezone": "UTC"}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created.header("location").is_some());
    let updated = app
        .put(path)
        .bearer(&admin)
        .json(json!({"timezone": "Asia/Tokyo"}))
        .send()
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(
        (
            updated.body["name"].as_str(),
            updated.body["email"].as_str(),
            updated.body["timezone"].as_str()
        ),
        (Some("Jo"), Some("jo@example.com"), Some("Asia/Tokyo")),
        "fields left out keep their values"
    );
    let cleared = app.put(path).bearer(&admin).json(json!({"email": null})).send().await;
    assert!(cleared.body["email"].is_null());
    app.put(path)
        .bearer(&admin)
        .json(json!({"name": null}))
        .send()
        .await
        .problem(422);

    let id = created.body["id"].as_str().expect("id");
    app.patch(&format!("/v1/clients/{id}"))
        .bearer(&admin)
        .json(json!({"archived": true}))
        .succeeds()
        .await;
    app.put(path)
        .bearer(&admin)
        .json(json!({"name": "Jo"}))
        .send()
        .await
        .problem(409);

    let send = || {
        app.put("/v1/clients/by-external-id/bk-race")
            .bearer(&admin)
            .json(json!({"name": "Race", "timezone": "UTC"}))
            .send()
    };
    let (a, b, c) = tokio::join!(send(), send(), send());
    let mut statuses = vec![a.status, b.status, c.status];
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 201]);
    let list = app.get("/v1/clients?q=bk-race").bearer(&admin).send().await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
}

#[actix_web::test]
async fn concurrent_idempotent_creates_make_one_client() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let send = || {
        app.post("/v1/clients")
            .bearer(&admin)
            .header("Idempotency-Key", "create-sam")
            .json(json!({"name": "Sam", "timezone": "UTC"}))
            .send()
    };
    let (a, b, c) = tokio::join!(send(), send(), send());
    for r in [&a, &b, &c] {
        assert!(r.status == 201 || r.status == 409, "{}", r.body);
    }
    let again = send().await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    let list = app.get("/v1/clients").bearer(&admin).send().await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(list.body["items"][0]["id"], again.body["id"]);
}

#[actix_web::test]
async fn clinics_never_see_each_others_people() {
    let app = TestApp::spawn().await;
    let a = app.admin_token("Clinic A", "a@a.example").await;
    let b = app.admin_token("Clinic B", "b@b.example").await;
    let client = new_client(
        &app,
        &a,
        json!({"name": "A's client", "timezone": "UTC", "external_id": "shared-1"}),
    )
    .await;
    let pat = invite_practitioner(&app, &a, "pat@a.example").await;
    let cid = client["id"].as_str().expect("id");
    let pid = pat["id"].as_str().expect("id");

    app.get(&format!("/v1/clients/{cid}"))
        .bearer(&b)
        .send()
        .await
        .problem(404);
    app.patch(&format!("/v1/clients/{cid}"))
        .bearer(&b)
        .json(json!({"name": "Mine now"}))
        .send()
        .await
        .problem(404);
    app.post(&format!("/v1/clients/{cid}/invitation"))
        .bearer(&b)
        .send()
        .await
        .problem(404);
    app.get("/v1/clients/by-external-id/shared-1")
        .bearer(&b)
        .send()
        .await
        .problem(404);
    app.get(&format!("/v1/practitioners/{pid}"))
        .bearer(&b)
        .send()
        .await
        .problem(404);
    app.patch(&format!("/v1/practitioners/{pid}"))
        .bearer(&b)
        .json(json!({"active": false}))
        .send()
        .await
        .problem(404);
    let list = app.get("/v1/clients").bearer(&b).send().await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(0));
    // A practitioner of clinic A cannot be clinic B's client's primary practitioner.
    let res = app
        .post("/v1/clients")
        .bearer(&b)
        .json(json!({"name": "B", "timezone": "UTC", "primary_practitioner_id": pid}))
        .send()
        .await;
    res.problem(422);
    // The same external id is free in another clinic.
    let res = app
        .put("/v1/clients/by-external-id/shared-1")
        .bearer(&b)
        .json(json!({"name": "B's", "timezone": "UTC"}))
        .send()
        .await;
    assert_eq!(res.status, 201);
    assert_eq!(
        app.get(&format!("/v1/clients/{cid}")).bearer(&a).send().await.body["name"],
        "A's client"
    );
}

#[actix_web::test]
async fn people_changes_are_in_the_outbox() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("Clinic", "admin@c.example").await;
    let pat = invite_practitioner(&app, &admin, "pat@c.example").await;
    app.patch(&format!("/v1/practitioners/{}", pat["id"].as_str().expect("id")))
        .bearer(&admin)
        .json(json!({"name": "Pat S."}))
        .succeeds()
        .await;
    let c = new_client(&app, &admin, json!({"name": "Sam", "timezone": "UTC"})).await;
    let path = format!("/v1/clients/{}", c["id"].as_str().expect("id"));
    app.patch(&path)
        .bearer(&admin)
        .json(json!({"name": "Sam L."}))
        .succeeds()
        .await;
    app.patch(&path)
        .bearer(&admin)
        .json(json!({"archived": true}))
        .succeeds()
        .await;
    app.patch(&path)
        .bearer(&admin)
        .json(json!({"archived": false}))
        .succeeds()
        .await;
    assert_eq!(
        app.event_types().await,
        vec![
            "clinic.created",
            "practitioner.created",
            "practitioner.updated",
            "client.created",
            "client.updated",
            "client.archived",
            "client.restored"
        ]
    );
}
