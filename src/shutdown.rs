//! A graceful stop, and the hook background work uses to take part in it.
//!
//! On SIGTERM or Ctrl-C (SIGINT) the service goes through three phases:
//! 1. [`Phase::Draining`] for `SHUTDOWN_DRAIN_SECS`: `/readyz` answers 503 so load balancers
//!    send no new traffic, requests are still served (with `Connection: close`, so clients
//!    reconnect elsewhere), and work that takes new jobs (the webhook worker) stops taking them.
//! 2. The HTTP server stops accepting and answers the requests it already has.
//! 3. [`Phase::Stopped`]: no request is left; work that records what requests did (a batcher
//!    that must flush) finishes, and the process exits once every registered task has ended
//!    (or the wait for them ran out).
//!
//! A second signal stops at once.
//!
//! Background work registers with [`Shutdown::spawn`] and watches the phases it cares about:
//!
//! ```no_run
//! # async fn flush() {}
//! # fn example(shutdown: rehabit::shutdown::Shutdown) {
//! let watch = shutdown.clone();
//! shutdown.spawn("audit batcher", async move {
//!     // ... batch until no request is left, then flush once more and end.
//!     watch.reached(rehabit::shutdown::Phase::Stopped).await;
//!     flush().await;
//! });
//! # }
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where a stop has got to; phases only move forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Running,
    /// A stop signal came: not ready, still serving, taking no new background jobs.
    Draining,
    /// The HTTP server has answered its last request.
    Stopped,
}

/// The process's stop: cheap to clone, shared by the server, `/readyz` and background tasks.
#[derive(Clone)]
pub struct Shutdown {
    phase: Arc<watch::Sender<Phase>>,
    tasks: Arc<Mutex<Tasks>>,
}

/// Registered background tasks, by name.
type Tasks = Vec<(&'static str, JoinHandle<()>)>;

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Shutdown {
            phase: Arc::new(watch::Sender::new(Phase::Running)),
            tasks: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Whether a stop has begun (`/readyz` then answers 503).
    pub fn is_stopping(&self) -> bool {
        self.phase() > Phase::Running
    }

    /// Moves to `phase` (never back).
    pub fn advance(&self, phase: Phase) {
        self.phase.send_if_modified(|current| {
            let later = phase > *current;
            if later {
                *current = phase;
            }
            later
        });
    }

    /// Resolves once the stop has reached `phase` (at once if it has).
    pub async fn reached(&self, phase: Phase) {
        let mut rx = self.phase.subscribe();
        // The sender lives as long as `self`, so the wait cannot fail.
        let _ = rx.wait_for(|p| *p >= phase).await;
    }

    /// Runs `task` on the runtime; the process's exit waits for it (see [`Shutdown::join`]).
    /// The task watches the phases itself ([`Shutdown::reached`]) and ends when its work is done.
    pub fn spawn<F>(&self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task);
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name, handle));
    }

    /// Waits for every registered task, for at most `limit` in all; those still running then
    /// are aborted, named in the log.
    pub async fn join(&self, limit: Duration) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let deadline = tokio::time::Instant::now() + limit;
        for (name, mut handle) in tasks {
            match tokio::time::timeout_at(deadline, &mut handle).await {
                Ok(Ok(())) => tracing::debug!(task = name, "background task ended"),
                Ok(Err(e)) => tracing::error!(task = name, error = %e, "background task failed"),
                Err(_) => {
                    handle.abort();
                    tracing::warn!(task = name, "background task still running at exit: aborted");
                }
            }
        }
    }
}

/// Resolves at SIGTERM or SIGINT, naming which.
pub async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                tracing::error!("could not listen for SIGTERM/SIGINT; the service stops only when killed");
                std::future::pending().await
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phases_move_forward_and_tasks_are_awaited() {
        let shutdown = Shutdown::new();
        assert!(!shutdown.is_stopping());
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (watch, flag) = (shutdown.clone(), done.clone());
        shutdown.spawn("flusher", async move {
            watch.reached(Phase::Stopped).await;
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        shutdown.advance(Phase::Draining);
        assert!(shutdown.is_stopping());
        shutdown.advance(Phase::Running);
        assert_eq!(shutdown.phase(), Phase::Draining, "never back");
        shutdown.advance(Phase::Stopped);
        shutdown.join(Duration::from_secs(5)).await;
        assert!(done.load(std::sync::atomic::Ordering::SeqCst));
    }
}
