//! A small HTTP load generator for `bench/run.sh` (see docs/performance.md): signs in with the
//! logins of a demo clinic (`rehabit demo --json`), then drives a few read endpoints, one after
//! the other, with a fixed number of concurrent connections for a fixed time, and reports
//! throughput, latency percentiles, answers by status, and the server's memory.
//!
//! ```text
//! cargo bench --bench http -- --base-url http://127.0.0.1:8080 --demo demo.json \
//!     [--concurrency 16] [--duration 10] [--warmup 1] [--server-pid PID] [--out results.json]
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

/// One endpoint to load: the requests to cycle through, each a URL with the token to send.
struct Target {
    name: String,
    requests: Vec<(String, Arc<str>)>,
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
                    let (url, token) = &requests[n % requests.len()];
                    n += concurrency;
                    let sent = Instant::now();
                    let status = match http.get(url).bearer_auth(token).send().await {
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
    let per_client = |path: &dyn Fn(&str) -> String| -> Vec<(String, Arc<str>)> {
        ids.iter()
            .map(|id| (format!("{base}{}", path(id)), admin.clone()))
            .collect()
    };
    let targets = vec![
        Target {
            name: "GET /v1/clients?limit=50 (first 5 pages)".into(),
            requests: pages.iter().map(|p| (p.clone(), admin.clone())).collect(),
        },
        Target {
            name: "GET /v1/clients/{id}/agenda (28 days)".into(),
            requests: per_client(&|id| format!("/v1/clients/{id}/agenda?from={from}&to={today}")),
        },
        Target {
            name: "GET /v1/clients/{id}/sessions".into(),
            requests: per_client(&|id| format!("/v1/clients/{id}/sessions")),
        },
        Target {
            name: "GET /v1/clients/{id}/progress".into(),
            requests: per_client(&|id| format!("/v1/clients/{id}/progress")),
        },
        Target {
            name: "GET /v1/me/agenda (client, this week)".into(),
            requests: client_tokens
                .iter()
                .map(|t| (format!("{base}/v1/me/agenda"), t.clone()))
                .collect(),
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = if args.first().map(String::as_str) == Some("--drop-database") {
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
