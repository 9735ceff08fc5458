//! `rehabit [serve|migrate|openapi|demo|user|audit]`: serve the API (default), run migrations,
//! print the OpenAPI document, fill a new demo clinic with plausible data (`rehabit demo --help`),
//! reset a login's password as the operator (`rehabit user reset-password EMAIL`), or check the
//! audit trail's hash chains (`rehabit audit verify`).

use rehabit::config::{Config, redact_url};
use rehabit::shutdown::{Phase, Shutdown};
use rehabit::{db, ops, state::AppState, telemetry};
use std::process::ExitCode;

const USAGE: &str = "usage: rehabit [serve|migrate|openapi]
       rehabit demo [--clients N] [--weeks W] [--seed S] [--json]
       rehabit user reset-password EMAIL [--password-stdin]
       rehabit audit verify [--clinic ID] [--head CLINIC:COUNT:HASH]...";

const USER_USAGE: &str = "usage: rehabit user reset-password EMAIL [--password-stdin]

Sets a new password for the login with this email and ends all its sign-ins, in every clinic.
This is how the password of a login shared by clinics is reset (no clinic may reset it).
Without --password-stdin a random password is generated and printed once; with it, the first
line of standard input is the new password (at least 10 characters), so it never appears in
the process list or the shell history.";

const AUDIT_USAGE: &str = "usage: rehabit audit verify [--clinic ID] [--head CLINIC:COUNT:HASH]...
  Recomputes each clinic's audit hash chain (or one clinic's) and names the first event that
  was altered or removed. Every head the service published (audit_heads) is checked, and so is
  each --head given, as the log line `audit chain head` printed it (clinic_id:count:head).
  Exit status 0 when every chain holds, 1 when one does not, 2 for bad arguments.";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let command = args.get(1).cloned().unwrap_or_else(|| "serve".into());
    match command.as_str() {
        "openapi" => match serde_json::to_string_pretty(&rehabit::openapi_document()) {
            Ok(doc) => {
                println!("{doc}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("could not render the OpenAPI document: {e}")),
        },
        "migrate" | "serve" => match run(command == "serve").await {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => fail(&message),
        },
        "demo" => demo(&args[2..]).await,
        "user" => user(&args[2..]).await,
        "audit" => audit(&args[2..]).await,
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        other => fail(&format!("unknown command `{other}`; {USAGE}")),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("rehabit: {message}");
    ExitCode::FAILURE
}

/// What every command that uses the database does first: create the database if it is
/// missing, run pending migrations, and install (or update) the built-in library.
async fn prepare_database(url: &str) -> Result<(), String> {
    let unreachable = |e: String| {
        format!(
            "cannot reach PostgreSQL at {} ({}). Start one with `docker compose up -d postgres`, or point DATABASE_URL at a running server.",
            redact_url(url),
            e.lines().next().unwrap_or("").trim()
        )
    };
    db::create_database_if_missing(url).await.map_err(unreachable)?;
    let applied = db::run_migrations(url)
        .await
        .map_err(|e| format!("migrations failed: {e}"))?;
    tracing::info!(count = applied.len(), "migrations applied");
    let installed = install_library(url).await?;
    tracing::info!(
        created = installed.created,
        updated = installed.updated,
        archived = installed.archived,
        "built-in library installed"
    );
    Ok(())
}

/// `rehabit demo`: a new demo clinic in the database at DATABASE_URL. Bad arguments are a usage
/// error (exit status 2).
async fn demo(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{}", rehabit::demo::USAGE);
        return ExitCode::SUCCESS;
    }
    let options = match rehabit::demo::Options::parse(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("rehabit demo: {message}\n{}", rehabit::demo::USAGE);
            return ExitCode::from(2);
        }
    };
    let made = async {
        let config = Config::from_env()?;
        // Logs go to standard error: standard output is the report (`--json` for scripts).
        telemetry::init_stderr(config.log_format);
        let url = config.database_url.expose().to_string();
        prepare_database(&url).await?;
        let mut conn = <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&url)
            .await
            .map_err(|e| format!("cannot connect to fill the demo clinic: {e}"))?;
        let report = rehabit::demo::run(&mut conn, &options).await?;
        Ok::<_, String>((report, rehabit::demo::report::base_url(&config.bind_addr)))
    };
    match made.await {
        Ok((report, base_url)) => {
            if options.json {
                println!("{}", report.to_json(&base_url));
            } else {
                print!("{}", report.to_text(&base_url));
            }
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

/// `rehabit user reset-password EMAIL [--password-stdin]`.
async fn user(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USER_USAGE}");
        return ExitCode::SUCCESS;
    }
    let from_stdin = args.iter().any(|a| a == "--password-stdin");
    let rest: Vec<&String> = args.iter().filter(|a| *a != "--password-stdin").collect();
    let email = match rest.as_slice() {
        [command, email] if command.as_str() == "reset-password" && !email.starts_with('-') => email.to_string(),
        _ => {
            eprintln!("rehabit user: expected `reset-password EMAIL`\n{USER_USAGE}");
            return ExitCode::from(2);
        }
    };
    let done = async {
        let password = if from_stdin {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
            Some(line.trim_end_matches(['\r', '\n']).to_string())
        } else {
            None
        };
        let config = Config::from_env()?;
        telemetry::init_stderr(config.log_format);
        let url = config.database_url.expose().to_string();
        prepare_database(&url).await?;
        let mut conn = <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&url)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        rehabit::auth::reset_password(&mut conn, &email, password).await
    };
    match done.await {
        Ok(reset) => {
            println!(
                "The password of {email} is reset; {} sign-in(s) ended in every clinic.",
                reset.ended_sign_ins
            );
            if reset.generated {
                println!("New password (shown once; hand it over safely): {}", reset.password);
            }
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

async fn run(serve: bool) -> Result<(), String> {
    let config = Config::from_env()?;
    telemetry::init(config.log_format);
    let url = config.database_url.expose().to_string();
    prepare_database(&url).await?;
    if !serve {
        return Ok(());
    }
    if config.jwt_secret_generated {
        tracing::warn!(
            "!!! JWT_SECRET is not set: using a random secret for this run. Tokens stop working when the \
             process restarts and differ between instances. Set JWT_SECRET (REHABIT_ENV=production requires it). !!!"
        );
    }
    let bind = config.bind_addr.clone();
    let state = AppState::new(config)?;
    let metrics = ops::Metrics::new().map_err(|e| e.to_string())?;
    let request_metrics = rehabit::request_metrics(&metrics)?;
    let shutdown = state.shutdown.clone();
    let drain = state.config.shutdown_drain;
    spawn_housekeeping(state.clone());
    if state.config.webhook_worker {
        // The worker has a small pool of its own, so deliveries never compete with requests.
        let pool = db::pool_with(&url, db::PoolSettings::from_config(&state.config, 2))?;
        let worker = rehabit::webhooks::worker::Worker::new(
            pool,
            state.config.webhook_block_private_networks,
            rehabit::webhooks::worker::system_clock(),
        )?;
        let poll = std::time::Duration::from_millis(state.config.webhook_poll_ms);
        shutdown.spawn("webhook worker", worker.run(poll, shutdown.clone(), drain));
        tracing::info!("webhook delivery worker started");
    }
    // In-flight requests end within the request time limit; a second more covers the answer.
    let in_flight = state.config.request_timeout + std::time::Duration::from_secs(1);
    // Audit events of reads are written by a writer with a small pool of its own, on this
    // runtime, so they can still be flushed after the server's workers have stopped.
    let audit_pool = db::pool_with(&url, db::PoolSettings::from_config(&state.config, 2))?;
    state.audit.start(audit_pool.clone());
    let chain_metrics = rehabit::audit::chain::ChainMetrics::new(&metrics.registry).map_err(|e| e.to_string())?;
    rehabit::audit::chain::spawn(audit_pool, Some(chain_metrics), state.config.audit_retention_days);
    let audit = state.audit.clone();
    let flush_when_stopped = shutdown.clone();
    shutdown.spawn("audit writer flush", async move {
        // After the server's last request: write the audit events still queued in memory.
        flush_when_stopped.reached(Phase::Stopped).await;
        let flushed = audit.flush().await;
        tracing::info!(events = flushed, left = audit.waiting(), "audit events flushed");
    });
    let server =
        actix_web::HttpServer::new(move || rehabit::build_app(state.clone(), metrics.clone(), request_metrics.clone()))
            .bind(&bind)
            .map_err(|e| format!("cannot listen on {bind}: {e}"))?
            // Signals are ours (`stop_on_signal`): actix's would stop at once on Ctrl-C, and
            // stop accepting on SIGTERM before a load balancer has noticed.
            .disable_signals()
            .shutdown_timeout(in_flight.as_secs())
            .run();
    tokio::spawn(stop_on_signal(server.handle(), shutdown.clone(), drain));
    tracing::info!(addr = %bind, docs = %format!("http://{bind}/docs"), "serving");
    server.await.map_err(|e| format!("server error: {e}"))?;
    // No request is left: background work finishes (a batcher flushes) and the process ends.
    shutdown.advance(Phase::Stopped);
    shutdown.join(drain + std::time::Duration::from_secs(5)).await;
    tracing::info!("stopped");
    Ok(())
}

/// The graceful stop (`rehabit::shutdown`): at SIGTERM or SIGINT, `/readyz` answers 503 while
/// requests are still served for the drain period; then the server stops accepting and
/// answers the requests it has. A second signal stops at once.
async fn stop_on_signal(server: actix_web::dev::ServerHandle, shutdown: Shutdown, drain: std::time::Duration) {
    let first = rehabit::shutdown::signal().await;
    tracing::info!(
        signal = first,
        drain_secs = drain.as_secs(),
        "stopping: /readyz answers 503; serving until the drain period ends"
    );
    shutdown.advance(Phase::Draining);
    tokio::select! {
        _ = tokio::time::sleep(drain) => {
            tracing::info!("drain period over: accepting no more connections, answering the requests in flight");
            let stopping = server.stop(true);
            tokio::select! {
                _ = stopping => {}
                second = rehabit::shutdown::signal() => {
                    tracing::warn!(signal = second, "second signal: stopping at once");
                    server.stop(false).await;
                }
            }
        }
        second = rehabit::shutdown::signal() => {
            tracing::warn!(signal = second, "second signal: stopping at once");
            server.stop(false).await;
        }
    }
}

/// `rehabit audit verify`: checks the audit trail's chains in the database at DATABASE_URL.
async fn audit(args: &[String]) -> ExitCode {
    let usage = |message: &str| {
        eprintln!("rehabit audit: {message}\n{AUDIT_USAGE}");
        ExitCode::from(2)
    };
    match args.first().map(String::as_str) {
        Some("verify") => {}
        Some("-h" | "--help") => {
            println!("{AUDIT_USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => return usage(&format!("unknown audit command `{other}`")),
        None => return usage("say what to do"),
    }
    let mut clinic = None;
    let mut heads = Vec::new();
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{AUDIT_USAGE}");
                return ExitCode::SUCCESS;
            }
            "--clinic" => match rest.next().map(|v| v.parse::<uuid::Uuid>()) {
                Some(Ok(id)) => clinic = Some(id),
                _ => return usage("--clinic needs a clinic id (a UUID)"),
            },
            "--head" => match rest.next().and_then(|v| parse_head(v)) {
                Some(head) => heads.push(head),
                None => return usage("--head needs CLINIC_ID:COUNT:HASH (hash in hex)"),
            },
            other => return usage(&format!("unknown argument `{other}`")),
        }
    }
    let checked = async {
        let config = Config::from_env()?;
        telemetry::init_stderr(config.log_format);
        let url = config.database_url.expose().to_string();
        let mut conn = <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&url)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", redact_url(&url)))?;
        rehabit::audit::chain::verify(&mut conn, clinic, &heads)
            .await
            .map_err(|e| format!("verification failed to run: {e}"))
    };
    match checked.await {
        Ok(reports) => {
            let mut ok = true;
            for r in &reports {
                match &r.problem {
                    None => println!(
                        "clinic {}: ok, {} entries checked, head #{} {} ({} events not chained yet)",
                        r.clinic_id,
                        r.checked,
                        r.head.0,
                        hex::encode(&r.head.1),
                        r.unchained
                    ),
                    Some(p) => {
                        ok = false;
                        println!("clinic {}: FAILED: {p}", r.clinic_id);
                    }
                }
            }
            if reports.is_empty() {
                println!("no audit events to verify");
            }
            if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(message) => fail(&message),
    }
}

/// `CLINIC_ID:COUNT:HASH`, as the `audit chain head` log line gives them.
fn parse_head(s: &str) -> Option<rehabit::audit::chain::Head> {
    let mut parts = s.split(':');
    let clinic_id = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let hash = hex::decode(parts.next()?).ok().filter(|h| h.len() == 32)?;
    parts
        .next()
        .is_none()
        .then_some(rehabit::audit::chain::Head { clinic_id, seq, hash })
}

/// Installs or updates the built-in exercises and routines (idempotent).
async fn install_library(url: &str) -> Result<rehabit::library::Installed, String> {
    use diesel_async::AsyncConnection;
    let mut conn = diesel_async::AsyncPgConnection::establish(url)
        .await
        .map_err(|e| format!("cannot connect to install the built-in library: {e}"))?;
    rehabit::library::install(&mut conn)
        .await
        .map_err(|e| format!("installing the built-in library failed: {e}"))
}

/// Periodic clean-up of expired rows (idempotency keys); harmless when several instances run it.
fn spawn_housekeeping(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let Ok(mut conn) = state.pool.get().await else { continue };
            match rehabit::housekeeping::run_once(&mut conn).await {
                Ok(p) => tracing::info!(
                    idempotency_keys = p.idempotency_keys,
                    deliveries = p.deliveries,
                    throttle_windows = p.throttle_windows,
                    "housekeeping purged"
                ),
                Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
            }
        }
    });
}
