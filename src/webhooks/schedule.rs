//! When a failed delivery is tried again: exponential backoff from 30 seconds, doubling up to
//! 6 hours between attempts, for at least three days after the delivery was created; the first
//! failure after that marks the delivery failed (about 20 attempts in all).

use chrono::{DateTime, Duration, Utc};

/// How long a delivery is retried.
pub const RETRY_WINDOW: Duration = Duration::days(3);
const FIRST_DELAY_SECS: i64 = 30;
const MAX_DELAY_SECS: i64 = 6 * 3600;

/// The wait after the `failures`-th failed attempt (1-based).
pub fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    Duration::seconds((FIRST_DELAY_SECS << doublings).min(MAX_DELAY_SECS))
}

/// When to try again after a delivery created at `created_at` failed for the `failures`-th
/// time at `now`; `None` once it has been retried for the whole window.
pub fn next_attempt(failures: u32, created_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (now - created_at < RETRY_WINDOW).then(|| now + retry_delay(failures))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_thirty_seconds_up_to_six_hours() {
        let delays: Vec<i64> = (1..=12).map(|n| retry_delay(n).num_seconds()).collect();
        assert_eq!(
            delays,
            vec![30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600]
        );
        assert_eq!(retry_delay(1000).num_seconds(), 21600);
    }

    #[test]
    fn a_failing_delivery_is_retried_for_at_least_three_days() {
        let created = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let mut now = created;
        let mut attempts = vec![now];
        let mut failures = 0;
        while let Some(next) = next_attempt(failures + 1, created, now) {
            failures += 1;
            now = next;
            attempts.push(now);
        }
        let last = *attempts.last().expect("attempts");
        assert!(last - created >= RETRY_WINDOW, "retried for {:?}", last - created);
        assert!(last - created < RETRY_WINDOW + Duration::hours(6));
        assert_eq!(attempts.len(), 22);
        assert!(attempts.windows(2).all(|w| w[1] > w[0]));
    }
}
