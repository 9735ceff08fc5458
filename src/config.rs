//! Configuration, read once from the environment at start-up.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/rehabit` | PostgreSQL to use; the database is created if missing |
//! | `DATABASE_POOL_SIZE` | `10` | connections in the pool |
//! | `DATABASE_AUTH_POOL_SIZE` | `2` | connections kept apart for authentication and `/readyz`, so they never wait behind requests' work |
//! | `DATABASE_POOL_WAIT_MS` | `5000` | how long a request waits for a free connection before answering 503 |
//! | `DATABASE_STATEMENT_TIMEOUT_MS` | `5000` | longest a statement may run (PostgreSQL `statement_timeout`); past it the request answers 503 |
//! | `DATABASE_LOCK_TIMEOUT_MS` | `2000` | longest a statement may wait for a lock (`lock_timeout`); past it the request answers 503 |
//! | `DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS` | `15000` | PostgreSQL ends a session idle inside a transaction this long (`idle_in_transaction_session_timeout`) |
//! | `REQUEST_TIMEOUT_SECS` | `15` | longest a request may take until its answer starts; past it the answer is 503 with `Retry-After` (a streamed body is not cut) |
//! | `BODY_READ_TIMEOUT_SECS` | `10` | longest a client may take to send a request body, counted from its headers; past it the answer is 408 |
//! | `SHUTDOWN_DRAIN_SECS` | `5` | on SIGTERM or Ctrl-C, how long `/readyz` answers 503 while requests are still served, before the server stops |
//! | `BIND_ADDR` | `127.0.0.1:8080` | address the HTTP server listens on |
//! | `REHABIT_ENV` | `development` | `development` or `production` |
//! | `JWT_SECRET` | random in development | HS256 key for access tokens (≥ 32 bytes); required in production |
//! | `SIGNUP_ENABLED` | `true` | whether `POST /v1/clinics` accepts sign-ups |
//! | `RUST_LOG` | `info` | log filter (tracing `EnvFilter` syntax) |
//! | `LOG_FORMAT` | `pretty` | `pretty` or `json` |
//! | `API_KEY_RATE_LIMIT` | `600` | requests per minute each API key may make, counted per instance |
//! | `WEBHOOK_BLOCK_PRIVATE_NETWORKS` | `false` | refuse webhook targets on private or loopback addresses (at registration and after DNS resolution at delivery) |
//! | `WEBHOOK_WORKER` | `true` | run the webhook delivery worker in this instance (any number may) |
//! | `WEBHOOK_POLL_MS` | `500` | how often the worker looks for due deliveries, in milliseconds (50–1000) |
//! | `PUBLIC_BASE_URL` | `http://` + `BIND_ADDR` | the service's address as callers reach it (scheme, host, port, no path): calendar feed URLs are built from it, never from a request's `Host` |
//! | `AUDIT_RETENTION_DAYS` | `2190` | how long audit events are kept (six years), 1–36500 days; older ones are purged, leaving a checkpoint |

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

/// A value that must never be printed (passwords, keys).
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Secret,
    pub database_pool_size: usize,
    /// Connections kept apart for authentication and readiness checks.
    pub database_auth_pool_size: usize,
    /// How long a request waits for a pooled connection.
    pub database_pool_wait: Duration,
    /// PostgreSQL's `statement_timeout` on every pooled connection.
    pub database_statement_timeout: Duration,
    /// PostgreSQL's `lock_timeout` on every pooled connection.
    pub database_lock_timeout: Duration,
    /// PostgreSQL's `idle_in_transaction_session_timeout` on every pooled connection.
    pub database_idle_in_transaction_timeout: Duration,
    /// Longest time until a request's answer starts.
    pub request_timeout: Duration,
    /// Longest time to receive a request's body, from its headers.
    pub body_read_timeout: Duration,
    /// How long a stopping service keeps serving while `/readyz` says it is stopping.
    pub shutdown_drain: Duration,
    pub bind_addr: String,
    pub env: Environment,
    pub jwt_secret: Secret,
    /// True when the secret was generated at start-up (tokens die with the process).
    pub jwt_secret_generated: bool,
    pub signup_enabled: bool,
    pub log_format: LogFormat,
    /// Requests per minute per API key, counted in each instance's memory.
    pub api_key_rate_limit: u32,
    /// Refuse webhook targets on private and loopback addresses.
    pub webhook_block_private_networks: bool,
    /// Run the delivery worker in this instance.
    pub webhook_worker: bool,
    /// How often the delivery worker looks for due deliveries.
    pub webhook_poll_ms: u64,
    /// How long audit events are kept, in days.
    pub audit_retention_days: i64,
    /// Where callers reach the service (`PUBLIC_BASE_URL`), without a trailing slash.
    pub public_base_url: String,
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/rehabit";
/// Defaults of the database's bounded waits; pools built without a `Config` (the webhook
/// worker's in tests) use them too.
pub const DEFAULT_POOL_WAIT_MS: u64 = 5_000;
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_LOCK_TIMEOUT_MS: u64 = 2_000;
pub const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS: u64 = 15_000;

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get`, so tests can supply their own environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let env = match get("REHABIT_ENV").as_deref().map(str::trim) {
            None | Some("") | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(format!(
                    "REHABIT_ENV must be `development` or `production`, not `{other}`"
                ));
            }
        };
        let (jwt_secret, jwt_secret_generated) = match get("JWT_SECRET").filter(|s| !s.is_empty()) {
            Some(s) if s.len() < 32 => return Err("JWT_SECRET must be at least 32 bytes long".into()),
            Some(s) => (Secret(s), false),
            None if env == Environment::Production => {
                return Err("JWT_SECRET is required when REHABIT_ENV=production".into());
            }
            None => (Secret(crate::secrets::random_token(48)), true),
        };
        let database_pool_size = match get("DATABASE_POOL_SIZE") {
            None => 10,
            Some(s) => s
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| format!("DATABASE_POOL_SIZE must be a number from 1 to 1000, not `{s}`"))?,
        };
        let signup_enabled = parse_bool(&get, "SIGNUP_ENABLED", true)?;
        let webhook_block_private_networks = parse_bool(&get, "WEBHOOK_BLOCK_PRIVATE_NETWORKS", false)?;
        let webhook_worker = parse_bool(&get, "WEBHOOK_WORKER", true)?;
        let webhook_poll_ms = parse_number(&get, "WEBHOOK_POLL_MS", 500, 50..=1000)?;
        let log_format = match get("LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("") | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(format!("LOG_FORMAT must be `pretty` or `json`, not `{other}`")),
        };
        let api_key_rate_limit = parse_number(&get, "API_KEY_RATE_LIMIT", 600, 1..=1_000_000)?;
        let millis = |name: &str, default: u64, range: RangeInclusive<u64>| {
            parse_number(&get, name, default, range).map(Duration::from_millis)
        };
        let secs = |name: &str, default: u64, range: RangeInclusive<u64>| {
            parse_number(&get, name, default, range).map(Duration::from_secs)
        };
        let database_auth_pool_size = parse_number(&get, "DATABASE_AUTH_POOL_SIZE", 2, 1..=100)?;
        let database_pool_wait = millis("DATABASE_POOL_WAIT_MS", DEFAULT_POOL_WAIT_MS, 10..=600_000)?;
        let database_statement_timeout = millis(
            "DATABASE_STATEMENT_TIMEOUT_MS",
            DEFAULT_STATEMENT_TIMEOUT_MS,
            10..=3_600_000,
        )?;
        let database_lock_timeout = millis("DATABASE_LOCK_TIMEOUT_MS", DEFAULT_LOCK_TIMEOUT_MS, 10..=3_600_000)?;
        let database_idle_in_transaction_timeout = millis(
            "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS",
            DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
            100..=3_600_000,
        )?;
        let request_timeout = secs("REQUEST_TIMEOUT_SECS", 15, 1..=3600)?;
        let body_read_timeout = secs("BODY_READ_TIMEOUT_SECS", 10, 1..=3600)?;
        let shutdown_drain = secs("SHUTDOWN_DRAIN_SECS", 5, 0..=600)?;
        let audit_retention_days = parse_number(&get, "AUDIT_RETENTION_DAYS", 2190, 1..=36_500)?;
        let bind_addr = get("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let public_base_url = match get("PUBLIC_BASE_URL").map(|s| s.trim().trim_end_matches('/').to_string()) {
            None => format!("http://{bind_addr}"),
            Some(url) if url.is_empty() => format!("http://{bind_addr}"),
            Some(url) => {
                let parsed = url::Url::parse(&url)
                    .map_err(|_| format!("PUBLIC_BASE_URL must be an absolute URL, not `{url}`"))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() || parsed.query().is_some() {
                    return Err(format!(
                        "PUBLIC_BASE_URL must be an http(s) URL with a host and no query, not `{url}`"
                    ));
                }
                url
            }
        };
        Ok(Config {
            database_url: Secret(get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string())),
            database_pool_size,
            database_auth_pool_size,
            database_pool_wait,
            database_statement_timeout,
            database_lock_timeout,
            database_idle_in_transaction_timeout,
            request_timeout,
            body_read_timeout,
            shutdown_drain,
            bind_addr,
            env,
            jwt_secret,
            jwt_secret_generated,
            signup_enabled,
            log_format,
            api_key_rate_limit,
            webhook_block_private_networks,
            webhook_worker,
            webhook_poll_ms,
            audit_retention_days,
            public_base_url,
        })
    }
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), or `default` when unset or empty.
fn parse_bool(get: &impl Fn(&str) -> Option<String>, name: &str, default: bool) -> Result<bool, String> {
    match get(name).as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(format!("{name} must be true or false, not `{other}`")),
    }
}

/// A whole number in `range`, or `default` when the variable is unset or empty.
fn parse_number<T>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match get(name).as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => s.parse::<T>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
            format!(
                "{name} must be a number from {} to {}, not `{s}`",
                range.start(),
                range.end()
            )
        }),
    }
}

/// The URL with any password replaced by `***`, safe to print.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{}{}{}", &url[..scheme_end + 3], masked, &rest[at..])
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn production_requires_a_jwt_secret() {
        assert!(cfg(&[("REHABIT_ENV", "production")]).is_err());
        let c = cfg(&[("REHABIT_ENV", "production"), ("JWT_SECRET", &"x".repeat(32))]).expect("valid");
        assert!(!c.jwt_secret_generated);
    }

    #[test]
    fn development_generates_a_secret_and_has_defaults() {
        let c = cfg(&[]).expect("valid");
        assert!(c.jwt_secret_generated);
        assert_eq!(c.bind_addr, "127.0.0.1:8080");
        assert_eq!(c.database_url.expose(), DEFAULT_DATABASE_URL);
        assert!(c.signup_enabled);
        assert!(cfg(&[("SIGNUP_ENABLED", "false")]).is_ok_and(|c| !c.signup_enabled));
        assert!(cfg(&[("DATABASE_POOL_SIZE", "zero")]).is_err());
        assert_eq!(c.api_key_rate_limit, 600);
        assert!(!c.webhook_block_private_networks && c.webhook_worker);
        assert_eq!(c.webhook_poll_ms, 500);
        assert_eq!(c.audit_retention_days, 2190);
        assert!(cfg(&[("AUDIT_RETENTION_DAYS", "0")]).is_err());
        assert!(cfg(&[("WEBHOOK_BLOCK_PRIVATE_NETWORKS", "true")]).is_ok_and(|c| c.webhook_block_private_networks));
        assert!(cfg(&[("WEBHOOK_BLOCK_PRIVATE_NETWORKS", "maybe")]).is_err());
        assert!(cfg(&[("WEBHOOK_POLL_MS", "5000")]).is_err());
        assert!(cfg(&[("API_KEY_RATE_LIMIT", "0")]).is_err());
        assert!(cfg(&[("API_KEY_RATE_LIMIT", "5")]).is_ok_and(|c| c.api_key_rate_limit == 5));
    }

    #[test]
    fn waits_are_bounded_by_default_and_settable() {
        let c = cfg(&[]).expect("valid");
        assert_eq!(c.database_statement_timeout, Duration::from_secs(5));
        assert_eq!(c.database_lock_timeout, Duration::from_secs(2));
        assert_eq!(c.database_idle_in_transaction_timeout, Duration::from_secs(15));
        assert_eq!(c.database_pool_wait, Duration::from_secs(5));
        assert_eq!(c.database_auth_pool_size, 2);
        assert_eq!(c.request_timeout, Duration::from_secs(15));
        assert_eq!(c.body_read_timeout, Duration::from_secs(10));
        assert_eq!(c.shutdown_drain, Duration::from_secs(5));
        let c = cfg(&[("DATABASE_LOCK_TIMEOUT_MS", "250"), ("SHUTDOWN_DRAIN_SECS", "0")]).expect("valid");
        assert_eq!(c.database_lock_timeout, Duration::from_millis(250));
        assert_eq!(c.shutdown_drain, Duration::ZERO);
        assert!(
            cfg(&[("DATABASE_STATEMENT_TIMEOUT_MS", "0")]).is_err(),
            "a wait without end is not offered"
        );
        assert!(cfg(&[("REQUEST_TIMEOUT_SECS", "soon")]).is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let c = cfg(&[
            ("JWT_SECRET", &"s".repeat(40)),
            ("DATABASE_URL", "postgres://u:hunter2@h/db"),
        ])
        .expect("ok");
        let printed = format!("{c:?}");
        assert!(!printed.contains("hunter2") && !printed.contains(&"s".repeat(40)));
    }

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(redact_url("postgres://u:pw@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    }
}
