//! Handouts (issue 17, part 1): homework and routines as a printable page and a PDF.

use crate::helpers::{TestApp, TestResponse};
use chrono::{Duration, Utc};
use rehabit::library::content::{HIP_MOBILITY, LEGS_UP_THE_WALL, SHOELACE_POSE, WIDE_LEGS_UP_THE_WALL};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const CLIENT: &str = "Ελένη Παπαδοπούλου-Смирнова";
const OWN_EXERCISE: &str = "Κάμψη ισχίου · Сгибание бедра";
const VIDEO: &str = "https://media.example/hip-flexion.mp4";

struct World {
    admin: String,
    client_id: String,
    client: String,
    assignment: String,
    /// Another client of the same clinic, with a login and homework of their own.
    other_client: String,
    other_assignment: String,
    own_routine: String,
}

fn ok(res: &TestResponse, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.body);
    res.body.clone()
}

/// The demo's hip homework: the tighter left side held longer, plus an exercise of the
/// clinic's own with a video and a Greek and Russian name.
async fn world(app: &TestApp, clinic: &str) -> World {
    let email = format!("admin@{}.example", clinic.to_lowercase());
    let admin = app.admin_token(clinic, &email).await;
    let (client_id, client) = app
        .client_with_login(
            &admin,
            json!({"name": CLIENT, "email": format!("eleni@{}.example", clinic.to_lowercase()), "timezone": "Europe/Athens"}),
        )
        .await;
    let (other_id, other_client) = app
        .client_with_login(
            &admin,
            json!({"name": "Sam <script>alert(1)</script> Lee", "email": format!("sam@{}.example", clinic.to_lowercase()), "timezone": "Europe/London"}),
        )
        .await;
    let own = ok(
        &app.post("/v1/exercises")
            .bearer(&admin)
            .json(json!({
                "name": OWN_EXERCISE,
                "summary": "Lying hip flexion, one knee to the chest.",
                "instructions": ["Lie on your back.", "Draw one knee to your chest and hold."],
                "category": "mobility",
                "body_regions": ["hip"],
                "difficulty": 1,
                "cautions": ["Не тяните колено через боль."],
                "media": [{"kind": "video", "url": VIDEO, "caption": "Side view"}]
            }))
            .send()
            .await,
        201,
    );
    let start = (Utc::now() + Duration::days(1)).date_naive();
    let items = json!([
        {"exercise_id": LEGS_UP_THE_WALL, "sets": 1, "hold_seconds": 300, "side": "both"},
        {"exercise_id": WIDE_LEGS_UP_THE_WALL, "sets": 1, "hold_seconds": 120, "side": "both"},
        {"exercise_id": SHOELACE_POSE, "sets": 1, "hold_seconds": 60, "side": "left", "notes": "Left is the tighter side."},
        {"exercise_id": SHOELACE_POSE, "sets": 1, "hold_seconds": 30, "side": "right"},
        {"exercise_id": own["id"], "sets": 2, "reps": 10, "side": "each"},
    ]);
    let a = ok(
        &app.post(&format!("/v1/clients/{client_id}/assignments"))
            .bearer(&admin)
            .json(json!({
                "routine_id": HIP_MOBILITY,
                "instructions": "Every morning. Give your left hip, the tighter one, the longer hold.",
                "schedule": {"start_date": start, "days_of_week": ["mon", "wed", "fri"]},
                "items": items
            }))
            .send()
            .await,
        201,
    );
    let other = ok(
        &app.post(&format!("/v1/clients/{other_id}/assignments"))
            .bearer(&admin)
            .json(json!({"routine_id": HIP_MOBILITY, "schedule": {"start_date": start}}))
            .send()
            .await,
        201,
    );
    let routine = ok(
        &app.post("/v1/routines")
            .bearer(&admin)
            .json(json!({"name": "Κινητικότητα ισχίου", "items": [{"exercise_id": own["id"], "sets": 2, "reps": 8}]}))
            .send()
            .await,
        201,
    );
    let id = |v: &Value| v["id"].as_str().expect("id").to_string();
    World {
        admin,
        client_id,
        client,
        assignment: id(&a),
        other_client,
        other_assignment: id(&other),
        own_routine: id(&routine),
    }
}

fn text(res: &TestResponse) -> String {
    String::from_utf8(res.raw.clone()).expect("utf-8")
}

#[actix_web::test]
async fn homework_handout_reads_like_the_clinics_own() {
    let app = TestApp::spawn().await;
    let w = world(&app, "Handy").await;
    let res = app
        .get(&format!("/v1/assignments/{}/handout", w.assignment))
        .bearer(&w.admin)
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", text(&res));
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(res.header("vary"), Some("Accept"));
    let page = text(&res);
    let start = (Utc::now() + Duration::days(1)).date_naive();
    for expected in [
        "Handy",
        "Hip mobility",
        CLIENT,
        "Admin of Handy",
        "Mon, Wed, Fri, once a day, from ",
        &start.format("%-d %b").to_string(),
        "Legs up the wall",
        "1. Legs up the wall",
        "3. Shoelace pose",
        "1 × 5 min hold",
        "Left: 1 × 60 s hold · Right: 1 × 30 s hold",
        "Each side: 2 × 10 reps",
        "Left is the tighter side.",
        "Caution: Не тяните колено через боль.",
        OWN_EXERCISE,
        "Video: Side view",
        &format!("href=\"{VIDEO}\""),
        "<svg",
        "@page{size:A4",
    ] {
        assert!(page.contains(expected), "the page lacks {expected:?}:\n{page}");
    }
    // The steps come from the exercise library.
    assert!(page.contains("<ol><li>"), "{page}");

    // Letter paper; `format` wins over `Accept`.
    let res = app
        .get(&format!(
            "/v1/assignments/{}/handout?paper=letter&format=html",
            w.assignment
        ))
        .bearer(&w.admin)
        .header("Accept", "application/pdf")
        .send()
        .await;
    assert_eq!(res.status, 200);
    assert!(text(&res).contains("@page{size:letter"));
}

#[actix_web::test]
async fn homework_handout_as_pdf() {
    let app = TestApp::spawn().await;
    let w = world(&app, "Pdf").await;
    let path = format!("/v1/assignments/{}/handout", w.assignment);
    let by_param = app.get(&format!("{path}?format=pdf")).bearer(&w.admin).send().await;
    assert_eq!(by_param.status, 200, "{}", by_param.body);
    assert_eq!(by_param.header("content-type"), Some("application/pdf"));
    assert_eq!(
        by_param.header("content-disposition"),
        Some("inline; filename=\"hip-mobility.pdf\"")
    );
    assert!(by_param.raw.starts_with(b"%PDF-"));
    assert!(
        by_param.raw.len() < 400_000,
        "{} bytes: fonts not subset?",
        by_param.raw.len()
    );
    let by_accept = app
        .get(&format!("{path}?paper=letter"))
        .bearer(&w.admin)
        .header("Accept", "application/pdf")
        .send()
        .await;
    assert_eq!(by_accept.header("content-type"), Some("application/pdf"));
    // Letter is 612 × 792 points.
    let raw = String::from_utf8_lossy(&by_accept.raw);
    assert!(raw.contains("612 792"), "no Letter MediaBox");

    // The built-in routine's handout, for any clinic's staff.
    let routine = app
        .get(&format!("/v1/routines/{HIP_MOBILITY}/handout?format=pdf"))
        .bearer(&w.admin)
        .send()
        .await;
    assert_eq!(routine.status, 200, "{}", routine.body);
    assert!(routine.raw.starts_with(b"%PDF-"));
    let page = app
        .get(&format!("/v1/routines/{HIP_MOBILITY}/handout"))
        .bearer(&w.admin)
        .send()
        .await;
    let page = text(&page);
    assert!(
        page.contains("Shoelace pose") && page.contains("Each side: 1 × 60 s hold"),
        "{page}"
    );
    assert!(page.contains("Hold the tighter side a little longer."), "{page}");
}

#[actix_web::test]
async fn handouts_escape_what_people_typed() {
    let app = TestApp::spawn().await;
    let w = world(&app, "Escape").await;
    let page = app
        .get(&format!("/v1/assignments/{}/handout", w.other_assignment))
        .bearer(&w.admin)
        .send()
        .await;
    assert_eq!(page.status, 200);
    let page = text(&page);
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("Sam &lt;script&gt;alert(1)&lt;/script&gt; Lee"), "{page}");
}

#[actix_web::test]
async fn handouts_are_read_by_whoever_reads_the_resource() {
    let app = TestApp::spawn().await;
    let w = world(&app, "Perm").await;
    let other_clinic = app.admin_token("Elsewhere", "admin@elsewhere.example").await;
    let mine = format!("/v1/assignments/{}/handout", w.assignment);
    let theirs = format!("/v1/assignments/{}/handout", w.other_assignment);
    // Another clinic sees neither the homework nor the clinic's own routine.
    app.get(&mine).bearer(&other_clinic).send().await.problem(404);
    app.get(&format!("/v1/routines/{}/handout", w.own_routine))
        .bearer(&other_clinic)
        .send()
        .await
        .problem(404);
    // A client reads their own handout, not another client's.
    assert_eq!(app.get(&mine).bearer(&w.client).send().await.status, 200);
    assert_eq!(
        app.get(&format!("{mine}?format=pdf"))
            .bearer(&w.client)
            .send()
            .await
            .status,
        200
    );
    app.get(&theirs).bearer(&w.client).send().await.problem(404);
    app.get(&mine).bearer(&w.other_client).send().await.problem(404);
    // Routine templates are for staff.
    app.get(&format!("/v1/routines/{}/handout", w.own_routine))
        .bearer(&w.client)
        .send()
        .await
        .problem(403);
    app.get(&format!("/v1/assignments/{}/handout", uuid::Uuid::now_v7()))
        .bearer(&w.admin)
        .send()
        .await
        .problem(404);
    app.get(&mine).send().await.problem(401);
}

#[actix_web::test]
async fn unknown_format_or_paper_is_named() {
    let app = TestApp::spawn().await;
    let w = world(&app, "Bad").await;
    for (query, field) in [
        ("format=docx", "format"),
        ("paper=a3", "paper"),
        ("format=PDF", "format"),
    ] {
        let res = app
            .get(&format!("/v1/assignments/{}/handout?{query}", w.assignment))
            .bearer(&w.admin)
            .send()
            .await;
        res.problem(422);
        assert!(res.body.to_string().contains(field), "{query}: {}", res.body);
        let res = app
            .get(&format!("/v1/routines/{HIP_MOBILITY}/handout?{query}"))
            .bearer(&w.admin)
            .send()
            .await;
        res.problem(422);
    }
}

#[actix_web::test]
async fn handouts_are_audited_with_the_client() {
    let app = TestApp::spawn().await;
    let w = world(&app, "Audit").await;
    ok(
        &app.get(&format!("/v1/assignments/{}/handout?format=pdf", w.assignment))
            .bearer(&w.client)
            .send()
            .await,
        200,
    );
    let events = app.audit_events().await;
    let read = events
        .iter()
        .rfind(|e| e["action"] == "get_assignment_handout")
        .expect("handout audited");
    assert_eq!(read["client_ids"], json!([w.client_id]));
    assert_eq!(read["status"], 200);
    assert_eq!(read["actor_role"], "client");
}

/// The binaries that look at a handout as a person would; `None` (with the reason printed)
/// when one is missing and this is not CI, where missing them is a failure.
fn viewers() -> Option<()> {
    let missing: Vec<&str> = ["chromium", "pdftotext", "pdftoppm"]
        .into_iter()
        .filter(|b| {
            Command::new("sh")
                .args(["-c", &format!("command -v {b}")])
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true)
        })
        .collect();
    if missing.is_empty() {
        return Some(());
    }
    let why = format!(
        "{} not installed (Debian: `apt-get install chromium poppler-utils`; .ci/run does it)",
        missing.join(", ")
    );
    assert!(std::env::var_os("CI").is_none(), "CI must look at the handouts: {why}");
    eprintln!("skipping the look at the handouts: {why}");
    None
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Text as pdftotext sees it, with runs of white space made one space.
fn pdf_text(pdf: &Path) -> String {
    let raw = run(Command::new("pdftotext").args(["-enc", "UTF-8"]).arg(pdf).arg("-"));
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn out_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("handouts").join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

fn assert_reads(seen: &str, what: &str) {
    for expected in [
        "Hip mobility",
        "Ελένη Παπαδοπούλου-Смирнова",
        "Shoelace pose",
        "Legs up the wall",
        "Left: 1 × 60 s hold · Right: 1 × 30 s hold",
        "Each side: 2 × 10 reps",
        "Κάμψη ισχίου",
        "Сгибание бедра",
        "Не тяните колено через боль.",
        VIDEO,
    ] {
        assert!(seen.contains(expected), "{what} does not show {expected:?}:\n{seen}");
    }
}

#[actix_web::test]
async fn handouts_as_a_person_sees_them() {
    if viewers().is_none() {
        return;
    }
    let app = TestApp::spawn().await;
    let w = world(&app, "Harbour").await;
    let dir = out_dir("seen");
    let path = format!("/v1/assignments/{}/handout", w.assignment);

    // The PDF, as a PDF reader extracts it and as it rasterises.
    let pdf = app.get(&format!("{path}?format=pdf")).bearer(&w.admin).send().await;
    assert_eq!(pdf.status, 200);
    let pdf_file = dir.join("hip-mobility.pdf");
    std::fs::write(&pdf_file, &pdf.raw).expect("write");
    assert_reads(&pdf_text(&pdf_file), "the PDF");
    run(Command::new("pdftoppm")
        .args(["-png", "-r", "40", "-f", "1", "-l", "1"])
        .arg(&pdf_file)
        .arg(dir.join("page")));
    let png = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .find(|e| {
            e.file_name().to_string_lossy().starts_with("page") && e.file_name().to_string_lossy().ends_with(".png")
        })
        .expect("a PNG of page 1");
    assert!(png.metadata().expect("meta").len() > 2_000, "page 1 looks empty");

    // The page, as headless Chromium lays it out and prints it.
    let html = app.get(&path).bearer(&w.admin).send().await;
    let html_file = dir.join("hip-mobility.html");
    std::fs::write(&html_file, &html.raw).expect("write");
    let printed = dir.join("printed.pdf");
    let _ = std::fs::remove_file(&printed);
    run(Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            "--allow-file-access-from-files",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--print-to-pdf={}", printed.display()))
        .arg(format!("file://{}", html_file.display())));
    assert_reads(&pdf_text(&printed), "the page as Chromium prints it");
}
