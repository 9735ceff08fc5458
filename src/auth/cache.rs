//! Callers without a round trip: an in-process cache of who a credential is (an access token's
//! membership, an API key's identity), so a request's authentication needs no connection of
//! its own once its credential has been seen.
//!
//! DESIGN.md's "ending access ends sign-ins" holds because the cache only ever holds what grants
//! access, and forgets everything whenever access may have been taken away:
//!
//! - Database triggers (migration `auth_notify`) `NOTIFY rehabit_auth` when a membership, a
//!   sign-in (token family) or an API key changes or goes, whichever instance or tool made the
//!   change; every instance listens on a dedicated connection and empties its cache on each
//!   notification (other instances refuse within the notification's delivery, milliseconds).
//! - The cache is used only while that connection is listening. When it drops, the cache is
//!   emptied and bypassed (each request asks the database, as before) until a new connection
//!   listens again; notifications missed in between cannot leave anything stale behind.
//! - The instance making a change empties its own cache as soon as the code ending access runs
//!   ([`access_changed`]) and again once its request has committed ([`middleware`]), so that
//!   instance refuses the very next request, without waiting for its own notification.
//! - A lookup that started before an emptying does not store its (possibly stale) answer: each
//!   emptying moves a generation on, and an answer is kept only if the generation is unchanged.
//! - Entries live at most [`MAX_AGE`] and an API key's end date is checked on every use.

use crate::auth::Role;
use crate::auth::keys::KeyIdentity;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use chrono::Utc;
use futures_util::StreamExt;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The channel the triggers notify.
pub const CHANNEL: &str = "rehabit_auth";
/// The longest an entry is trusted, notifications or not.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// Beyond this many entries the cache starts over (bounded memory).
const MAX_ENTRIES: usize = 10_000;
/// How long the listener waits before connecting again after its connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// What a credential was found to be.
#[derive(Debug, Clone)]
pub enum Known {
    /// An access token's active membership: `(membership_id, role, client_id)`.
    Member(Uuid, Role, Option<Uuid>),
    /// A live API key.
    Key(KeyIdentity),
}

struct Entry {
    known: Known,
    at: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    generation: u64,
}

/// One instance's cache of callers (see the module's documentation).
pub struct AuthCache {
    inner: Mutex<Inner>,
    /// Whether the listener's connection is listening (the cache may be used).
    listening: AtomicBool,
    started: AtomicBool,
    /// Set by [`AuthCache::stop`]: the listener does not connect again.
    stopped: AtomicBool,
    database_url: String,
}

/// The cache key of an access token's sign-in.
pub fn token_key(user_id: Uuid, clinic_id: Uuid, family_id: Uuid) -> String {
    format!("t:{user_id}:{clinic_id}:{family_id}")
}

/// The cache key of an API key: its hash, never the key itself.
pub fn api_key_key(key_hash: &[u8]) -> String {
    format!("k:{}", hex::encode(key_hash))
}

impl AuthCache {
    pub fn new(database_url: &str) -> Self {
        AuthCache {
            inner: Mutex::new(Inner::default()),
            listening: AtomicBool::new(false),
            started: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            database_url: database_url.to_string(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached answer for `key`, if the cache may be used and has a fresh one.
    pub fn get(&self, key: &str) -> Option<Known> {
        if !self.listening.load(Ordering::SeqCst) {
            return None;
        }
        let inner = self.lock();
        let entry = inner.entries.get(key)?;
        if entry.at.elapsed() > MAX_AGE {
            return None;
        }
        match &entry.known {
            Known::Key(key) if key.expires_at.is_some_and(|end| end <= Utc::now()) => None,
            known => Some(known.clone()),
        }
    }

    /// The generation to pass to [`AuthCache::put`]: read it before asking the database.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Keeps what the database answered, unless the cache was emptied since `generation`.
    pub fn put(&self, key: String, known: Known, generation: u64) {
        if !self.listening.load(Ordering::SeqCst) {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert(
            key,
            Entry {
                known,
                at: Instant::now(),
            },
        );
    }

    /// Forgets every caller.
    pub fn flush(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
    }

    /// How many callers are cached (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the listener is listening (the cache is in use).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }

    fn set_listening(&self, on: bool) {
        // Emptied on both edges: what was cached before a drop may have been revoked unheard.
        self.listening.store(on, Ordering::SeqCst);
        self.flush();
    }

    /// Starts the listener once (on the first request, inside the server's runtime).
    pub fn start(self: &Arc<Self>) {
        if self.started.swap(true, Ordering::SeqCst) || self.stopped.load(Ordering::SeqCst) {
            return;
        }
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            while !cache.stopped.load(Ordering::SeqCst) {
                if let Err(e) = cache.listen_once().await {
                    tracing::warn!(error = %e, "auth cache: listener connection failed; the cache is bypassed until it is back");
                }
                cache.set_listening(false);
                tokio::time::sleep(RECONNECT_AFTER).await;
            }
        });
    }

    /// Stops using the cache; once its connection ends, the listener does not connect again.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.set_listening(false);
    }

    /// One listening connection, until it ends.
    async fn listen_once(self: &Arc<Self>) -> Result<(), tokio_postgres::Error> {
        let (client, mut connection) = tokio_postgres::connect(&self.database_url, tokio_postgres::NoTls).await?;
        if self.stopped.load(Ordering::SeqCst) {
            return Ok(());
        }
        let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
        let cache = Arc::clone(self);
        // The connection's messages: notifications empty the cache; the stream ends with the
        // connection.
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            let mut outcome = Ok(());
            while let Some(message) = messages.next().await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(_)) => cache.flush(),
                    Ok(_) => {}
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
            }
            cache.set_listening(false);
            let _ = ended_tx.send(outcome);
        });
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        if self.stopped.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.set_listening(true);
        let outcome = ended_rx.await.unwrap_or(Ok(()));
        drop(client);
        outcome
    }
}

tokio::task_local! {
    /// The cache of the instance serving the current request, and whether the request changed
    /// who may sign in.
    static REQUEST: (Arc<AuthCache>, Cell<bool>);
}

/// Code that ends or narrows access (revokes a sign-in or key, deactivates or changes a
/// membership) calls this: the instance's cache is emptied now and again when the request ends.
pub fn access_changed() {
    let _ = REQUEST.try_with(|(cache, changed)| {
        changed.set(true);
        cache.flush();
    });
}

/// Runs the request with its instance's cache at hand; empties the cache after a request that
/// changed access (this middleware sits outside the request transaction, so after its commit).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let Some(cache) = req
        .app_data::<actix_web::web::Data<AuthCache>>()
        .map(|c| c.clone().into_inner())
    else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    cache.start();
    let scoped = Arc::clone(&cache);
    REQUEST
        .scope((scoped, Cell::new(false)), async move {
            let res = next.call(req).await;
            if REQUEST.with(|(_, changed)| changed.get()) {
                cache.flush();
            }
            res.map(ServiceResponse::map_into_boxed_body)
        })
        .await
}
