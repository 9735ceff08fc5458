//! Tracing set-up: human-readable logs in development, JSON lines when `LOG_FORMAT=json`.
//! Colours only when the logs go to a terminal: a file, a pipe or a log collector gets plain
//! text, without escape codes.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Logs to standard output (the service).
pub fn init(format: LogFormat) {
    init_with(format, std::io::stdout, std::io::stdout().is_terminal());
}

/// Logs to standard error, for commands whose standard output is their result
/// (`rehabit demo --json`).
pub fn init_stderr(format: LogFormat) {
    init_with(format, std::io::stderr, std::io::stderr().is_terminal());
}

/// Whether log lines carry colours (ANSI escape codes): only human-readable ones, to a terminal.
pub fn colours(format: LogFormat, terminal: bool) -> bool {
    format == LogFormat::Pretty && terminal
}

fn init_with<W>(format: LogFormat, writer: W, terminal: bool)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(colours(format, terminal));
    // `try_init` so a second call (tests) is harmless.
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_for_people_at_a_terminal() {
        assert!(colours(LogFormat::Pretty, true));
        assert!(!colours(LogFormat::Pretty, false));
        assert!(!colours(LogFormat::Json, true));
        assert!(!colours(LogFormat::Json, false));
    }
}
