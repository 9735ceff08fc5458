//! A small HTTP load generator for `bench/run.sh` (see docs/performance.md): signs in with the
//! logins of a demo clinic (`rehabit demo --json`), then drives a few read endpoints, one after
//! the other, with a fixed number of concurrent connections for a fixed time, and reports
//! throughput, latency percentiles, answers by status, and the server's memory.
//!
//! ```text
//! cargo bench --bench http -- --base-url http://127.0.0.1:8080 --demo demo.json \
//!     [--concurrency 16] [--duration 10] [--warmup 1] [--server-pid PID] [--out results.json]
//! cargo bench --bench http -- --summarize [--ceilings CEILINGS] [--out SUMMARY_JSON] \
//!     --a RESULTS_JSON... [--b RESULTS_JSON...]
//! cargo bench --bench http -- --drop-database postgres://postgres@127.0.0.1:5432/postgres NAME
//! ```
//!
//! It uses only the crate's own dependencies (tokio, reqwest, serde_json), so nothing needs
//! installing by hand.

use chrono::{Duration as Days, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: cargo bench --bench http -- --base-url URL --demo DEMO_JSON [--concurrency N] \
[--duration SECONDS] [--warmup SECONDS] [--server-pid PID] [--out RESULTS_JSON]
       cargo bench --bench http -- --summarize [--ceilings FILE] [--out FILE] --a RESULTS... [--b RESULTS...]
       cargo bench --bench http -- --drop-database SERVER_URL NAME";

struct Args {
    base_url: String,
    demo: String,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
    server_pid: Option<u32>,
    out: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        base_url: String::new(),
        demo: String::new(),
        concurrency: 16,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(1),
        server_pid: None,
        out: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        // cargo adds `--bench` when it runs a bench target.
        if flag == "--bench" {
            continue;
        }
        let value = it.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        let number = |max: u64| -> Result<u64, String> {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("`{flag}` must be a number from 1 to {max}, not `{value}`"))
        };
        match flag.as_str() {
            "--base-url" => parsed.base_url = value.trim_end_matches('/').to_string(),
            "--demo" => parsed.demo = value.clone(),
            "--concurrency" => parsed.concurrency = number(1024)? as usize,
            "--duration" => parsed.duration = Duration::from_secs(number(3600)?),
            "--warmup" => parsed.warmup = Duration::from_secs(number(600)?),
            "--server-pid" => parsed.server_pid = Some(number(u64::from(u32::MAX))? as u32),
            "--out" => parsed.out = Some(value.clone()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if parsed.base_url.is_empty() || parsed.demo.is_empty() {
        return Err("`--base-url` and `--demo` are required".into());
    }
    Ok(parsed)
}

/// VmRSS and VmHWM of a process, in KiB, from /proc (Linux only).
fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

async fn sign_in(http: &reqwest::Client, base: &str, login: &Value) -> Result<String, String> {
    let body = json!({
        "grant_type": "password",
        "username": login["email"],
        "password": login["password"],
    });
    let res = http
        .post(format!("{base}/v1/auth/token"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("signing in failed: {e}"))?;
    let status = res.status();
    let text = res.text().await.map_err(|e| e.to_string())?;
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match answer["access_token"].as_str() {
        Some(token) if status.is_success() => Ok(token.to_string()),
        _ => Err(format!("signing in as {} answered {status}: {text}", login["email"])),
    }
}

async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Result<Value, String> {
    let res = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let text = res.text().await.map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("GET {url}: {e}"))
}

/// One request of a target: GET `url`, or POST `body` to it with a new `id` each time (as a
/// client's app makes one per log).
#[derive(Clone)]
struct Request {
    url: String,
    token: Arc<str>,
    post: Option<Arc<Value>>,
}

/// One endpoint to load: the requests to cycle through. `key` names its pgbench script
/// (`bench/pgbench/<key>.sql`) and its row in summaries.
struct Target {
    key: &'static str,
    name: String,
    requests: Vec<Request>,
}

fn gets(urls: impl IntoIterator<Item = String>, token: &Arc<str>) -> Vec<Request> {
    urls.into_iter()
        .map(|url| Request {
            url,
            token: token.clone(),
            post: None,
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    statuses: BTreeMap<String, u64>,
}

/// Runs `target` with `concurrency` workers until `duration` has passed; answers the tally and
/// the time it really took.
async fn load(http: &reqwest::Client, target: &Target, concurrency: usize, duration: Duration) -> (Tally, Duration) {
    let started = Instant::now();
    let deadline = started + duration;
    let requests = Arc::new(target.requests.clone());
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let http = http.clone();
            let requests = requests.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut n = w;
                while Instant::now() < deadline {
                    let request = &requests[n % requests.len()];
                    n += concurrency;
                    let sent = Instant::now();
                    let builder = match &request.post {
                        None => http.get(&request.url),
                        Some(template) => {
                            let mut body = Value::clone(template);
                            body["id"] = json!(uuid::Uuid::now_v7());
                            body["performed_at"] = json!(Utc::now() - Days::minutes(5));
                            http.post(&request.url)
                                .header("content-type", "application/json")
                                .body(body.to_string())
                        }
                    };
                    let status = match builder.bearer_auth(&*request.token).send().await {
                        Ok(res) => {
                            let status = res.status().as_u16().to_string();
                            // The body is part of the answer's cost.
                            match res.bytes().await {
                                Ok(_) => status,
                                Err(_) => "body error".to_string(),
                            }
                        }
                        Err(e) if e.is_timeout() => "timeout".to_string(),
                        Err(_) => "connection error".to_string(),
                    };
                    tally
                        .latencies_us
                        .push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
                    *tally.statuses.entry(status).or_default() += 1;
                }
                tally
            })
        })
        .collect();
    let mut all = Tally::default();
    for w in workers {
        if let Ok(t) = w.await {
            all.latencies_us.extend(t.latencies_us);
            for (status, n) in t.statuses {
                *all.statuses.entry(status).or_default() += n;
            }
        }
    }
    (all, started.elapsed())
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

/// What the search target asks the library for, in turn.
const SEARCH_TERMS: [&str; 5] = ["hip", "knee", "stretch", "bridge", "balance"];

/// A session log to post for each of the first 100 clients: to the client's daily assignment
/// (every day is scheduled, so any date is), three entries and one measurement; the load sets a
/// new `id` and `performed_at` on each request.
async fn session_posts(
    http: &reqwest::Client,
    base: &str,
    admin: &Arc<str>,
    ids: &[String],
) -> Result<Vec<Request>, String> {
    let mut posts = Vec::new();
    for id in ids.iter().take(100) {
        let page = get_json(http, &format!("{base}/v1/clients/{id}/assignments"), admin).await?;
        let assignments = page["items"].as_array().cloned().unwrap_or_default();
        let daily = assignments.iter().find(|a| {
            // No days named means every day.
            matches!(a["schedule"]["days_of_week"].as_array().map(Vec::len), Some(0 | 7)) && a["status"] == "active"
        });
        let Some(assignment) = daily else { continue };
        let entries: Vec<Value> = assignment["items"]
            .as_array()
            .into_iter()
            .flatten()
            .take(3)
            .map(|item| json!({"assignment_item_id": item["id"], "completed": true, "sets_done": 2, "reps_done": 10}))
            .collect();
        let body = json!({
            "duration_seconds": 900, "pain_before": 3, "pain_after": 2, "effort": 5,
            "entries": entries,
            "measurements": [{"kind": "hip_flexion_deg", "side": "left", "value": 100}],
        });
        posts.push(Request {
            url: format!(
                "{base}/v1/assignments/{}/sessions",
                assignment["id"].as_str().unwrap_or_default()
            ),
            token: admin.clone(),
            post: Some(Arc::new(body)),
        });
    }
    if posts.is_empty() {
        return Err("no client of the demo has an active daily assignment to log sessions to".into());
    }
    Ok(posts)
}

async fn drop_database(server_url: &str, name: &str) -> Result<(), String> {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let admin = rehabit::db::split_database_url(server_url)
        .map(|(admin, _)| admin)
        .ok_or("the server URL must name a database")?;
    let mut conn = AsyncPgConnection::establish(&admin).await.map_err(|e| e.to_string())?;
    diesel::sql_query(format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        rehabit::db::quote_ident(name)
    ))
    .execute(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

async fn bench(args: Args) -> Result<(), String> {
    let demo: Value = serde_json::from_str(
        &std::fs::read_to_string(&args.demo).map_err(|e| format!("cannot read {}: {e}", args.demo))?,
    )
    .map_err(|e| format!("{} is not the JSON of `rehabit demo --json`: {e}", args.demo))?;
    let base = args.base_url.as_str();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;

    // The server may still be starting.
    let ready = Instant::now();
    loop {
        match http.get(format!("{base}/readyz")).send().await {
            Ok(res) if res.status().is_success() => break,
            _ if ready.elapsed() > Duration::from_secs(60) => return Err(format!("{base} is not ready")),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }

    let mib = |kib: u64| kib as f64 / 1024.0;
    let memory = |when: &str| -> Option<Value> {
        let (rss, hwm) = args.server_pid.and_then(memory_kib)?;
        println!(
            "server memory {when}: VmRSS {:.1} MiB, VmHWM {:.1} MiB",
            mib(rss),
            mib(hwm)
        );
        Some(json!({"vm_rss_kib": rss, "vm_hwm_kib": hwm}))
    };
    let memory_idle = memory("when ready");

    let admin: Arc<str> = sign_in(&http, base, &demo["logins"]["admin"]).await?.into();
    let mut client_tokens: Vec<Arc<str>> = Vec::new();
    for login in demo["logins"]["clients"].as_array().into_iter().flatten() {
        client_tokens.push(sign_in(&http, base, login).await?.into());
    }
    let ids: Vec<String> = demo["client_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if ids.is_empty() || client_tokens.is_empty() {
        return Err("the demo has no clients (or none with a login)".into());
    }

    // The first five pages of the client list, by following the cursors once.
    let mut pages = vec![format!("{base}/v1/clients?limit=50")];
    while pages.len() < 5 {
        let page = get_json(&http, pages.last().map(String::as_str).unwrap_or_default(), &admin).await?;
        match page["next_cursor"].as_str() {
            Some(cursor) => pages.push(format!("{base}/v1/clients?limit=50&cursor={cursor}")),
            None => break,
        }
    }
    let today = Utc::now().date_naive();
    let from = today - Days::days(27);
    let per_client = |path: &dyn Fn(&str) -> String| -> Vec<Request> {
        gets(ids.iter().map(|id| format!("{base}{}", path(id))), &admin)
    };
    let posts = session_posts(&http, base, &admin, &ids).await?;
    let targets = vec![
        Target {
            key: "exercises",
            name: "GET /v1/exercises".into(),
            requests: gets([format!("{base}/v1/exercises")], &admin),
        },
        Target {
            key: "exercises_search",
            name: "GET /v1/exercises?q= (5 terms)".into(),
            requests: gets(
                SEARCH_TERMS.iter().map(|q| format!("{base}/v1/exercises?q={q}")),
                &admin,
            ),
        },
        Target {
            key: "clients",
            name: "GET /v1/clients?limit=50 (first 5 pages)".into(),
            requests: gets(pages.iter().cloned(), &admin),
        },
        Target {
            key: "agenda",
            name: "GET /v1/clients/{id}/agenda (28 days)".into(),
            requests: per_client(&|id| format!("/v1/clients/{id}/agenda?from={from}&to={today}")),
        },
        Target {
            key: "sessions",
            name: "GET /v1/clients/{id}/sessions".into(),
            requests: per_client(&|id| format!("/v1/clients/{id}/sessions")),
        },
        Target {
            key: "progress",
            name: "GET /v1/clients/{id}/progress".into(),
            requests: per_client(&|id| format!("/v1/clients/{id}/progress")),
        },
        Target {
            key: "me_agenda",
            name: "GET /v1/me/agenda (client, this week)".into(),
            requests: client_tokens
                .iter()
                .map(|t| Request {
                    url: format!("{base}/v1/me/agenda"),
                    token: t.clone(),
                    post: None,
                })
                .collect(),
        },
        // Last: it adds rows the reads above would otherwise see.
        Target {
            key: "session_create",
            name: "POST /v1/assignments/{id}/sessions".into(),
            requests: posts,
        },
    ];

    let counts = &demo["counts"];
    println!(
        "data: {} clients, {} weeks, {} rows ({} session logs, {} entries, {} measurements), seeded in {} ms",
        ids.len(),
        demo["weeks"],
        demo["rows"],
        counts["session_logs"],
        counts["session_entries"],
        counts["session_measurements"],
        demo["elapsed_ms"]
    );
    println!(
        "load: {} connections, {} s per endpoint after {} s of warm-up",
        args.concurrency,
        args.duration.as_secs(),
        args.warmup.as_secs()
    );
    // Each sign-in checks a password with argon2id, which takes 19 MiB while it runs.
    let memory_signed_in = memory(&format!("after {} sign-ins", 1 + client_tokens.len()));
    println!();
    println!(
        "{:<42} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9}  statuses",
        "endpoint", "req/s", "p50 ms", "p95 ms", "p99 ms", "RSS MiB", "HWM MiB"
    );
    let mut results = Vec::new();
    for target in &targets {
        load(&http, target, args.concurrency, args.warmup).await;
        let (mut tally, took) = load(&http, target, args.concurrency, args.duration).await;
        tally.latencies_us.sort_unstable();
        let total = tally.latencies_us.len();
        let rate = total as f64 / took.as_secs_f64();
        let (p50, p95, p99) = (
            percentile(&tally.latencies_us, 0.50),
            percentile(&tally.latencies_us, 0.95),
            percentile(&tally.latencies_us, 0.99),
        );
        let memory = args.server_pid.and_then(memory_kib);
        let statuses = tally
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let (rss, hwm) = memory.map_or((String::from("-"), String::from("-")), |(r, h)| {
            (format!("{:.1}", mib(r)), format!("{:.1}", mib(h)))
        });
        println!(
            "{:<42} {rate:>9.1} {p50:>8.2} {p95:>8.2} {p99:>8.2} {rss:>9} {hwm:>9}  {statuses}",
            target.name
        );
        results.push(json!({
            "key": target.key,
            "endpoint": target.name,
            "requests": total,
            "seconds": took.as_secs_f64(),
            "requests_per_second": rate,
            "latency_ms": {"p50": p50, "p95": p95, "p99": p99},
            "statuses": tally.statuses,
            "server_memory_kib": memory.map(|(rss, hwm)| json!({"vm_rss": rss, "vm_hwm": hwm})),
        }));
    }
    if let Some(out) = &args.out {
        let doc = json!({
            "base_url": base,
            "concurrency": args.concurrency,
            "duration_seconds": args.duration.as_secs(),
            "data": {"clients": ids.len(), "weeks": demo["weeks"], "rows": demo["rows"], "counts": counts,
                     "seed_elapsed_ms": demo["elapsed_ms"]},
            "server_memory_when_ready": memory_idle,
            "server_memory_after_sign_ins": memory_signed_in,
            "results": results,
        });
        std::fs::write(out, format!("{doc:#}\n")).map_err(|e| format!("cannot write {out}: {e}"))?;
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Medians over runs (results.json files of this generator) per endpoint key: req/s, p50, p99.
type Medians = BTreeMap<String, (String, f64, f64, f64, u64)>;
/// Per endpoint: its name, then each run's req/s, p50 and p99, and the highest RSS.
type Samples = (String, Vec<f64>, Vec<f64>, Vec<f64>, u64);

/// Also the highest server VmRSS seen after the endpoint's load, in KiB.
fn medians(files: &[String]) -> Result<Medians, String> {
    let mut runs: BTreeMap<String, Samples> = BTreeMap::new();
    for file in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?)
            .map_err(|e| format!("{file}: {e}"))?;
        for r in doc["results"].as_array().into_iter().flatten() {
            let key = r["key"].as_str().unwrap_or_default().to_string();
            let entry = runs.entry(key).or_default();
            entry.0 = r["endpoint"].as_str().unwrap_or_default().to_string();
            entry.1.push(r["requests_per_second"].as_f64().unwrap_or(0.0));
            entry.2.push(r["latency_ms"]["p50"].as_f64().unwrap_or(0.0));
            entry.3.push(r["latency_ms"]["p99"].as_f64().unwrap_or(0.0));
            entry.4 = entry.4.max(r["server_memory_kib"]["vm_rss"].as_u64().unwrap_or(0));
        }
    }
    Ok(runs
        .into_iter()
        .map(|(k, (name, rate, p50, p99, rss))| {
            let m = |v| median(v).unwrap_or(0.0);
            (k, (name, m(rate), m(p50), m(p99), rss))
        })
        .collect())
}

/// `--summarize`: the medians of runs of binary A (and B), each endpoint's ratio to its pgbench
/// ceiling (a file of `key tps` lines, one per pgbench run: their median counts) and B/A.
fn summarize(args: &[String]) -> Result<(), String> {
    let (mut a, mut b, mut ceilings, mut out) = (Vec::new(), Vec::new(), None, None);
    let mut list: Option<&mut Vec<String>> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {}
            "--a" => list = Some(&mut a),
            "--b" => list = Some(&mut b),
            "--ceilings" => ceilings = it.next().cloned(),
            "--out" => out = it.next().cloned(),
            file => match list.as_deref_mut() {
                Some(l) => l.push(file.to_string()),
                None => return Err(format!("`{file}`: name --a or --b before the results files")),
            },
        }
    }
    let (a_files, b_files) = (a.clone(), b.clone());
    let a = medians(&a)?;
    let b = medians(&b)?;
    let mut tps: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    if let Some(file) = &ceilings {
        for line in std::fs::read_to_string(file)
            .map_err(|e| format!("{file}: {e}"))?
            .lines()
        {
            let mut words = line.split_whitespace();
            if let (Some(key), Some(Ok(v))) = (words.next(), words.next().map(str::parse::<f64>)) {
                tps.entry(key.to_string()).or_default().push(v);
            }
        }
    }
    let ceiling = |key: &str| tps.get(key).cloned().and_then(median);
    println!(
        "{:<42} {:>9} {:>8} {:>8} {:>8} {:>11} {:>8}{}",
        "endpoint (median of runs)",
        "req/s",
        "p50 ms",
        "p99 ms",
        "RSS MiB",
        "pgbench tps",
        "/ceiling",
        if b.is_empty() {
            ""
        } else {
            "   B req/s   B p50   B p99   B/A"
        }
    );
    let mut rows = Vec::new();
    for (key, (name, rate, p50, p99, rss)) in &a {
        let ceil = ceiling(key);
        let ratio = ceil.map(|c| rate / c);
        let fmt = |v: Option<f64>, prec: usize| v.map_or("-".to_string(), |v| format!("{v:.prec$}"));
        let mut line = format!(
            "{name:<42} {rate:>9.1} {p50:>8.2} {p99:>8.2} {:>8.1} {:>11} {:>8}",
            *rss as f64 / 1024.0,
            fmt(ceil, 0),
            fmt(ratio, 2)
        );
        let mut row = json!({"key": key, "endpoint": name, "requests_per_second": rate,
            "latency_ms": {"p50": p50, "p99": p99}, "server_vm_rss_kib_max": rss,
            "pgbench_tps": ceil, "ratio_to_ceiling": ratio});
        if let Some((_, b_rate, b_p50, b_p99, b_rss)) = b.get(key) {
            line.push_str(&format!(
                "   {b_rate:>7.1} {b_p50:>7.2} {b_p99:>7.2} {:>5.2}",
                b_rate / rate
            ));
            row["b"] = json!({"requests_per_second": b_rate, "latency_ms": {"p50": b_p50, "p99": b_p99},
                "server_vm_rss_kib_max": b_rss,
                "ratio_to_ceiling": ceil.map(|c| b_rate / c), "b_over_a": b_rate / rate});
        }
        println!("{line}");
        rows.push(row);
    }
    if let Some(out) = out {
        let doc = json!({"summary": rows, "runs": {"a": a_files, "b": b_files}, "ceilings": tps});
        std::fs::write(&out, format!("{doc:#}\n")).map_err(|e| format!("cannot write {out}: {e}"))?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = if args.first().map(String::as_str) == Some("--summarize") {
        summarize(&args[1..])
    } else if args.first().map(String::as_str) == Some("--drop-database") {
        match (args.get(1), args.get(2)) {
            (Some(server), Some(name)) => drop_database(server, name).await,
            _ => Err(USAGE.to_string()),
        }
    } else {
        match parse_args(&args) {
            Ok(args) => bench(args).await,
            Err(e) => Err(format!("{e}\n{USAGE}")),
        }
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
