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

/// The path a log line may show: a calendar feed's token is a credential, so its path is logged
/// as its route, without the token or a query.
pub fn loggable_target(path_and_query: &str) -> std::borrow::Cow<'_, str> {
    if path_and_query.starts_with("/v1/calendar/") {
        std::borrow::Cow::Borrowed("/v1/calendar/{token}.ics")
    } else {
        std::borrow::Cow::Borrowed(path_and_query)
    }
}

/// The request's root span: tracing-actix-web's fields, with `http.target` through
/// [`loggable_target`] so no secret in a URL reaches a log.
pub struct RootSpan;

impl tracing_actix_web::RootSpanBuilder for RootSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use tracing::field::Empty;
        let target = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("");
        let route = request.match_pattern().unwrap_or_else(|| "default".to_string());
        use actix_web::HttpMessage;
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let user_agent = request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let client_ip = request.connection_info().realip_remote_addr().unwrap_or("").to_string();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.client_ip = %client_ip,
            http.user_agent = %user_agent,
            http.target = %loggable_target(target),
            http.status_code = Empty,
            otel.kind = "server",
            otel.status_code = Empty,
            request_id = %request_id,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
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

    #[test]
    fn calendar_tokens_never_reach_the_log() {
        assert_eq!(
            loggable_target("/v1/calendar/s3cr3t-token.ics?x=1"),
            "/v1/calendar/{token}.ics"
        );
        assert_eq!(loggable_target("/v1/clients?limit=5"), "/v1/clients?limit=5");
    }
}
