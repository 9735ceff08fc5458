//! The request's audit note: what the one audit event of a request will say.
//!
//! The audit middleware opens a note for every request to a documented route and keeps it in a
//! task-local for as long as the handler runs, so the pieces that learn a fact can add it
//! without the note travelling through every handler's signature: the actor is the `Caller` the
//! extractor left in the request, [`crate::events::emit`] adds the resource and client of each change it records,
//! and a handler adds what only it knows (the client behind an assignment, the clients a list
//! returned). Outside a request every function here does nothing.

use crate::auth::extractor::Principal;
use crate::auth::{Caller, Role};
use std::cell::RefCell;
use std::rc::Rc;
use uuid::Uuid;

tokio::task_local! {
    static CURRENT: Rc<RefCell<Note>>;
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `user`, `api_key`, `calendar_feed` or `system`.
    pub kind: &'static str,
    /// The login (its `/v1/me` id), the key or the feed.
    pub id: Option<Uuid>,
    /// The member's role in the clinic (none for keys, feeds and the system).
    pub role: Option<Role>,
}

impl Actor {
    pub fn user(id: Uuid, role: Option<Role>) -> Self {
        Actor {
            kind: "user",
            id: Some(id),
            role,
        }
    }

    pub fn of(caller: &Caller) -> Self {
        match &caller.principal {
            Principal::Member(m) => Actor::user(m.user_id, Some(m.role)),
            Principal::ApiKey { key_id, .. } => Actor {
                kind: "api_key",
                id: Some(*key_id),
                role: None,
            },
        }
    }
}

/// Where a request came from, taken before the handler runs.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub request_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What the audit event of one request will say.
#[derive(Debug, Clone, Default)]
pub struct Note {
    /// The operation (its OpenAPI `operation_id`), or what a handler named instead.
    pub action: String,
    /// Whether the route reads or changes data the trail covers (see `routes::EXEMPT`).
    pub audited: bool,
    /// The status a success answers: what an event written inside the transaction records.
    pub success_status: u16,
    /// A `/v1/me/...` route: the client is the caller's own record.
    pub own_record: bool,
    pub origin: Origin,
    pub resource: Option<(String, Uuid)>,
    /// Where the resource came from: 0 the path, 1 an event, 2 the handler (higher wins).
    pub resource_rank: u8,
    pub client_ids: Vec<Uuid>,
    /// The authenticated caller, once known; its clinic is where the event goes.
    pub caller: Option<Caller>,
    /// For requests without a caller (sign-in, sign-up, accepting an invitation): who acted
    /// and in which clinics the event goes.
    pub acting: Option<(Actor, Vec<Uuid>)>,
    /// Recorded in the handler's transaction: the middleware writes nothing more on success.
    pub written: bool,
}

impl Note {
    /// Takes the caller the `Caller` extractor authenticated in this request, if the note has
    /// none yet; on a `/v1/me/...` route the client is then the caller's own record.
    pub fn resolve_caller(&mut self) {
        if self.caller.is_none() {
            self.caller = crate::auth::extractor::seen_caller();
        }
        if self.own_record
            && let Some(own) = self.caller.as_ref().and_then(Caller::own_client_id)
        {
            self.add_client(own);
            self.set_resource("client", own, 0);
        }
    }

    pub fn set_resource(&mut self, kind: &str, id: Uuid, rank: u8) {
        if self.resource.is_none() || rank > self.resource_rank {
            self.resource = Some((kind.to_string(), id));
            self.resource_rank = rank;
        }
    }

    pub fn add_client(&mut self, id: Uuid) {
        if !self.client_ids.contains(&id) {
            self.client_ids.push(id);
        }
    }

    /// Who acted and in which clinics, if anyone is known.
    pub fn actor(&self) -> Option<(Actor, Vec<Uuid>)> {
        if let Some(c) = &self.caller {
            return Some((Actor::of(c), vec![c.clinic_id]));
        }
        self.acting.clone()
    }
}

/// Runs `fut` (the rest of the request) with `note` as the request's note, and with the
/// authenticated caller remembered for it.
pub async fn scope<F: std::future::Future>(note: Rc<RefCell<Note>>, fut: F) -> F::Output {
    CURRENT
        .scope(note, crate::auth::extractor::remembering_caller(fut))
        .await
}

/// Applies `f` to the request's note, if there is one.
pub fn with<R>(f: impl FnOnce(&mut Note) -> R) -> Option<R> {
    CURRENT.try_with(|n| f(&mut n.borrow_mut())).ok()
}

/// The request reads or changes this client's data.
pub fn client(id: Uuid) {
    with(|n| n.add_client(id));
}

/// The request read these clients' data (a list names every client it returned).
pub fn clients(ids: impl IntoIterator<Item = Uuid>) {
    with(|n| ids.into_iter().for_each(|id| n.add_client(id)));
}

/// The record the request is about, when its path does not say (`client` by external id).
pub fn resource(kind: &str, id: Uuid) {
    with(|n| n.set_resource(kind, id, 2));
}

/// The status a success of this request answers, when it is not the operation's usual one (an
/// upsert that creates).
pub fn success_status(status: u16) {
    with(|n| n.success_status = status);
}

/// Names the action instead of the operation id (`sign_in_failed`).
pub fn action(name: &str) {
    with(|n| n.action = name.to_string());
}

/// For a request without credentials: who acted, in which clinics the event goes. The event is
/// written even where the route is not otherwise audited (sign-ins).
pub fn acting(actor: Actor, clinics: Vec<Uuid>) {
    with(|n| n.acting = Some((actor, clinics)));
}

/// The client an event is about, if any (`client.*`: its `id`; others: their `client_id`).
pub fn event_client(event_type: &str, data: &serde_json::Value) -> Option<Uuid> {
    let uuid = |field: &str| {
        data.get(field)
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<Uuid>().ok())
    };
    if event_type.starts_with("client.") {
        uuid("id").or_else(|| uuid("client_id"))
    } else {
        uuid("client_id")
    }
}

/// The facts a change recorded in the outbox tells: its resource and whose data it is.
pub fn event(event_type: &str, data: &serde_json::Value) {
    with(|n| {
        let kind = event_type.split('.').next().unwrap_or(event_type);
        let uuid = |field: &str| {
            data.get(field)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse::<Uuid>().ok())
        };
        if let Some(id) = uuid("id").or_else(|| uuid("client_id")) {
            // The first change of a request names its resource (an update then an archive
            // are one request about one client).
            if n.resource_rank < 1 {
                n.set_resource(kind, id, 1);
            }
        }
        if let Some(c) = event_client(event_type, data) {
            n.add_client(c);
        }
    });
}
