//! actix's own rejections — a query, a path or a form its extractors could not read, a route
//! nobody serves — answered in the problem envelope like every other error.

use crate::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

/// Maps actix's own extractor rejections into the problem envelope.
pub fn query_error_handler(err: actix_web::error::QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let detail = super::json::describe_data_error(&err.to_string());
    ApiError::bad_request(format!("Invalid query parameters: {detail}")).into()
}

pub fn path_error_handler(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(format!("Invalid path parameter: {err}")).into()
}

pub fn form_error_handler(err: actix_web::error::UrlencodedError, req: &HttpRequest) -> actix_web::Error {
    if let actix_web::error::UrlencodedError::Payload(e) = &err
        && let Some(limit) = super::limits::body_timed_out(e, req)
    {
        return ApiError::body_timeout(limit).into();
    }
    let detail = super::json::describe_data_error(&err.to_string());
    ApiError::bad_request(format!("Invalid form body: {detail}")).into()
}

/// Answer for a route nobody serves (actix would otherwise send an empty 404), or 405 with
/// `Allow` when the path is served with other methods.
pub async fn not_found_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(routes) = req.app_data::<actix_web::web::Data<super::routes::Routes>>()
        && let Some(allowed) = routes.allowed(req.path())
    {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!(
                "{} is not served at {}; it answers {allowed}.",
                req.method(),
                req.path()
            ),
        )
        .with_header(header::ALLOW, allowed));
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("No route {} {} exists.", req.method(), req.path()),
    ))
}
