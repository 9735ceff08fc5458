//! Tracing set-up: human-readable logs in development, JSON lines when `LOG_FORMAT=json`.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Logs to standard output (the service).
pub fn init(format: LogFormat) {
    init_with(format, std::io::stdout);
}

/// Logs to standard error, for commands whose standard output is their result
/// (`rehabit demo --json`).
pub fn init_stderr(format: LogFormat) {
    init_with(format, std::io::stderr);
}

fn init_with<W>(format: LogFormat, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    // `try_init` so a second call (tests) is harmless.
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
}
