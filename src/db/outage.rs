//! How the database's availability shows in the log and the metrics: one line when requests
//! start getting 503s because the database cannot be reached and one when it answers again,
//! plus counters (`/metrics`), rather than a line for every request an outage turns away.
//!
//! The state is the process's: one process serves one database.

use diesel::result::{DatabaseErrorKind, Error};
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why the database could not serve a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// It cannot be reached: refused, restarting, shutting down, or the session was ended.
    Unreachable,
    /// It is there but did not serve in time: a statement or lock wait ran out, a deadlock, or
    /// no pooled connection was free.
    Busy,
}

impl Trouble {
    /// Seconds a client is asked to wait (`Retry-After`) before retrying.
    pub fn retry_after_secs(self) -> u64 {
        match self {
            Trouble::Unreachable => 5,
            Trouble::Busy => 2,
        }
    }
}

static DOWN: AtomicBool = AtomicBool::new(false);
/// When the current outage began, and the unreachable count then.
static DOWN_SINCE: Mutex<Option<(Instant, u64)>> = Mutex::new(None);
static UNREACHABLE_ANSWERS: AtomicU64 = AtomicU64::new(0);
static BUSY_ANSWERS: AtomicU64 = AtomicU64::new(0);
static OUTAGES: AtomicU64 = AtomicU64::new(0);
/// When "busy" was last logged, and the busy count then.
static BUSY_LOGGED: Mutex<Option<(Instant, u64)>> = Mutex::new(None);
/// When requests last found the database unreachable.
static LAST_UNREACHABLE: Mutex<Option<Instant>> = Mutex::new(None);
/// The database counts as back once it has served requests for this long without a request
/// finding it unreachable: while a server shuts down, a connection can still answer for a
/// moment, and that is not a recovery.
const BACK_AFTER: Duration = Duration::from_secs(1);
/// "Busy" has no end to detect (other requests succeed meanwhile), so it is logged at most this
/// often, with the number of answers since the previous line.
const BUSY_LOG_EVERY: Duration = Duration::from_secs(10);

/// Counts for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// 503 answers because the database could not be reached.
    pub unreachable_answers: u64,
    /// 503 answers because the database was too busy.
    pub busy_answers: u64,
    /// Outages begun (the database went from reachable to unreachable).
    pub outages: u64,
    /// Whether the database is unreachable now, as far as requests know.
    pub down: bool,
}

pub fn counts() -> Counts {
    Counts {
        unreachable_answers: UNREACHABLE_ANSWERS.load(Ordering::Relaxed),
        busy_answers: BUSY_ANSWERS.load(Ordering::Relaxed),
        outages: OUTAGES.load(Ordering::Relaxed),
        down: DOWN.load(Ordering::Relaxed),
    }
}

/// Records a 503 answered because of `trouble`; logs only when the state changes (or, for a
/// busy database, at most every ten seconds).
pub fn report(trouble: Trouble, cause: &dyn fmt::Display) {
    match trouble {
        Trouble::Unreachable => {
            let count = UNREACHABLE_ANSWERS.fetch_add(1, Ordering::Relaxed) + 1;
            *LAST_UNREACHABLE.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            if DOWN
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                OUTAGES.fetch_add(1, Ordering::Relaxed);
                *DOWN_SINCE.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), count - 1));
                tracing::error!(cause = %cause, "database unreachable: answering 503 until it is back");
            }
        }
        Trouble::Busy => {
            let count = BUSY_ANSWERS.fetch_add(1, Ordering::Relaxed) + 1;
            let mut logged = BUSY_LOGGED.lock().unwrap_or_else(|p| p.into_inner());
            if logged.is_none_or(|(at, _)| at.elapsed() >= BUSY_LOG_EVERY) {
                let since = count - logged.map_or(count - 1, |(_, then)| then);
                tracing::warn!(
                    cause = %cause,
                    answers = since,
                    "database busy: answering 503 (a statement or lock wait ran out, or no connection was free)"
                );
                *logged = Some((Instant::now(), count));
            }
        }
    }
}

/// Records that the database served a request; ends an outage if one was on and no request
/// has found the database unreachable for a second.
pub fn reachable() {
    if !DOWN.load(Ordering::Relaxed) {
        return;
    }
    let last = *LAST_UNREACHABLE.lock().unwrap_or_else(|p| p.into_inner());
    if last.is_some_and(|at| at.elapsed() < BACK_AFTER) {
        return;
    }
    if DOWN
        .compare_exchange(true, false, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
    {
        let began = DOWN_SINCE.lock().unwrap_or_else(|p| p.into_inner()).take();
        let (secs, answers) = began.map_or((0.0, 0), |(at, then)| {
            (
                at.elapsed().as_secs_f64(),
                UNREACHABLE_ANSWERS.load(Ordering::Relaxed).saturating_sub(then),
            )
        });
        tracing::warn!(
            outage_secs = format!("{secs:.1}"),
            answers_503 = answers,
            "database reachable again"
        );
    }
}

/// Whether a query's error means the database was unavailable (rather than the query being
/// wrong), and how.
///
/// diesel-async hands PostgreSQL's errors over without their SQLSTATE, so the kinds it does not
/// name are told apart by PostgreSQL's (English) messages; with `lc_messages` set to another
/// language these answer 500 instead of 503.
pub fn classify(e: &Error) -> Option<Trouble> {
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _) => {
            Some(Trouble::Unreachable)
        }
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => classify_message(info.message()),
        Error::BrokenTransactionManager => Some(Trouble::Unreachable),
        _ => None,
    }
}

fn classify_message(message: &str) -> Option<Trouble> {
    // 57P01 admin shutdown, 57P02 crash shutdown, 25P03 idle-in-transaction timeout, 40001-like
    // recovery conflicts: all "terminating connection ..."; 57P03 "the database system is
    // starting up / shutting down / in recovery mode".
    const UNREACHABLE: [&str; 4] = [
        "terminating connection",
        "the database system is",
        "server closed the connection",
        "connection closed",
    ];
    // 57014 statement timeout (and a cancel by an operator), 55P03 lock timeout or NOWAIT,
    // 40P01 deadlock.
    const BUSY: [&str; 4] = [
        "canceling statement due to",
        "could not obtain lock",
        "lock timeout",
        "deadlock detected",
    ];
    if UNREACHABLE.iter().any(|m| message.contains(m)) {
        Some(Trouble::Unreachable)
    } else if BUSY.iter().any(|m| message.contains(m)) {
        Some(Trouble::Busy)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_outages_from_mistakes() {
        assert_eq!(
            classify_message("terminating connection due to administrator command"),
            Some(Trouble::Unreachable)
        );
        assert_eq!(
            classify_message("the database system is shutting down"),
            Some(Trouble::Unreachable)
        );
        assert_eq!(
            classify_message("canceling statement due to lock timeout"),
            Some(Trouble::Busy)
        );
        assert_eq!(
            classify_message("canceling statement due to statement timeout"),
            Some(Trouble::Busy)
        );
        assert_eq!(classify_message("deadlock detected"), Some(Trouble::Busy));
        assert_eq!(classify_message("column \"x\" does not exist"), None);
        assert_eq!(classify(&Error::NotFound), None);
    }
}
