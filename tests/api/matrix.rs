//! The authorization matrix (issue 12): every operation of the OpenAPI document, called by every
//! kind of caller — two clinics, every role, an API key per scope, no credentials — against the
//! first clinic's resources and one client's data, compared with the answer the permission
//! model gives. The operations come from the document, so a new endpoint is in the matrix the
//! day it is documented; what the matrix cannot know about it (how to fill its path, a body
//! that passes validation, whether a client's own login may call it) makes this test fail with
//! a message saying what to add.

use crate::helpers::{PASSWORD, TestApp, TestResponse};
use actix_web::http::Method;
use rehabit::auth::{Permission, Permissions, Role};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Operations a client's own login may call for its own data besides `/v1/me...`
/// (DESIGN.md: "client — own profile, own assignments, agenda, logs, progress, ... and the
/// exercises their assignments use"). Called on another client's data they answer 404.
const CLIENT_OWN: &[&str] = &[
    "get_client_progress",
    "list_client_sessions",
    "get_session",
    "update_session",
    "delete_session",
    "create_session",
    "list_client_assignments",
    "get_assignment",
    "get_assignment_handout",
    "get_client_agenda",
    "get_exercise",
    "get_questionnaire",
    "list_questionnaire_assignments",
    "create_questionnaire_response",
    "get_client_outcomes",
    "export_client_fhir",
];

/// `/v1/me...` operations only a client's login has (staff find the same under
/// `/v1/clients/{id}/...`).
const CLIENT_ONLY_ME: &[&str] = &[
    "get_my_progress",
    "list_my_sessions",
    "list_my_assignments",
    "get_my_agenda",
    "get_my_access_log",
    "export_my_data",
    "list_my_due_questionnaires",
    "get_my_outcomes",
    "create_my_calendar",
    "delete_my_calendar",
];

/// Operations besides `DELETE`s after which the world is not the same for the next caller.
const DESTROYING: &[&str] = &["erase_client"];

/// What the permission model says a caller gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Anything but 401, 403, 404 or a 5xx: the caller got past authorization.
    Allowed,
    Status(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clinic {
    A,
    B,
}

#[derive(Debug, Clone)]
enum Who {
    Anonymous,
    Staff(Role),
    /// A client's own login: `true` for the client whose data the requests name.
    Client {
        owner: bool,
    },
    Key(Permissions),
}

#[derive(Debug, Clone)]
struct Caller {
    name: String,
    clinic: Clinic,
    who: Who,
    token: Option<String>,
}

/// One operation of the document.
struct Operation {
    id: String,
    method: Method,
    template: String,
    /// The permission its `bearer` requirement names (none for `/v1/me...`).
    permission: Option<Permission>,
    /// Whether it takes a request body.
    has_body: bool,
}

/// The first clinic's resources the requests name.
struct World {
    ids: BTreeMap<&'static str, String>,
    routine: String,
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("`{key}` in {v}")).to_string()
}

fn created(res: &TestResponse) -> Value {
    assert!(
        [200, 201, 202].contains(&res.status),
        "set-up step failed: {} {}",
        res.status,
        res.body
    );
    res.body.clone()
}

async fn sign_in(app: &TestApp, email: &str) -> String {
    let res = app.login(email, PASSWORD).await;
    text(&created(&res), "access_token")
}

async fn invite_and_accept(app: &TestApp, path: String, admin: &str) {
    let invitation = created(&app.post(&path).bearer(admin).send().await);
    created(&app.accept(&text(&invitation, "token"), PASSWORD).await);
}

/// Both clinics, their people and keys, and the first clinic's resources.
async fn build(app: &TestApp) -> (World, Vec<Caller>) {
    let mut callers = vec![Caller {
        name: "anonymous".into(),
        clinic: Clinic::A,
        who: Who::Anonymous,
        token: None,
    }];
    app.signup("Clinic A", "admin@a.example").await;
    let admin = sign_in(app, "admin@a.example").await;
    let ana = created(
        &app.post("/v1/practitioners")
            .bearer(&admin)
            .json(json!({"name": "Ana", "email": "ana@a.example", "external_id": "hr-ana"}))
            .send()
            .await,
    );
    created(&app.accept(&text(&ana["invitation"], "token"), PASSWORD).await);
    let practitioner = sign_in(app, "ana@a.example").await;

    let exercise = created(
        &app.post("/v1/exercises")
            .bearer(&admin)
            .json(json!({"name": "Own clam", "category": "strength", "body_regions": ["hip"], "difficulty": 2}))
            .send()
            .await,
    );
    let doomed_exercise = created(
        &app.post("/v1/exercises")
            .bearer(&admin)
            .json(json!({"name": "Unused", "category": "stretch", "body_regions": ["hip"], "difficulty": 1}))
            .send()
            .await,
    );
    let routine = created(
        &app.post("/v1/routines")
            .bearer(&admin)
            .json(json!({"name": "Own routine", "items": [{"exercise_id": text(&exercise, "id"), "sets": 2, "reps": 10, "side": "each"}]}))
            .send()
            .await,
    );
    let mut clients = BTreeMap::new();
    for (name, external_id) in [("sam", "bk-sam"), ("kim", "bk-kim")] {
        let client = created(
            &app.post("/v1/clients")
                .bearer(&admin)
                .json(json!({"name": name, "email": format!("{name}@a.example"), "timezone": "Europe/London", "external_id": external_id}))
                .send()
                .await,
        );
        let id = text(&client, "id");
        invite_and_accept(app, format!("/v1/clients/{id}/invitation"), &admin).await;
        let routine_id = if name == "sam" {
            text(&routine, "id")
        } else {
            rehabit::library::content::HIP_MOBILITY.to_string()
        };
        let assignment = created(
            &app.post(&format!("/v1/clients/{id}/assignments"))
                .bearer(&admin)
                .json(json!({"routine_id": routine_id, "schedule": {"start_date": (chrono::Utc::now() - chrono::Duration::days(7)).date_naive()}}))
                .send()
                .await,
        );
        clients.insert(name, (id, sign_in(app, &format!("{name}@a.example")).await, assignment));
    }
    let (sam, sam_token, sam_assignment) = clients.remove("sam").expect("sam");
    let (_, kim_token, _) = clients.remove("kim").expect("kim");
    let log = created(
        &app.post(&format!("/v1/assignments/{}/sessions", text(&sam_assignment, "id")))
            .bearer(&sam_token)
            .json(json!({"performed_at": (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339(), "pain_before": 2, "pain_after": 8, "notes": "sharp"}))
            .send()
            .await,
    );
    let questionnaire = created(
        &app.post("/v1/questionnaires")
            .bearer(&admin)
            .json(json!({"code": "own-scale", "name": "Own scale", "direction": "lower_is_better", "mcid": 1,
                "items": [{"code": "pain", "text": "Pain today", "type": "scale", "min": 0, "max": 10, "required": true}],
                "scoring": {"method": "mean", "min_answered": 1}}))
            .send()
            .await,
    );
    let questionnaire_assignment = created(
        &app.post(&format!("/v1/clients/{sam}/questionnaire-assignments"))
            .bearer(&admin)
            .json(json!({"questionnaire_id": text(&questionnaire, "id"),
                "schedule": {"start_date": (chrono::Utc::now() - chrono::Duration::days(7)).date_naive(), "every": 1, "unit": "weeks"}}))
            .send()
            .await,
    );
    let episode = created(
        &app.post(&format!("/v1/clients/{sam}/monitoring-episodes"))
            .bearer(&admin)
            .json(
                json!({"start_date": (chrono::Utc::now() - chrono::Duration::days(40)).date_naive(),
                "end_date": (chrono::Utc::now() - chrono::Duration::days(10)).date_naive()}),
            )
            .send()
            .await,
    );
    let interaction = created(
        &app.post(&format!("/v1/clients/{sam}/interactions"))
            .bearer(&admin)
            .json(json!({"kind": "call", "minutes": 12, "interactive": true, "occurred_at": (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339()}))
            .send()
            .await,
    );
    let webhook = created(
        &app.post("/v1/webhooks")
            .bearer(&admin)
            .json(json!({"url": "https://hooks.example.com/a", "events": ["client.created"]}))
            .send()
            .await,
    );
    let delivery = created(
        &app.post(&format!("/v1/webhooks/{}/ping", text(&webhook, "id")))
            .bearer(&admin)
            .send()
            .await,
    );
    let doomed_key = created(
        &app.post("/v1/api-keys")
            .bearer(&admin)
            .json(json!({"name": "Doomed", "scopes": ["clients:read"]}))
            .send()
            .await,
    );
    let grantable: Vec<Permission> = Permission::ALL
        .iter()
        .copied()
        .filter(|p| p.grantable_to_keys())
        .collect();
    for scope in &grantable {
        let key = created(
            &app.post("/v1/api-keys")
                .bearer(&admin)
                .json(json!({"name": scope.as_str(), "scopes": [scope.as_str()]}))
                .send()
                .await,
        );
        callers.push(Caller {
            name: format!("A key with `{scope}`"),
            clinic: Clinic::A,
            who: Who::Key(Permissions::of(&[*scope])),
            token: Some(text(&key, "key")),
        });
    }
    callers.extend([
        Caller {
            name: "A admin".into(),
            clinic: Clinic::A,
            who: Who::Staff(Role::Admin),
            token: Some(admin.clone()),
        },
        Caller {
            name: "A practitioner".into(),
            clinic: Clinic::A,
            who: Who::Staff(Role::Practitioner),
            token: Some(practitioner),
        },
        Caller {
            name: "A client (the owner)".into(),
            clinic: Clinic::A,
            who: Who::Client { owner: true },
            token: Some(sam_token),
        },
        Caller {
            name: "A client (another client)".into(),
            clinic: Clinic::A,
            who: Who::Client { owner: false },
            token: Some(kim_token),
        },
    ]);

    app.signup("Clinic B", "admin@b.example").await;
    let admin_b = sign_in(app, "admin@b.example").await;
    let client_b = created(
        &app.post("/v1/clients")
            .bearer(&admin_b)
            .json(json!({"name": "Lee", "email": "lee@b.example", "timezone": "Australia/Sydney"}))
            .send()
            .await,
    );
    invite_and_accept(
        app,
        format!("/v1/clients/{}/invitation", text(&client_b, "id")),
        &admin_b,
    )
    .await;
    let key_b = created(
        &app.post("/v1/api-keys")
            .bearer(&admin_b)
            .json(json!({"name": "All", "scopes": grantable.iter().map(|p| p.as_str()).collect::<Vec<_>>()}))
            .send()
            .await,
    );
    callers.extend([
        Caller {
            name: "B admin".into(),
            clinic: Clinic::B,
            who: Who::Staff(Role::Admin),
            token: Some(admin_b),
        },
        Caller {
            name: "B client".into(),
            clinic: Clinic::B,
            who: Who::Client { owner: false },
            token: Some(sign_in(app, "lee@b.example").await),
        },
        Caller {
            name: "B key with every scope".into(),
            clinic: Clinic::B,
            who: Who::Key(Permissions::of(&grantable)),
            token: Some(text(&key_b, "key")),
        },
    ]);

    let ids = BTreeMap::from([
        ("practitioners", text(&ana, "id")),
        ("clients", sam),
        ("exercises", text(&exercise, "id")),
        ("doomed_exercise", text(&doomed_exercise, "id")),
        ("routines", text(&routine, "id")),
        ("assignments", text(&sam_assignment, "id")),
        ("sessions", text(&log, "id")),
        ("webhooks", text(&webhook, "id")),
        ("deliveries", text(&delivery, "id")),
        ("api-keys", text(&doomed_key, "id")),
        ("questionnaires", text(&questionnaire, "id")),
        ("questionnaire_item", text(&questionnaire["items"][0], "id")),
        ("questionnaire-assignments", text(&questionnaire_assignment, "id")),
        ("monitoring-episodes", text(&episode, "id")),
        ("interactions", text(&interaction, "id")),
    ]);
    let routine = text(&routine, "id");
    (World { ids, routine }, callers)
}

/// The path with the first clinic's resources in it; `None` names what the matrix lacks.
fn fill(template: &str, world: &World, op: &str) -> Result<String, String> {
    let segments: Vec<&str> = template.split('/').collect();
    let mut out = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let Some(param) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            out.push(segment.to_string());
            continue;
        };
        let collection = segments.get(i.wrapping_sub(1)).copied().unwrap_or("");
        let value = match (param, collection) {
            ("external_id", _) if template.starts_with("/v1/clients") => "bk-sam".to_string(),
            ("external_id", _) if template.starts_with("/v1/practitioners") => "hr-ana".to_string(),
            ("delivery_id", _) => world.ids["deliveries"].clone(),
            // Deleting needs something nothing else uses.
            ("id", "exercises") if op == "delete_exercise" => world.ids["doomed_exercise"].clone(),
            ("id", c) => match world.ids.get(c) {
                Some(id) => id.clone(),
                None => return Err(format!("how to fill `{{{param}}}` after `{c}` in {template}")),
            },
            _ => return Err(format!("how to fill `{{{param}}}` in {template}")),
        };
        out.push(value);
    }
    Ok(out.join("/"))
}

/// A body that passes validation, so that what answers is authorization.
fn body(op: &str, world: &World) -> Option<Value> {
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    Some(match op {
        "create_practitioner" => json!({"name": "New", "email": "new@staff.example"}),
        "update_practitioner" => json!({"name": "Ana R."}),
        "upsert_practitioner" => json!({"name": "Ana", "email": "ana@a.example"}),
        "create_exercise" => json!({"name": "New", "category": "stretch", "body_regions": ["hip"], "difficulty": 1}),
        "update_exercise" => json!({"summary": "Changed"}),
        "create_routine" | "replace_routine" => json!({"name": "New", "items": []}),
        "update_routine" => json!({"name": "Renamed"}),
        "copy_routine" => json!({"name": "Copy"}),
        "create_client" => json!({"name": "New", "timezone": "Europe/London"}),
        "update_client" => json!({"name": "Sam L."}),
        "upsert_client" => json!({"name": "Sam", "timezone": "Europe/London"}),
        "create_assignment" => json!({"routine_id": world.routine, "schedule": {"start_date": "2026-11-02"}}),
        "update_assignment" => json!({"instructions": "Slowly"}),
        "create_client_calendar" | "create_my_calendar" => json!({}),
        "create_session" => json!({"performed_at": hour_ago, "pain_before": 2, "pain_after": 2}),
        "update_session" => json!({"notes": "edited"}),
        "review_session" => json!({"note": "Seen"}),
        "update_me" => json!({"name": "Me"}),
        "create_api_key" => json!({"name": "K", "scopes": ["clients:read"]}),
        // `clinic.created` is read with `events:read` alone.
        "create_webhook" => json!({"url": "https://hooks.example.com/m", "events": ["clinic.created"]}),
        "update_webhook" => json!({"description": "Changed"}),
        "erase_client" => json!({"confirm": world.ids["clients"]}),
        "create_questionnaire" => json!({"code": "new-scale", "name": "New", "direction": "higher_is_better",
            "items": [{"code": "a", "text": "A?", "type": "scale", "min": 0, "max": 4}],
            "scoring": {"method": "sum", "min_answered": 1}}),
        "create_questionnaire_assignment" => json!({"questionnaire_id": world.ids["questionnaires"],
            "schedule": {"start_date": "2026-11-02", "every": 2, "unit": "weeks"}}),
        "update_questionnaire_assignment" => json!({"status": "stopped"}),
        "create_monitoring_episode" => json!({"start_date": "2026-06-01", "end_date": "2026-06-30"}),
        "update_monitoring_episode" => {
            json!({"end_date": (chrono::Utc::now() - chrono::Duration::days(9)).date_naive()})
        }
        "create_interaction" => json!({"kind": "message", "minutes": 5, "interactive": false, "occurred_at": hour_ago}),
        "update_interaction" => json!({"minutes": 14}),
        "create_questionnaire_response" => {
            json!({"answers": [{"item_id": world.ids["questionnaire_item"], "value": 3}]})
        }
        _ => return None,
    })
}

/// The answer the permission model gives `caller` for `op` on the first clinic's resources.
fn expect(op: &Operation, caller: &Caller) -> Expect {
    use Expect::*;
    let id = op.id.as_str();
    let me = op.template.starts_with("/v1/me");
    // Upserts by external id act in the caller's own clinic: the path names no resource of A.
    let names_a_resource = op.template.contains('{') && !id.starts_with("upsert_");
    // Subscribing to `clinic.created` also needs `events:read`.
    let extra: &[Permission] = match id {
        "create_webhook" | "update_webhook" => &[Permission::EventsRead],
        _ => &[],
    };
    let holds = |perms: Permissions| {
        op.permission.is_none_or(|p| perms.contains(p)) && extra.iter().all(|p| perms.contains(*p))
    };
    let past_permission = |perms: Permissions| -> Expect {
        if !holds(perms) {
            Status(403)
        } else if caller.clinic == Clinic::B && names_a_resource {
            Status(404)
        } else if id == "update_session" {
            // Only whoever logged a session changes it; the fixture's log is the client's.
            Status(403)
        } else {
            Allowed
        }
    };
    match &caller.who {
        Who::Anonymous => Status(401),
        Who::Key(_) if me => Status(403),
        Who::Staff(_) if CLIENT_ONLY_ME.contains(&id) => Status(403),
        Who::Staff(_) | Who::Client { .. } if me => Allowed,
        Who::Staff(role) => past_permission(role.permissions()),
        Who::Key(perms) => past_permission(*perms),
        Who::Client { owner } => {
            if id == "review_session" || !CLIENT_OWN.contains(&id) {
                Status(403)
            } else if *owner && caller.clinic == Clinic::A {
                Allowed
            } else {
                Status(404)
            }
        }
    }
}

/// What an allowed answer holds that the caller may not read through the resource's own
/// endpoint: events of types outside its permissions.
fn leaks(op: &Operation, caller: &Caller, res: &TestResponse) -> Option<String> {
    if op.id != "list_events" || res.status != 200 {
        return None;
    }
    let perms = match &caller.who {
        Who::Staff(role) => role.permissions(),
        Who::Key(perms) => *perms,
        _ => return None,
    };
    let unreadable: Vec<String> = res.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["type"].as_str())
        .filter(|t| {
            t.parse::<rehabit::events::EventType>()
                .is_ok_and(|t| !t.readable_by(perms))
        })
        .map(str::to_string)
        .collect();
    (!unreadable.is_empty()).then(|| format!("the feed holds events it may not read: {unreadable:?}"))
}

fn operations() -> Vec<Operation> {
    let doc = rehabit::openapi_document();
    let mut ops = Vec::new();
    for (template, item) in &doc.paths.paths {
        for (method, op) in [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::PUT, &item.put),
            (Method::PATCH, &item.patch),
            (Method::DELETE, &item.delete),
        ] {
            let Some(op) = op else { continue };
            let secured = op.security.iter().flatten().any(|r| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_object().map(|o| !o.is_empty()))
                    .unwrap_or(false)
            });
            if !secured {
                continue; // sign-up, tokens, invitations, health: no caller to tell apart
            }
            let permissions = rehabit::openapi::required_permissions(op);
            assert!(permissions.len() <= 1, "{template}: one permission per operation");
            ops.push(Operation {
                id: op.operation_id.clone().unwrap_or_default(),
                method: method.clone(),
                template: template.clone(),
                permission: permissions.first().copied(),
                has_body: op.request_body.is_some(),
            });
        }
    }
    ops
}

/// Every operation × every kind of caller, each operation on a fresh copy of one world.
#[actix_web::test]
async fn every_operation_answers_every_caller_as_the_permission_model_says() {
    let world_app = TestApp::spawn().await;
    let (world, callers) = build(&world_app).await;
    let ops = operations();
    assert!(ops.len() >= 55, "the document lists {} secured operations", ops.len());
    let mut gaps = Vec::new();
    for op in &ops {
        if let Err(e) = fill(&op.template, &world, &op.id) {
            gaps.push(format!("{}: the matrix does not know {e}", op.id));
        }
        if op.has_body && body(&op.id, &world).is_none() {
            gaps.push(format!("{}: add a valid body to `body()`", op.id));
        }
    }
    assert!(
        gaps.is_empty(),
        "the matrix must know every operation:\n{}",
        gaps.join("\n")
    );

    // Reads and repeatable writes share one copy of the world (a second create, update or
    // review by another allowed caller is as valid as the first); a delete or an erasure gets a
    // fresh copy for each caller after one that succeeded.
    let shared = world_app.fork().await;
    let mut wrong = String::new();
    let mut checked = 0;
    for op in &ops {
        let path = fill(&op.template, &world, &op.id).unwrap_or_default();
        let mut fresh: Option<TestApp> = None;
        for caller in &callers {
            let destroys = op.method == Method::DELETE || DESTROYING.contains(&op.id.as_str());
            if destroys && fresh.is_none() {
                fresh = Some(world_app.fork().await);
            }
            let target = fresh.as_ref().unwrap_or(&shared);
            let mut req = target.req(op.method.clone(), &path);
            if let Some(token) = &caller.token {
                req = req.bearer(token);
            }
            if let Some(b) = body(&op.id, &world) {
                req = req.json(b);
            }
            let res = req.send().await;
            checked += 1;
            let want = expect(op, caller);
            let fine = match want {
                Expect::Allowed => ![401, 403, 404].contains(&res.status) && res.status < 500,
                Expect::Status(s) => res.status == s && res.header("content-type") == Some("application/problem+json"),
            };
            if !fine {
                let _ = writeln!(
                    wrong,
                    "{} {} as {}: want {want:?}, got {} {}",
                    op.method, op.template, caller.name, res.status, res.body
                );
            }
            if let Some(problem) = leaks(op, caller, &res) {
                let _ = writeln!(wrong, "{} {} as {}: {problem}", op.method, op.template, caller.name);
            }
            if destroys && (200..300).contains(&res.status) {
                fresh = None;
            }
        }
    }
    eprintln!(
        "authorization matrix: {} operations x {} callers = {checked} requests",
        ops.len(),
        callers.len()
    );
    assert!(wrong.is_empty(), "answers that break the permission model:\n{wrong}");
}
