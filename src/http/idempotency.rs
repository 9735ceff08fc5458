//! `Idempotency-Key` for creating `POST`s, as a middleware so every such endpoint gets it.
//!
//! - a replay after completion gets the first answer (status, body, `Location`, `ETag`), with
//!   `Idempotency-Replayed: true`;
//! - a duplicate while the first is in flight gets 409;
//! - the same key with another request (method, path or JSON body) gets 422;
//! - a 5xx answer is not stored, so the key can be retried.
//!
//! "The work was done" and "its answer is stored" are one fact: the request runs inside one
//! transaction (`db::request`) that its handler's statements join, and the answer is stored in
//! that transaction before it commits. So a retry finds either the stored answer or nothing at
//! all (a clean second attempt), never work without an answer: if the answer cannot be stored,
//! the work is rolled back and the request answers 5xx. A request in flight holds a
//! transaction-level advisory lock on its key, which is how a concurrent duplicate is told
//! (409); a crashed or cut-off request's lock goes with its session, so there is no reservation
//! to wait out.
//!
//! Keys are per caller (membership or API key; anonymous sign-ups share one space) and expire
//! after 24 hours. Deleting a resource forgets the answers that created it, in the same
//! transaction as the delete.

use crate::auth::extractor::{authenticate, has_credential};
use crate::db::DbConn;
use crate::db::schema::idempotency_keys;
use crate::error::ApiError;
use crate::http::json::read_body;
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::ResourceDef;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_TYPE, ETAG, HeaderName, HeaderValue, LOCATION};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
const KEY_TTL_HOURS: i64 = 24;
/// After this long a reservation committed by an older version of the service (which reserved
/// keys in a transaction of their own) is presumed abandoned.
const ABANDONED_AFTER_SECS: i64 = 60;
const STORED_HEADERS: [HeaderName; 3] = [CONTENT_TYPE, LOCATION, ETAG];

/// A handler whose answer carries a one-time credential leaves this in the response's
/// extensions: the middleware stores (and so replays) this body instead of the one sent, so the
/// credential itself is never written to the database.
pub struct StoredBody(pub Vec<u8>);

/// The creating POSTs that need no credentials (sign-up): the only ones where anonymous
/// callers' keys are kept.
const PUBLIC: [&str; 1] = ["/v1/clinics"];

/// Which POSTs honour the header: every creating POST under `/v1`, not the token endpoints
/// (their answers are credentials, which are never stored).
pub fn applies_to(method: &Method, path: &str) -> bool {
    method == Method::POST && path.starts_with("/v1/") && !path.starts_with("/v1/auth/")
}

fn request_hash(method: &Method, path: &str, body: &[u8]) -> Vec<u8> {
    // The same JSON with other white space or key order is the same request.
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::to_vec(&v).ok())
        .unwrap_or_else(|| body.to_vec());
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(&canonical);
    h.finalize().to_vec()
}

fn parse_key(req: &ServiceRequest) -> Option<Result<String, ApiError>> {
    let raw = req.headers().get(HEADER)?;
    let valid = raw
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.chars().all(|c| c.is_ascii_graphic()));
    Some(
        valid
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters.")),
    )
}

#[derive(Queryable)]
struct Stored {
    request_hash: Vec<u8>,
    completed: bool,
    response_status: Option<i16>,
    response_headers: Option<serde_json::Value>,
    response_body: Option<Vec<u8>>,
    created_at: DateTime<Utc>,
}

/// What a key allows the request to do.
enum Claim {
    /// Nothing is stored under the key and no other request holds it: do the work.
    Go,
    Replay(Stored),
    Refused(ApiError),
}

fn in_progress() -> ApiError {
    ApiError::conflict("A request with this Idempotency-Key is still in progress; retry once it has finished.")
}

/// Inside the request's transaction: takes the key's lock, then looks at what is stored.
async fn claim(conn: &mut AsyncPgConnection, owner: &str, key: &str, hash: &[u8]) -> Result<Claim, ApiError> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    // Held until the transaction ends; the prefix keeps these locks apart from `db::lock_key`'s.
    let locked: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked")
        .bind::<diesel::sql_types::Text, _>(format!("idempotency\u{1f}{owner}\u{1f}{key}"))
        .get_result(conn)
        .await?;
    if !locked.locked {
        return Ok(Claim::Refused(in_progress()));
    }
    let Some(stored) = idempotency_keys::table
        .find((owner, key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::completed,
            idempotency_keys::response_status,
            idempotency_keys::response_headers,
            idempotency_keys::response_body,
            idempotency_keys::created_at,
        ))
        .first::<Stored>(conn)
        .await
        .optional()?
    else {
        return Ok(Claim::Go);
    };
    let now = Utc::now();
    let expired = stored.created_at < now - Duration::hours(KEY_TTL_HOURS);
    // Rows that are not complete are reservations of an older version of the service, which
    // committed them before the work: one younger than a minute may still be running there.
    let abandoned = !stored.completed && stored.created_at < now - Duration::seconds(ABANDONED_AFTER_SECS);
    if expired || (abandoned && stored.request_hash == hash) {
        diesel::delete(idempotency_keys::table.find((owner, key)))
            .execute(conn)
            .await?;
        return Ok(Claim::Go);
    }
    if stored.request_hash != hash {
        return Ok(Claim::Refused(ApiError::validation(
            "Idempotency-Key",
            "was already used with a different request; use a new key for a new request",
        )));
    }
    if !stored.completed {
        return Ok(Claim::Refused(in_progress()));
    }
    Ok(Claim::Replay(stored))
}

fn replay(stored: Stored) -> HttpResponse {
    let status = stored
        .response_status
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    if let Some(serde_json::Value::Object(headers)) = stored.response_headers {
        for (name, value) in headers {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::try_from(name.as_str()),
                value.as_str().map(HeaderValue::from_str),
            ) {
                res.insert_header((name, value));
            }
        }
    }
    res.insert_header(("idempotency-replayed", "true"));
    res.body(stored.response_body.unwrap_or_default())
}

/// An answer given before routing (a replay, a refusal) still names its route's parameters, as
/// the request metrics expect of a matched route.
fn answer_early(mut req: ServiceRequest, res: HttpResponse) -> ServiceResponse<BoxBody> {
    if let Some(pattern) = req.match_pattern() {
        ResourceDef::new(pattern).capture_match_info(req.match_info_mut());
    }
    req.into_response(res)
}

async fn begin(conn: &mut DbConn) -> Result<(), ApiError> {
    AnsiTransactionManager::begin_transaction(&mut **conn).await?;
    Ok(())
}

async fn commit(conn: &mut DbConn) -> Result<(), diesel::result::Error> {
    AnsiTransactionManager::commit_transaction(&mut **conn).await
}

/// Ends the transaction without keeping anything. A connection whose rollback fails is closed
/// when dropped (`db::request::release`), which rolls back just as well.
async fn rollback(mut conn: DbConn) {
    if let Err(e) = AnsiTransactionManager::rollback_transaction(&mut *conn).await {
        tracing::debug!(error = %e, "rollback failed; the connection is closed instead");
    }
}

/// The middleware function (wrap with `actix_web::middleware::from_fn`).
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() == Method::DELETE && req.path().starts_with("/v1/") {
        return delete_and_forget(req, next).await;
    }
    if !applies_to(req.method(), req.path()) {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    }
    let key = match parse_key(&req) {
        None => return next.call(req).await.map(ServiceResponse::map_into_boxed_body),
        Some(Err(e)) => return Ok(answer_early(req, e.error_response())),
        Some(Ok(k)) => k,
    };
    // Keys are per caller. Anonymous callers share one space, on the public operations only:
    // anywhere else a request without (valid) credentials goes on to be refused by its handler
    // with a 401, whoever used its key before.
    let owner = match authenticate(req.request()).await {
        Ok(caller) => caller.idempotency_owner(),
        Err(_) if !has_credential(req.request()) && PUBLIC.contains(&req.path()) => "anonymous".to_string(),
        Err(_) => return next.call(req).await.map(ServiceResponse::map_into_boxed_body),
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(answer_early(
            req,
            ApiError::internal("AppState missing").error_response(),
        ));
    };
    let mut payload = req.take_payload();
    let body = match read_body(req.request(), &mut payload).await {
        Ok(b) => b,
        Err(e) => return Ok(answer_early(req, e.error_response())),
    };
    let hash = request_hash(req.method(), &req.uri().to_string(), &body);
    req.set_payload(Payload::from(body));

    let mut conn = match state.own_conn().await {
        Ok(c) => c,
        Err(e) => return Ok(answer_early(req, e.error_response())),
    };
    if let Err(e) = begin(&mut conn).await {
        return Ok(answer_early(req, e.error_response()));
    }
    match claim(&mut conn, &owner, &key, &hash).await {
        Ok(Claim::Go) => {}
        Ok(Claim::Replay(stored)) => {
            rollback(conn).await;
            return Ok(answer_early(req, replay(stored)));
        }
        Ok(Claim::Refused(e)) | Err(e) => {
            rollback(conn).await;
            return Ok(answer_early(req, e.error_response()));
        }
    }

    let (outcome, mut conn) = crate::db::request::within(conn, next.call(req)).await;
    let res = match outcome {
        Ok(res) if !res.status().is_server_error() => res,
        // A server error keeps nothing: neither the work nor the key.
        other => {
            rollback(conn).await;
            return other.map(ServiceResponse::map_into_boxed_body);
        }
    };
    let (http_req, res) = res.into_parts();
    let (res, body) = res.into_parts();
    let bytes = match to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            rollback(conn).await;
            return Err(ApiError::internal("could not buffer a response body").into());
        }
    };
    let status = res.status();
    let stored_body = res
        .extensions()
        .get::<StoredBody>()
        .map(|b| b.0.clone())
        .unwrap_or_else(|| bytes.to_vec());
    let headers: serde_json::Map<String, serde_json::Value> = STORED_HEADERS
        .iter()
        .filter_map(|name| {
            let value = res.headers().get(name)?.to_str().ok()?;
            Some((name.as_str().to_string(), serde_json::Value::String(value.to_string())))
        })
        .collect();
    let stored = diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::owner.eq(&owner),
            idempotency_keys::key.eq(&key),
            idempotency_keys::request_hash.eq(&hash),
            idempotency_keys::completed.eq(true),
            idempotency_keys::response_status.eq(i16::try_from(status.as_u16()).unwrap_or(200)),
            idempotency_keys::response_headers.eq(serde_json::Value::Object(headers)),
            idempotency_keys::response_body.eq(stored_body),
        ))
        .execute(&mut conn)
        .await;
    let kept = match stored {
        Ok(_) => commit(&mut conn).await,
        Err(e) => Err(e),
    };
    if let Err(e) = kept {
        rollback(conn).await;
        if status.is_client_error() {
            // Nothing to undo that mattered (the request was refused); it is just not stored,
            // so a retry is refused again.
            tracing::debug!(error = %e, "a refused request's answer was not stored");
        } else {
            // The work and its answer were rolled back together (or, if the commit's answer
            // was lost, kept together): a retry with the same key gets one or the other.
            return Ok(ServiceResponse::new(http_req, ApiError::from(e).error_response()));
        }
    }
    let res = res.set_body(BoxBody::new(bytes));
    Ok(ServiceResponse::new(http_req, res))
}

/// `DELETE` means gone, for retries too: when a `DELETE` succeeds, the stored answers that
/// created the resource (their `Location` is the deleted path) are forgotten in the same
/// transaction, so a retry with such a key is a new request rather than a replay presenting
/// the resource as just created — and a delete is never kept without its forgetting.
async fn delete_and_forget(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = req.path().to_string();
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let mut conn = match state.own_conn().await {
        Ok(c) => c,
        Err(e) => return Ok(answer_early(req, e.error_response())),
    };
    if let Err(e) = begin(&mut conn).await {
        return Ok(answer_early(req, e.error_response()));
    }
    let (outcome, mut conn) = crate::db::request::within(conn, next.call(req)).await;
    let res = match outcome {
        Ok(res) if res.status().is_success() => res,
        other => {
            rollback(conn).await;
            return other.map(ServiceResponse::map_into_boxed_body);
        }
    };
    // The expression is spelt as the index `idempotency_keys_location_idx` has it (a literal
    // key, not a bind parameter), so the lookup uses the index.
    let location =
        diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>("response_headers ->> 'location'");
    let forgotten = diesel::delete(idempotency_keys::table.filter(location.eq(&path)))
        .execute(&mut conn)
        .await;
    let kept = match forgotten {
        Ok(_) => commit(&mut conn).await,
        Err(e) => Err(e),
    };
    match kept {
        Ok(()) => Ok(res.map_into_boxed_body()),
        Err(e) => {
            rollback(conn).await;
            let (http_req, _) = res.into_parts();
            Ok(ServiceResponse::new(http_req, ApiError::from(e).error_response()))
        }
    }
}

/// Deletes keys past their 24 hours (called periodically by the server).
pub async fn purge_expired(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::created_at.lt(Utc::now() - Duration::hours(KEY_TTL_HOURS))),
    )
    .execute(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_json_is_the_same_request() {
        let a = request_hash(&Method::POST, "/v1/clients", br#"{"a":1,"b":2}"#);
        let b = request_hash(&Method::POST, "/v1/clients", br#"{ "b": 2, "a": 1 }"#);
        let c = request_hash(&Method::POST, "/v1/clients", br#"{"a":1,"b":3}"#);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn token_endpoints_are_excluded() {
        assert!(applies_to(&Method::POST, "/v1/clinics"));
        assert!(!applies_to(&Method::POST, "/v1/auth/token"));
        assert!(!applies_to(&Method::PATCH, "/v1/me"));
    }
}
