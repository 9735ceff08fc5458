//! `rehabit [serve|migrate|openapi|demo|user|audit]`: serve the API (default), run migrations,
//! print the OpenAPI document, fill a new demo clinic with plausible data (`rehabit demo --help`),
//! reset a login's password as the operator (`rehabit user reset-password EMAIL`), or check the
//! audit trail's hash chains (`rehabit audit verify`). The arguments are read by `rehabit::cli`.

use clap::Parser;
use rehabit::cli::{AuditCommand, Cli, Command, UserCommand};
use rehabit::config::{Config, redact_url};
use rehabit::shutdown::{Phase, Shutdown};
use rehabit::{db, ops, state::AppState, telemetry};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().into_command() {
        Command::Openapi => match serde_json::to_string_pretty(&rehabit::openapi_document()) {
            Ok(doc) => {
                println!("{doc}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("could not render the OpenAPI document: {e}")),
        },
        command @ (Command::Migrate | Command::Serve) => match run(command == Command::Serve).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => fail(&message),
        },
        Command::Demo(args) => demo(args.options()).await,
        Command::User {
            command: UserCommand::ResetPassword { email, password_stdin },
        } => user(email, password_stdin).await,
        Command::Audit {
            command: AuditCommand::Verify { clinic, heads },
        } => audit(clinic, heads).await,
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

/// `rehabit demo`: a new demo clinic in the database at DATABASE_URL.
async fn demo(options: rehabit::demo::Options) -> ExitCode {
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
async fn user(email: String, from_stdin: bool) -> ExitCode {
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
    // Reminder events: every instance may run the scheduler; each event is emitted once.
    rehabit::reminders::spawn(db::pool_with(&url, db::PoolSettings::from_config(&state.config, 1))?);
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
async fn audit(clinic: Option<uuid::Uuid>, heads: Vec<rehabit::audit::chain::Head>) -> ExitCode {
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
