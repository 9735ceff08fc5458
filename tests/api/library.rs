//! The exercise library, routine templates and the built-in hip program.

use crate::helpers::{PASSWORD, TestApp, TestResponse};
use diesel_async::RunQueryDsl;
use rehabit::library::content::{
    CLAM, CLAM_WITH_BAND, EXERCISES, HIP_MOBILITY, HIP_STRENGTHENING, LEGS_UP_THE_WALL, SHOELACE_POSE,
    SINGLE_LEG_BALANCE, WIDE_LEGS_UP_THE_WALL,
};
use serde_json::{Value, json};
use std::collections::HashSet;

/// Signs a clinic up; answers an admin token and the clinic's id.
async fn admin(app: &TestApp, clinic: &str) -> (String, String) {
    let email = format!("admin@{}.example", clinic.to_lowercase().replace(' ', "-"));
    let signup = app.signup(clinic, &email).await;
    let res = app.login(&email, PASSWORD).await;
    assert_eq!(res.status, 200, "{}", res.body);
    (
        res.body["access_token"].as_str().expect("token").to_string(),
        signup["clinic"]["id"].as_str().expect("clinic id").to_string(),
    )
}

/// A client login in the clinic of `admin_token`: a client record, invited and accepted.
async fn client_token(app: &TestApp, admin_token: &str, email: &str) -> String {
    app.client_with_login(
        admin_token,
        json!({"name": "Sam Lee", "email": email, "timezone": "Europe/London"}),
    )
    .await
    .1
}

fn exercise(name: &str) -> Value {
    json!({
        "name": name,
        "summary": "Standing calf raise against a wall.",
        "instructions": ["Stand facing a wall", "Rise onto your toes", "Lower slowly"],
        "category": "strength",
        "body_regions": ["ankle_foot"],
        "equipment": ["wall"],
        "difficulty": 2,
        "default_dosage": {"sets": 3, "reps": 15},
        "cautions": ["Stop on sharp pain"],
        "media": [{"kind": "video", "url": "https://media.example/calf.mp4", "caption": "Side view"}]
    })
}

async fn create_exercise(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post("/v1/exercises").bearer(token).json(body).send().await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body
}

async fn create_routine(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post("/v1/routines").bearer(token).json(body).send().await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body
}

/// Follows `next_cursor` to the end; answers every item in order.
async fn list_all(app: &TestApp, token: &str, path_and_query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if path_and_query.contains('?') { '&' } else { '?' };
    for _ in 0..100 {
        let url = match &cursor {
            Some(c) => format!("{path_and_query}{sep}cursor={c}"),
            None => path_and_query.to_string(),
        };
        let res = app.get(&url).bearer(token).send().await;
        assert_eq!(res.status, 200, "{url}: {}", res.body);
        items.extend(res.body["items"].as_array().expect("items").iter().cloned());
        match res.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return items,
        }
    }
    panic!("pagination never ended");
}

fn names(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["name"].as_str().expect("name")).collect()
}

fn etag(res: &TestResponse) -> String {
    res.header("etag").expect("an ETag").to_string()
}

#[actix_web::test]
async fn the_builtin_hip_program_is_there_for_every_clinic_and_read_only() {
    let app = TestApp::spawn().await;
    let (token, _) = admin(&app, "Harbour").await;

    let builtins = list_all(&app, &token, "/v1/exercises?builtin=true").await;
    assert_eq!(builtins.len(), EXERCISES.len());
    for e in &builtins {
        assert_eq!(e["builtin"], true);
        assert!(e["body_regions"].as_array().expect("regions").contains(&json!("hip")));
        assert!(!e["instructions"].as_array().expect("steps").is_empty(), "{e}");
        assert!(!e["cautions"].as_array().expect("cautions").is_empty(), "{e}");
    }
    let mut sorted = names(&builtins);
    sorted.sort_unstable();
    assert_eq!(names(&builtins), sorted, "ordered by name");

    let res = app
        .get(&format!("/v1/exercises/{SHOELACE_POSE}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["name"], "Shoelace pose");
    assert_eq!(res.body["category"], "stretch");
    assert_eq!(res.body["default_dosage"]["side"], "each");
    assert_eq!(etag(&res), format!("\"{}\"", res.body["version"]));

    // The band clam is the progression of the clam, and each answer says so.
    let clam = app
        .get(&format!("/v1/exercises/{CLAM}"))
        .bearer(&token)
        .send()
        .await
        .body;
    assert_eq!(clam["progressions"][0]["id"], CLAM_WITH_BAND.to_string());
    assert_eq!(clam["regressions"], json!([]));
    let band = app
        .get(&format!("/v1/exercises/{CLAM_WITH_BAND}"))
        .bearer(&token)
        .send()
        .await
        .body;
    assert_eq!(band["progression_of"], CLAM.to_string());
    assert_eq!(band["regressions"][0]["name"], "The clam");
    assert!(
        band["equipment"]
            .as_array()
            .expect("eq")
            .contains(&json!("resistance_band"))
    );

    // Nobody changes a built-in.
    let path = format!("/v1/exercises/{SHOELACE_POSE}");
    app.patch(&path)
        .bearer(&token)
        .json(json!({"name": "Mine now"}))
        .send()
        .await
        .problem(403);
    app.patch(&path)
        .bearer(&token)
        .json(json!({"archived": true}))
        .send()
        .await
        .problem(403);
    app.delete(&path).bearer(&token).send().await.problem(403);

    let routines = list_all(&app, &token, "/v1/routines?builtin=true").await;
    assert_eq!(names(&routines), ["Hip mobility", "Hip strengthening"]);
    let mobility = &routines[0];
    assert_eq!(mobility["builtin"], true);
    let used: Vec<&str> = mobility["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["exercise"]["name"].as_str().expect("embedded name"))
        .collect();
    assert_eq!(used, ["Legs up the wall", "Wide legs up the wall", "Shoelace pose"]);
    assert_eq!(mobility["items"][2]["side"], "each");
    assert!(mobility["items"][0]["exercise"]["summary"].is_string());
    let strengthening = &routines[1];
    assert_eq!(strengthening["id"], HIP_STRENGTHENING.to_string());
    assert_eq!(strengthening["items"].as_array().expect("items").len(), 5);
    assert!(
        strengthening["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["side"] == "each")
    );

    let path = format!("/v1/routines/{HIP_MOBILITY}");
    let res = app.get(&path).bearer(&token).send().await;
    assert_eq!(res.status, 200);
    assert!(res.header("etag").is_some());
    app.patch(&path)
        .bearer(&token)
        .json(json!({"name": "x"}))
        .send()
        .await
        .problem(403);
    app.put(&path)
        .bearer(&token)
        .json(json!({"name": "x", "items": []}))
        .send()
        .await
        .problem(403);
    app.delete(&path).bearer(&token).send().await.problem(403);
}

#[actix_web::test]
async fn full_text_search_ranks_and_finds_the_shoelace_pose_by_piriformis() {
    let app = TestApp::spawn().await;
    let (token, _) = admin(&app, "Search").await;

    let res = app.get("/v1/exercises?q=piriformis").bearer(&token).send().await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["items"][0]["id"], SHOELACE_POSE.to_string(), "{}", res.body);

    // Stemming, and a name match outranks a mention in the steps.
    let found = list_all(&app, &token, "/v1/exercises?q=walls").await;
    let found = names(&found);
    assert!(found.len() >= 3, "{found:?}");
    assert!(
        found[..2].contains(&"Legs up the wall") && found[..2].contains(&"Wide legs up the wall"),
        "{found:?}"
    );

    // Search runs over body regions written as words too.
    let found = list_all(&app, &token, "/v1/exercises?q=adductors").await;
    assert_eq!(names(&found), ["Wide legs up the wall"]);

    // A clinic's own exercise is found by its summary; search combines with filters.
    create_exercise(&app, &token, exercise("Calf raise")).await;
    let found = list_all(&app, &token, "/v1/exercises?q=calf").await;
    assert_eq!(names(&found), ["Calf raise"]);
    let found = list_all(&app, &token, "/v1/exercises?q=calf&builtin=true").await;
    assert!(found.is_empty());
    let found = list_all(&app, &token, "/v1/exercises?q=nothing-like-this-anywhere").await;
    assert!(found.is_empty());

    let res = app
        .get(&format!("/v1/exercises?q={}", "a".repeat(201)))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "q");
}

#[actix_web::test]
async fn each_filter_narrows_the_list() {
    let app = TestApp::spawn().await;
    let (token, _) = admin(&app, "Filters").await;
    let own = create_exercise(&app, &token, exercise("Calf raise")).await;

    let ids = |items: Vec<Value>| -> HashSet<String> {
        items
            .iter()
            .map(|i| i["id"].as_str().expect("id").to_string())
            .collect()
    };
    let one = |id: uuid::Uuid| HashSet::from([id.to_string()]);

    let balance = list_all(&app, &token, "/v1/exercises?category=balance").await;
    assert_eq!(ids(balance), one(SINGLE_LEG_BALANCE));
    let adductors = list_all(&app, &token, "/v1/exercises?body_region=adductors").await;
    assert_eq!(ids(adductors), one(WIDE_LEGS_UP_THE_WALL));
    let banded = list_all(&app, &token, "/v1/exercises?equipment=resistance_band").await;
    assert_eq!(ids(banded), one(CLAM_WITH_BAND));
    let towel = list_all(&app, &token, "/v1/exercises?equipment=towel").await;
    assert_eq!(ids(towel), one(LEGS_UP_THE_WALL));
    let level_two = list_all(&app, &token, "/v1/exercises?difficulty=2").await;
    assert!(level_two.iter().all(|e| e["difficulty"] == 2));
    assert!(ids(level_two.clone()).contains(own["id"].as_str().expect("id")));
    assert!(ids(level_two).contains(&SHOELACE_POSE.to_string()));
    let mine = list_all(&app, &token, "/v1/exercises?builtin=false").await;
    assert_eq!(names(&mine), ["Calf raise"]);
    let all = list_all(&app, &token, "/v1/exercises").await;
    assert_eq!(all.len(), EXERCISES.len() + 1);
    let combined = list_all(
        &app,
        &token,
        "/v1/exercises?category=strength&body_region=glutes&difficulty=1",
    )
    .await;
    let mut combined = names(&combined);
    combined.sort_unstable();
    assert_eq!(combined, ["Back leg lift", "The clam"]);

    // Values outside a vocabulary or range are read but break a rule (422); values that do not
    // parse as their type are 400 ("Strict inputs"). Both name the parameter.
    for (query, field, status) in [
        ("category=yoga", "category", 422),
        ("body_region=elbows", "body_region", 422),
        ("equipment=kettlebell", "equipment", 422),
        ("difficulty=6", "difficulty", 422),
        ("difficulty=easy", "difficulty", 400),
        ("builtin=maybe", "builtin", 400),
        ("include_archived=1", "include_archived", 400),
    ] {
        let res = app.get(&format!("/v1/exercises?{query}")).bearer(&token).send().await;
        assert_eq!(res.problem(status)["errors"][0]["field"], field, "{query}");
    }
    app.get("/v1/exercises?body_regions=hip")
        .bearer(&token)
        .send()
        .await
        .problem(400);
    app.get("/v1/exercises?limit=0")
        .bearer(&token)
        .send()
        .await
        .problem(422);
    app.get("/v1/exercises?cursor=garbage")
        .bearer(&token)
        .send()
        .await
        .problem(400);
    app.get("/v1/routines?builtin=perhaps")
        .bearer(&token)
        .send()
        .await
        .problem(400);
}

#[actix_web::test]
async fn pages_cover_everything_once_in_a_stable_order() {
    let app = TestApp::spawn().await;
    let (token, _) = admin(&app, "Pages").await;
    // Same names, so the order falls back on ids.
    for _ in 0..4 {
        create_exercise(&app, &token, exercise("Calf raise")).await;
    }
    for i in 0..3 {
        let mut body = exercise(&format!("Hip hinge {i}"));
        body["body_regions"] = json!(["hip", "hamstrings"]);
        create_exercise(&app, &token, body).await;
    }
    let whole = list_all(&app, &token, "/v1/exercises?limit=200").await;
    let paged = list_all(&app, &token, "/v1/exercises?limit=3").await;
    assert_eq!(paged.len(), EXERCISES.len() + 7);
    assert_eq!(paged, whole, "pages of 3 give the same list as one page");
    let unique: HashSet<&str> = paged.iter().map(|e| e["id"].as_str().expect("id")).collect();
    assert_eq!(unique.len(), paged.len(), "no repeats");

    // Ranked results page by (rank, id): no repeats, no gaps, best first.
    let whole = list_all(&app, &token, "/v1/exercises?q=hip&limit=200").await;
    let paged = list_all(&app, &token, "/v1/exercises?q=hip&limit=2").await;
    assert_eq!(paged, whole);
    assert!(paged.len() >= EXERCISES.len() + 3, "{}", paged.len());
    let unique: HashSet<&str> = paged.iter().map(|e| e["id"].as_str().expect("id")).collect();
    assert_eq!(unique.len(), paged.len());

    // A name-ordered cursor is not a ranked one.
    let first = app.get("/v1/exercises?limit=1").bearer(&token).send().await.body;
    let cursor = first["next_cursor"].as_str().expect("more");
    app.get(&format!("/v1/exercises?q=hip&cursor={cursor}"))
        .bearer(&token)
        .send()
        .await
        .problem(400);

    for i in 0..3 {
        create_routine(&app, &token, json!({"name": format!("Routine {i}")})).await;
    }
    let routines = list_all(&app, &token, "/v1/routines?limit=2").await;
    assert_eq!(routines.len(), 5);
    let unique: HashSet<&str> = routines.iter().map(|r| r["id"].as_str().expect("id")).collect();
    assert_eq!(unique.len(), 5);
}

#[actix_web::test]
async fn clinics_never_see_each_others_library() {
    let app = TestApp::spawn().await;
    let (a, _) = admin(&app, "Alpha").await;
    let (b, _) = admin(&app, "Beta").await;
    let ex = create_exercise(&app, &a, exercise("Alpha calf raise")).await;
    let ex_path = format!("/v1/exercises/{}", ex["id"].as_str().expect("id"));
    let routine = create_routine(
        &app,
        &a,
        json!({"name": "Alpha routine", "items": [{"exercise_id": ex["id"]}]}),
    )
    .await;
    let routine_path = format!("/v1/routines/{}", routine["id"].as_str().expect("id"));

    app.get(&ex_path).bearer(&b).send().await.problem(404);
    app.patch(&ex_path)
        .bearer(&b)
        .json(json!({"name": "Mine"}))
        .send()
        .await
        .problem(404);
    app.delete(&ex_path).bearer(&b).send().await.problem(404);
    app.get(&routine_path).bearer(&b).send().await.problem(404);
    app.put(&routine_path)
        .bearer(&b)
        .json(json!({"name": "Mine"}))
        .send()
        .await
        .problem(404);
    app.patch(&routine_path)
        .bearer(&b)
        .json(json!({"name": "Mine"}))
        .send()
        .await
        .problem(404);
    app.delete(&routine_path).bearer(&b).send().await.problem(404);
    app.post(&format!("{routine_path}/copy"))
        .bearer(&b)
        .send()
        .await
        .problem(404);
    assert_eq!(list_all(&app, &b, "/v1/exercises").await.len(), EXERCISES.len());
    assert_eq!(list_all(&app, &b, "/v1/routines").await.len(), 2);
    assert!(list_all(&app, &b, "/v1/exercises?q=alpha").await.is_empty());

    // Nor can they build on it.
    let res = app
        .post("/v1/routines")
        .bearer(&b)
        .json(json!({"name": "Borrowed", "items": [{"exercise_id": CLAM}, {"exercise_id": ex["id"]}]}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "items[1].exercise_id");
    let mut body = exercise("Beta progression");
    body["progression_of"] = ex["id"].clone();
    let res = app.post("/v1/exercises").bearer(&b).json(body).send().await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "progression_of");

    // Alpha's progression of a built-in shows on the built-in for Alpha only.
    let mut body = exercise("Alpha clam, heavy band");
    body["progression_of"] = json!(CLAM_WITH_BAND);
    let heavy = create_exercise(&app, &a, body).await;
    assert_eq!(heavy["regressions"][0]["id"], CLAM_WITH_BAND.to_string());
    let seen_by_a = app
        .get(&format!("/v1/exercises/{CLAM_WITH_BAND}"))
        .bearer(&a)
        .send()
        .await
        .body;
    assert_eq!(seen_by_a["progressions"][0]["id"], heavy["id"]);
    assert_eq!(seen_by_a["progressions"][0]["builtin"], false);
    let seen_by_b = app
        .get(&format!("/v1/exercises/{CLAM_WITH_BAND}"))
        .bearer(&b)
        .send()
        .await
        .body;
    assert_eq!(seen_by_b["progressions"], json!([]));
}

#[actix_web::test]
async fn clients_cannot_browse_or_change_the_library() {
    let app = TestApp::spawn().await;
    let (admin_token, _) = admin(&app, "Clienty").await;
    let client = client_token(&app, &admin_token, "sam@client.example").await;
    app.get("/v1/exercises").bearer(&client).send().await.problem(403);
    app.get(&format!("/v1/exercises/{CLAM}"))
        .bearer(&client)
        .send()
        .await
        .problem(404);
    app.post("/v1/exercises")
        .bearer(&client)
        .json(exercise("Nope"))
        .send()
        .await
        .problem(403);
    app.get("/v1/routines").bearer(&client).send().await.problem(403);
    app.post("/v1/routines")
        .bearer(&client)
        .json(json!({"name": "Nope"}))
        .send()
        .await
        .problem(403);
    app.post(&format!("/v1/routines/{HIP_MOBILITY}/copy"))
        .bearer(&client)
        .send()
        .await
        .problem(403);
    app.get("/v1/exercises").send().await.problem(401);
}

#[actix_web::test]
async fn every_broken_rule_is_a_422_naming_its_field() {
    let app = TestApp::spawn().await;
    let (token, _) = admin(&app, "Rules").await;

    let res = app
        .post("/v1/exercises")
        .bearer(&token)
        .json(json!({
            "name": "x".repeat(201),
            "category": "strength",
            "body_regions": ["hip"],
            "difficulty": 0,
            "default_dosage": {"sets": 21, "reps": 0},
            "media": [{"kind": "image", "url": "https://ok.example/a.png"}, {"kind": "video", "url": "http://insecure.example/v"}],
            "progression_of": uuid::Uuid::now_v7(),
        }))
        .send()
        .await;
    let fields = res.error_fields();
    res.problem(422);
    for f in [
        "name",
        "difficulty",
        "default_dosage.sets",
        "default_dosage.reps",
        "media[1].url",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} missing: {fields:?}");
    }

    // Vocabulary mistakes are caught while the body is read, at their exact place.
    for (patch, field) in [
        (json!({"category": "yoga"}), "category"),
        (json!({"body_regions": ["hip", "elbowz"]}), "body_regions[1]"),
        (json!({"equipment": ["kettlebell"]}), "equipment[0]"),
        (
            json!({"media": [{"kind": "audio", "url": "https://a.example"}]}),
            "media[0].kind",
        ),
        (json!({"default_dosage": {"side": "middle"}}), "default_dosage.side"),
        (json!({"difficulty": "hard"}), "difficulty"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let mut body = exercise("Broken");
        for (k, v) in patch.as_object().expect("object") {
            body[k] = v.clone();
        }
        let res = app.post("/v1/exercises").bearer(&token).json(body).send().await;
        assert_eq!(res.problem(422)["errors"][0]["field"], field, "{}", res.body);
    }
    let res = app
        .post("/v1/exercises")
        .bearer(&token)
        .json(json!({"name": "No regions", "category": "stretch", "body_regions": [], "difficulty": 1}))
        .send()
        .await;
    assert_eq!(res.error_fields(), ["body_regions"]);
    // An unknown progression is named too.
    let mut body = exercise("Orphan");
    body["progression_of"] = json!(uuid::Uuid::now_v7());
    let res = app.post("/v1/exercises").bearer(&token).json(body).send().await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "progression_of");

    let res = app
        .post("/v1/routines")
        .bearer(&token)
        .json(json!({
            "name": "",
            "items": [
                {"exercise_id": CLAM, "sets": 2, "reps": 12},
                {"exercise_id": CLAM, "hold_seconds": 3601},
                {"exercise_id": CLAM, "sets": 21, "rest_seconds": -1},
            ]
        }))
        .send()
        .await;
    res.problem(422);
    assert_eq!(
        res.error_fields(),
        [
            "name",
            "items[1].hold_seconds",
            "items[2].sets",
            "items[2].rest_seconds"
        ]
    );
    let res = app
        .post("/v1/routines")
        .bearer(&token)
        .json(json!({"name": "Sides", "items": [{"exercise_id": CLAM, "side": "middle"}]}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "items[0].side");
    let res = app
        .post("/v1/routines")
        .bearer(&token)
        .json(json!({"name": "Ids", "items": [{"exercise_id": CLAM}, {"exercise_id": "not-a-uuid"}]}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "items[1].exercise_id");
    let items: Vec<Value> = (0..101).map(|_| json!({"exercise_id": CLAM})).collect();
    let res = app
        .post("/v1/routines")
        .bearer(&token)
        .json(json!({"name": "Too long", "items": items}))
        .send()
        .await;
    assert_eq!(res.error_fields(), ["items"]);
    let res = app
        .post("/v1/routines")
        .bearer(&token)
        .json(json!({"name": "Huge", "items": [{"exercise_id": CLAM, "sets": 99999999999u64}]}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "items[0].sets");
    app.get("/v1/exercises/not-a-uuid")
        .bearer(&token)
        .send()
        .await
        .problem(400);
}

#[actix_web::test]
async fn stale_if_match_is_a_412() {
    let app = TestApp::spawn().await;
    let (token, _) = admin(&app, "Versions").await;
    let ex = create_exercise(&app, &token, exercise("Calf raise")).await;
    let path = format!("/v1/exercises/{}", ex["id"].as_str().expect("id"));
    assert_eq!(ex["version"], 1);

    let res = app
        .patch(&path)
        .bearer(&token)
        .header("If-Match", "\"1\"")
        .json(json!({"difficulty": 3, "summary": null}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["version"], 2);
    assert_eq!(res.body["difficulty"], 3);
    assert!(res.body["summary"].is_null());
    assert_eq!(res.body["name"], "Calf raise", "absent fields stay");
    assert_eq!(etag(&res), "\"2\"");

    app.patch(&path)
        .bearer(&token)
        .header("If-Match", "\"1\"")
        .json(json!({"difficulty": 4}))
        .send()
        .await
        .problem(412);
    app.delete(&path)
        .bearer(&token)
        .header("If-Match", "\"1\"")
        .send()
        .await
        .problem(412);
    assert_eq!(app.get(&path).bearer(&token).send().await.body["difficulty"], 3);

    let routine = create_routine(
        &app,
        &token,
        json!({"name": "Calves", "items": [{"exercise_id": ex["id"]}]}),
    )
    .await;
    let path = format!("/v1/routines/{}", routine["id"].as_str().expect("id"));
    app.put(&path)
        .bearer(&token)
        .header("If-Match", "\"7\"")
        .json(json!({"name": "Calves"}))
        .send()
        .await
        .problem(412);
    app.patch(&path)
        .bearer(&token)
        .header("If-Match", "\"7\"")
        .json(json!({"name": "Calves"}))
        .send()
        .await
        .problem(412);
    app.delete(&path)
        .bearer(&token)
        .header("If-Match", "\"7\"")
        .send()
        .await
        .problem(412);
    let res = app
        .delete(&path)
        .bearer(&token)
        .header("If-Match", "\"1\"")
        .send()
        .await;
    assert_eq!(res.status, 204);
}

#[actix_web::test]
async fn a_used_exercise_is_archived_not_deleted() {
    let app = TestApp::spawn().await;
    let (token, _) = admin(&app, "Archive").await;
    let ex = create_exercise(&app, &token, exercise("Calf raise")).await;
    let id = ex["id"].as_str().expect("id").to_string();
    let path = format!("/v1/exercises/{id}");
    let routine = create_routine(&app, &token, json!({"name": "Calves", "items": [{"exercise_id": id}]})).await;
    let routine_path = format!("/v1/routines/{}", routine["id"].as_str().expect("id"));

    let res = app.delete(&path).bearer(&token).send().await;
    assert!(res.problem(409)["detail"].as_str().expect("detail").contains("archive"));

    let res = app
        .patch(&path)
        .bearer(&token)
        .json(json!({"archived": true}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["archived"], true);
    assert!(res.body["archived_at"].is_string());

    let listed = list_all(&app, &token, "/v1/exercises?builtin=false").await;
    assert!(listed.is_empty(), "archived ones are hidden");
    let listed = list_all(&app, &token, "/v1/exercises?builtin=false&include_archived=true").await;
    assert_eq!(names(&listed), ["Calf raise"]);
    assert!(list_all(&app, &token, "/v1/exercises?q=calf").await.is_empty());
    assert_eq!(app.get(&path).bearer(&token).send().await.status, 200, "still readable");

    // The routine keeps it, marked; new items cannot choose it.
    let kept = app.get(&routine_path).bearer(&token).send().await.body;
    assert_eq!(kept["items"][0]["exercise"]["archived"], true);
    let res = app
        .post("/v1/routines")
        .bearer(&token)
        .json(json!({"name": "Again", "items": [{"exercise_id": id}]}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "items[0].exercise_id");
    let mut body = exercise("Harder calf raise");
    body["progression_of"] = json!(id);
    let res = app.post("/v1/exercises").bearer(&token).json(body).send().await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "progression_of");

    // Restored, it is listed again; once nothing uses it, it can be deleted for good.
    let res = app
        .patch(&path)
        .bearer(&token)
        .json(json!({"archived": false}))
        .send()
        .await;
    assert_eq!(res.body["archived"], false);
    let mut body = exercise("Harder calf raise");
    body["progression_of"] = json!(id);
    let harder = create_exercise(&app, &token, body).await;
    assert_eq!(app.delete(&routine_path).bearer(&token).send().await.status, 204);
    app.get(&routine_path).bearer(&token).send().await.problem(404);
    // Still the progression of another exercise.
    app.delete(&path).bearer(&token).send().await.problem(409);
    let harder_path = format!("/v1/exercises/{}", harder["id"].as_str().expect("id"));
    assert_eq!(app.delete(&harder_path).bearer(&token).send().await.status, 204);
    assert_eq!(app.delete(&path).bearer(&token).send().await.status, 204);
    app.get(&path).bearer(&token).send().await.problem(404);
    app.delete(&path).bearer(&token).send().await.problem(404);
}

#[actix_web::test]
async fn progressions_cannot_go_round_in_a_loop() {
    let app = TestApp::spawn().await;
    let (token, _) = admin(&app, "Loops").await;
    let easy = create_exercise(&app, &token, exercise("Easy")).await;
    let mut body = exercise("Medium");
    body["progression_of"] = easy["id"].clone();
    let medium = create_exercise(&app, &token, body).await;
    let mut body = exercise("Hard");
    body["progression_of"] = medium["id"].clone();
    let hard = create_exercise(&app, &token, body).await;

    let easy_path = format!("/v1/exercises/{}", easy["id"].as_str().expect("id"));
    let res = app
        .patch(&easy_path)
        .bearer(&token)
        .json(json!({"progression_of": hard["id"]}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "progression_of");
    let res = app
        .patch(&easy_path)
        .bearer(&token)
        .json(json!({"progression_of": easy["id"]}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "progression_of");
    let medium_path = format!("/v1/exercises/{}", medium["id"].as_str().expect("id"));
    let res = app
        .patch(&medium_path)
        .bearer(&token)
        .json(json!({"progression_of": null}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body["progression_of"].is_null());
    assert_eq!(res.body["progressions"][0]["name"], "Hard");
}

#[actix_web::test]
async fn routines_are_created_replaced_patched_and_copied_whole() {
    let app = TestApp::spawn().await;
    let (token, _) = admin(&app, "Routines").await;
    let own = create_exercise(&app, &token, exercise("Calf raise")).await;

    let res = app
        .post("/v1/routines")
        .bearer(&token)
        .header("Idempotency-Key", "routine-1")
        .json(json!({
            "name": "Hip opener, left focus",
            "description": "Evenings.",
            "items": [
                {"exercise_id": SHOELACE_POSE, "sets": 1, "hold_seconds": 90, "side": "left", "notes": "tighter side: hold longer"},
                {"exercise_id": SHOELACE_POSE, "sets": 1, "hold_seconds": 60, "side": "right"},
                {"exercise_id": CLAM},
                {"exercise_id": own["id"], "reps": 20},
            ]
        }))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let routine = res.body.clone();
    let id = routine["id"].as_str().expect("id").to_string();
    assert_eq!(res.header("location"), Some(format!("/v1/routines/{id}").as_str()));
    assert_eq!(routine["builtin"], false);
    let items = routine["items"].as_array().expect("items");
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["notes"], "tighter side: hold longer");
    assert_eq!(items[0]["exercise"]["name"], "Shoelace pose");
    assert_eq!(items[1]["side"], "right");
    // An item without a dosage takes the exercise's default; one with its own keeps it.
    assert_eq!(
        (
            items[2]["sets"].clone(),
            items[2]["reps"].clone(),
            items[2]["side"].clone()
        ),
        (json!(2), json!(12), json!("each"))
    );
    assert_eq!(
        (
            items[3]["sets"].clone(),
            items[3]["reps"].clone(),
            items[3]["side"].clone()
        ),
        (Value::Null, json!(20), json!("both"))
    );
    // A retry with the same key is the same routine.
    let replay = app
        .post("/v1/routines")
        .bearer(&token)
        .header("Idempotency-Key", "routine-1")
        .json(json!({
            "name": "Hip opener, left focus",
            "description": "Evenings.",
            "items": [
                {"exercise_id": SHOELACE_POSE, "sets": 1, "hold_seconds": 90, "side": "left", "notes": "tighter side: hold longer"},
                {"exercise_id": SHOELACE_POSE, "sets": 1, "hold_seconds": 60, "side": "right"},
                {"exercise_id": CLAM},
                {"exercise_id": own["id"], "reps": 20},
            ]
        }))
        .send()
        .await;
    assert_eq!(replay.body["id"], routine["id"]);

    // PUT replaces everything at once.
    let path = format!("/v1/routines/{id}");
    let res = app
        .put(&path)
        .bearer(&token)
        .header("If-Match", "\"1\"")
        .json(json!({"name": "Clams only", "items": [{"exercise_id": CLAM_WITH_BAND, "sets": 3, "reps": 8}]}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["version"], 2);
    assert_eq!(res.body["name"], "Clams only");
    assert!(res.body["description"].is_null(), "PUT clears what it leaves out");
    assert_eq!(res.body["items"].as_array().expect("items").len(), 1);
    assert_eq!(res.body["items"][0]["exercise"]["name"], "Clam with resistance band");
    assert_eq!(etag(&res), "\"2\"");

    // A PUT that breaks a rule changes nothing.
    let res = app
        .put(&path)
        .bearer(&token)
        .json(json!({"name": "Broken", "items": [{"exercise_id": CLAM}, {"exercise_id": uuid::Uuid::now_v7()}]}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "items[1].exercise_id");
    let unchanged = app.get(&path).bearer(&token).send().await.body;
    assert_eq!(
        (unchanged["name"].clone(), unchanged["version"].clone()),
        (json!("Clams only"), json!(2))
    );

    // PATCH without items keeps them; with items replaces them.
    let res = app
        .patch(&path)
        .bearer(&token)
        .json(json!({"description": "Twice a week"}))
        .send()
        .await;
    assert_eq!(res.body["items"].as_array().expect("items").len(), 1);
    assert_eq!(res.body["description"], "Twice a week");
    let res = app
        .patch(&path)
        .bearer(&token)
        .json(json!({"items": [{"exercise_id": CLAM}, {"exercise_id": SINGLE_LEG_BALANCE, "side": "left"}]}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["version"], 4);
    assert_eq!(res.body["items"][1]["hold_seconds"], 30);
    assert_eq!(res.body["items"][1]["side"], "left");
    let res = app.patch(&path).bearer(&token).json(json!({"items": []})).send().await;
    assert_eq!(res.body["items"], json!([]));

    // A built-in's copy is the clinic's own, item for item, and editable.
    let res = app
        .post(&format!("/v1/routines/{HIP_MOBILITY}/copy"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let copy = res.body.clone();
    let original = app
        .get(&format!("/v1/routines/{HIP_MOBILITY}"))
        .bearer(&token)
        .send()
        .await
        .body;
    assert_ne!(copy["id"], original["id"]);
    assert_eq!(copy["builtin"], false);
    assert_eq!(copy["name"], "Hip mobility");
    assert_eq!(copy["description"], original["description"]);
    assert_eq!(copy["items"], original["items"]);
    let copy_path = format!("/v1/routines/{}", copy["id"].as_str().expect("id"));
    let res = app
        .patch(&copy_path)
        .bearer(&token)
        .json(json!({"name": "Hip mobility, Sam"}))
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let again = app
        .get(&format!("/v1/routines/{HIP_MOBILITY}"))
        .bearer(&token)
        .send()
        .await
        .body;
    assert_eq!(again, original, "the built-in is untouched");

    // A copy may be renamed on the way, and an own routine can be copied too.
    let res = app
        .post(&format!("{copy_path}/copy"))
        .bearer(&token)
        .json(json!({"name": "Hip mobility, Ana"}))
        .send()
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["name"], "Hip mobility, Ana");
    assert_eq!(res.body["items"], copy["items"]);
    let res = app
        .post(&format!("{copy_path}/copy"))
        .bearer(&token)
        .json(json!({"name": ""}))
        .send()
        .await;
    assert_eq!(res.problem(422)["errors"][0]["field"], "name");
    app.post(&format!("/v1/routines/{}/copy", uuid::Uuid::now_v7()))
        .bearer(&token)
        .send()
        .await
        .problem(404);
    assert_eq!(list_all(&app, &token, "/v1/routines?builtin=false").await.len(), 3);
}

#[derive(diesel::QueryableByName)]
struct EventRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    r#type: String,
}

#[actix_web::test]
async fn writes_emit_events() {
    let app = TestApp::spawn().await;
    let (token, clinic) = admin(&app, "Events").await;
    let ex = create_exercise(&app, &token, exercise("Calf raise")).await;
    let path = format!("/v1/exercises/{}", ex["id"].as_str().expect("id"));
    app.patch(&path)
        .bearer(&token)
        .json(json!({"difficulty": 3}))
        .succeeds()
        .await;
    app.patch(&path)
        .bearer(&token)
        .json(json!({"archived": true}))
        .succeeds()
        .await;
    let routine = create_routine(&app, &token, json!({"name": "R", "items": [{"exercise_id": CLAM}]})).await;
    let routine_path = format!("/v1/routines/{}", routine["id"].as_str().expect("id"));
    app.put(&routine_path)
        .bearer(&token)
        .json(json!({"name": "R2"}))
        .succeeds()
        .await;
    app.post(&format!("/v1/routines/{HIP_MOBILITY}/copy"))
        .bearer(&token)
        .succeeds()
        .await;
    assert_eq!(app.delete(&routine_path).bearer(&token).send().await.status, 204);
    assert_eq!(app.delete(&path).bearer(&token).send().await.status, 204);

    let events: Vec<EventRow> =
        diesel::sql_query("SELECT type FROM events WHERE clinic_id = $1::uuid ORDER BY written")
            .bind::<diesel::sql_types::Text, _>(&clinic)
            .load(&mut app.db().await)
            .await
            .expect("events");
    let types: Vec<&str> = events.iter().map(|e| e.r#type.as_str()).collect();
    assert_eq!(
        types,
        [
            "clinic.created",
            "exercise.created",
            "exercise.updated",
            "exercise.archived",
            "routine.created",
            "routine.updated",
            "routine.created",
            "routine.deleted",
            "exercise.deleted",
        ]
    );
}

#[derive(diesel::QueryableByName)]
struct Versioned {
    #[diesel(sql_type = diesel::sql_types::Text)]
    summary: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    version: i64,
}

#[actix_web::test]
async fn reinstalling_updates_builtins_in_place_and_leaves_clinics_alone() {
    let app = TestApp::spawn().await;
    let (token, _) = admin(&app, "Upgrade").await;
    let own = create_exercise(&app, &token, exercise("Calf raise")).await;
    let own_path = format!("/v1/exercises/{}", own["id"].as_str().expect("id"));
    let routine = create_routine(
        &app,
        &token,
        json!({"name": "Mine", "items": [{"exercise_id": CLAM, "sets": 1, "reps": 5}, {"exercise_id": own["id"]}]}),
    )
    .await;
    let routine_path = format!("/v1/routines/{}", routine["id"].as_str().expect("id"));
    let copy = app
        .post(&format!("/v1/routines/{HIP_STRENGTHENING}/copy"))
        .bearer(&token)
        .send()
        .await
        .body;
    let copy_path = format!("/v1/routines/{}", copy["id"].as_str().expect("id"));
    let before = app
        .get(&format!("/v1/exercises/{CLAM}"))
        .bearer(&token)
        .send()
        .await
        .body;

    // An older release's wording, and a built-in routine an older release shipped differently.
    let mut conn = app.db().await;
    diesel::sql_query("UPDATE exercises SET summary = 'Old wording', version = version + 1 WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(CLAM)
        .execute(&mut conn)
        .await
        .expect("tamper");
    diesel::sql_query("DELETE FROM routine_items WHERE routine_id = $1 AND position = 4")
        .bind::<diesel::sql_types::Uuid, _>(HIP_STRENGTHENING)
        .execute(&mut conn)
        .await
        .expect("tamper");

    let installed = rehabit::library::install(&mut conn).await.expect("install");
    assert_eq!((installed.created, installed.updated, installed.archived), (0, 2, 0));
    let after = app
        .get(&format!("/v1/exercises/{CLAM}"))
        .bearer(&token)
        .send()
        .await
        .body;
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["summary"], before["summary"], "the current wording is back");
    assert_eq!(after["version"].as_i64(), before["version"].as_i64().map(|v| v + 2));
    let strengthening = app
        .get(&format!("/v1/routines/{HIP_STRENGTHENING}"))
        .bearer(&token)
        .send()
        .await
        .body;
    assert_eq!(strengthening["items"].as_array().expect("items").len(), 5);

    // The clinic's exercise, routine and copy are as they were.
    assert_eq!(app.get(&own_path).bearer(&token).send().await.body, own);
    let mine = app.get(&routine_path).bearer(&token).send().await.body;
    assert_eq!(mine["version"], routine["version"]);
    assert_eq!(mine["items"][0]["reps"], 5);
    assert_eq!(mine["items"][0]["exercise"]["summary"], before["summary"]);
    assert_eq!(app.get(&copy_path).bearer(&token).send().await.body, copy);

    // Running it again changes nothing.
    let again = rehabit::library::install(&mut conn).await.expect("install");
    assert_eq!(again, rehabit::library::Installed::default());
    let row: Versioned = diesel::sql_query("SELECT summary, version FROM exercises WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(CLAM)
        .get_result(&mut conn)
        .await
        .expect("clam");
    assert_eq!(Some(row.version), after["version"].as_i64());
    assert_eq!(Some(row.summary.as_str()), after["summary"].as_str());
}

#[actix_web::test]
async fn hostile_input_is_refused_never_a_500() {
    let app = TestApp::spawn().await;
    let (token, _) = admin(&app, "Hostile").await;
    for query in [
        "q=%00",
        "q=%27%3B%20drop%20table%20exercises%3B--",
        "q=a%3A*%20%26%20!b%20%7C",
        "q=%22unterminated",
    ] {
        let res = app.get(&format!("/v1/exercises?{query}")).bearer(&token).send().await;
        assert!(
            res.status == 200 || res.status == 400 || res.status == 422,
            "{query}: {} {}",
            res.status,
            res.body
        );
    }
    app.get("/v1/exercises?q=%00").bearer(&token).send().await.problem(400);
    // A forged cursor carrying a NUL is refused before it reaches the database.
    let forged = rehabit::http::pagination::encode_cursor(&("a\u{0}", uuid::Uuid::now_v7()));
    for list in ["/v1/exercises", "/v1/routines"] {
        app.get(&format!("{list}?cursor={forged}"))
            .bearer(&token)
            .send()
            .await
            .problem(400);
    }
    let mut body = exercise("Nul\u{0}name");
    body["media"] = json!([{"kind": "image", "url": "https://media.example/a\u{0}b"}]);
    body["instructions"] = json!(["fine", "not\u{0}fine"]);
    let res = app.post("/v1/exercises").bearer(&token).json(body).send().await;
    res.problem(422);
    let mut fields = res.error_fields();
    fields.sort();
    assert_eq!(fields, ["instructions[1]", "media[0].url", "name"]);
    let res = app
        .post("/v1/routines")
        .bearer(&token)
        .json(json!({"name": "R", "description": "a\u{0}", "items": [{"exercise_id": CLAM, "notes": "b\u{0}"}]}))
        .send()
        .await;
    assert_eq!(res.error_fields(), ["description", "items[0].notes"]);
}
