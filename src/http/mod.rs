//! Cross-cutting HTTP pieces every endpoint shares.

pub mod compression;
pub mod etag;
pub mod idempotency;
pub mod json;
pub mod limits;
pub mod objects_only;
pub mod pagination;
pub mod patch;
pub mod query;
pub mod rejections;
pub mod routes;
pub mod timestamp;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

/// Refuses a NUL character (`%00`) in the path or query string with a 400: PostgreSQL cannot
/// store or compare text with NUL, so it must never reach a query.
pub async fn reject_nul(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let has_nul = |s: &str| s.contains('\0') || s.contains("%00");
    if has_nul(req.uri().path()) || req.uri().query().is_some_and(has_nul) {
        let err = crate::error::ApiError::bad_request("The path or query string contains a NUL character (%00).");
        return Ok(req.error_response(err));
    }
    next.call(req).await.map(ServiceResponse::map_into_boxed_body)
}

/// Copies the request id that `TracingLogger` put in every log line into `X-Request-Id`.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string());
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}
