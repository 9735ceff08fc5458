//! Bounded waits at the HTTP edge: how long a client may take to send its body, how long a
//! request may take until its answer starts, and `Connection: close` while the service drains.
//!
//! - The body must arrive within `BODY_READ_TIMEOUT_SECS` of the request's headers (actix
//!   already bounds the headers); a body trickled slower is cut with a 408, whichever extractor
//!   reads it.
//! - The answer must start within `REQUEST_TIMEOUT_SECS`: past that the request's work is
//!   dropped (an open transaction rolls back: its connection is closed, `db::request::release`)
//!   and the answer is 503 with `Retry-After`. The limit covers the time until the answer's
//!   head; a streamed body is not cut.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::HeaderName;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// Requests cut by the answer time limit, for `/metrics`.
static TIMED_OUT: AtomicU64 = AtomicU64::new(0);

pub fn timed_out_requests() -> u64 {
    TIMED_OUT.load(Ordering::Relaxed)
}

/// The middleware (wrap with `actix_web::middleware::from_fn`, outside every middleware that
/// does the request's work and inside the ones that log and count it).
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    let body_limit = state.config.body_read_timeout;
    let payload = req.take_payload();
    if !matches!(payload, Payload::None) {
        let timed: Pin<Box<dyn Stream<Item = Result<web::Bytes, PayloadError>>>> = Box::pin(BodyDeadline {
            inner: payload,
            deadline: Box::pin(tokio::time::sleep(body_limit)),
            expired: false,
        });
        req.set_payload(Payload::from(timed));
    }
    let request_id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string());
    let limit = state.config.request_timeout;
    let mut res = match tokio::time::timeout(limit, next.call(req)).await {
        Ok(res) => res?,
        Err(_) => {
            TIMED_OUT.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                limit_secs = limit.as_secs(),
                "request cut: no answer within the time limit"
            );
            // The request went down with its work, so the answer travels as an error, which
            // actix renders with `ApiError::error_response`; the request id goes with it.
            let mut e = ApiError::unavailable(format!(
                "The request did not finish within {} seconds and was stopped; retry shortly.",
                limit.as_secs()
            ));
            if let Some(id) = request_id {
                e = e.with_header(HeaderName::from_static("x-request-id"), id);
            }
            return Err(e.into());
        }
    };
    if state.shutdown.is_stopping() {
        // Clients reconnect, and their next connection reaches an instance that is not stopping.
        res.response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    Ok(res)
}

/// Whether a payload error is the body deadline's; answers the limit that ran out.
pub fn body_timed_out(e: &PayloadError, req: &HttpRequest) -> Option<Duration> {
    match e {
        PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Some(
            req.app_data::<web::Data<AppState>>()
                .map_or(Duration::ZERO, |s| s.config.body_read_timeout),
        ),
        _ => None,
    }
}

/// The 408 for a body that ran out of time, or `None` for another payload error.
pub fn body_timeout_error(e: &PayloadError, req: &HttpRequest) -> Option<ApiError> {
    body_timed_out(e, req).map(ApiError::body_timeout)
}

/// A request body that ends in an error once its deadline passes.
struct BodyDeadline {
    inner: Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: bool,
}

impl Stream for BodyDeadline {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.expired = true;
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
}
