//! Request budgets of API keys: a fixed one-minute window per key, kept in this instance's
//! memory. With N instances behind a load balancer a key may make up to N times the limit; the
//! docs say so. People signing in are not limited here (sign-in itself is throttled in
//! PostgreSQL).

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Above this many tracked keys, windows that have ended are dropped.
const PRUNE_ABOVE: usize = 10_000;

pub struct RateLimiter {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<Uuid, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    used: u32,
}

/// The outcome of counting one request, and what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests allowed per window.
    pub limit: u32,
    /// Requests left in the current window.
    pub remaining: u32,
    /// Seconds until the window ends (at least 1).
    pub reset_secs: u64,
}

impl RateLimiter {
    pub fn per_minute(limit: u32) -> Self {
        Self::new(limit, Duration::from_secs(60))
    }

    pub fn new(limit: u32, window: Duration) -> Self {
        RateLimiter {
            limit,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `key` now.
    pub fn check(&self, key: Uuid) -> Decision {
        self.check_at(key, Instant::now())
    }

    /// Counts one request of `key` at `now` (for tests).
    pub fn check_at(&self, key: Uuid, now: Instant) -> Decision {
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > PRUNE_ABOVE {
            let window = self.window;
            windows.retain(|_, w| now.duration_since(w.started) < window);
        }
        let w = windows.entry(key).or_insert(Window { started: now, used: 0 });
        if now.duration_since(w.started) >= self.window {
            *w = Window { started: now, used: 0 };
        }
        let allowed = w.used < self.limit;
        if allowed {
            w.used += 1;
        }
        let left = self.window.saturating_sub(now.duration_since(w.started));
        Decision {
            allowed,
            limit: self.limit,
            remaining: self.limit - w.used,
            reset_secs: (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1),
        }
    }
}

impl Decision {
    /// The IETF `RateLimit-*` fields (draft-ietf-httpapi-ratelimit-headers).
    pub fn headers(&self) -> [(HeaderName, String); 3] {
        [
            (HeaderName::from_static("ratelimit-limit"), self.limit.to_string()),
            (
                HeaderName::from_static("ratelimit-remaining"),
                self.remaining.to_string(),
            ),
            (HeaderName::from_static("ratelimit-reset"), self.reset_secs.to_string()),
        ]
    }
}

/// Adds the `RateLimit-*` fields to every answer to an API key (the decision is left in the
/// request's extensions by authentication).
pub async fn headers_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let decision = res.request().extensions().get::<Decision>().copied();
    if let Some(d) = decision {
        for (name, value) in d.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                res.headers_mut().insert(name, value);
            }
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_the_limit_then_refuses_until_it_ends() {
        let rl = RateLimiter::new(3, Duration::from_secs(60));
        let key = Uuid::now_v7();
        let t0 = Instant::now();
        let seen: Vec<(bool, u32)> = (0..4)
            .map(|_| rl.check_at(key, t0))
            .map(|d| (d.allowed, d.remaining))
            .collect();
        assert_eq!(seen, vec![(true, 2), (true, 1), (true, 0), (false, 0)]);
        let later = rl.check_at(key, t0 + Duration::from_secs(45));
        assert!(!later.allowed);
        assert_eq!(later.reset_secs, 15);
        let next = rl.check_at(key, t0 + Duration::from_secs(60));
        assert!(next.allowed);
        assert_eq!((next.remaining, next.reset_secs), (2, 60));
    }

    #[test]
    fn keys_have_budgets_of_their_own() {
        let rl = RateLimiter::new(1, Duration::from_secs(60));
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(rl.check(a).allowed);
        assert!(!rl.check(a).allowed);
        assert!(rl.check(b).allowed);
    }
}
