//! Configuration, read once from the environment at start-up.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/rehabit` | PostgreSQL to use; the database is created if missing |
//! | `DATABASE_POOL_SIZE` | `10` | connections in the pool |
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
//! | `AUDIT_RETENTION_DAYS` | `2190` | how long audit events are kept (six years), 1–36500 days; older ones are purged, leaving a checkpoint |

use std::fmt;

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
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/rehabit";

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
            None => (Secret(crate::auth::random_token(48)), true),
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
        let audit_retention_days = parse_number(&get, "AUDIT_RETENTION_DAYS", 2190, 1..=36_500)?;
        Ok(Config {
            database_url: Secret(get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string())),
            database_pool_size,
            bind_addr: get("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_string()),
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
