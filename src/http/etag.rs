//! Optimistic concurrency: every mutable resource has a `version`, answered as `ETag: "<n>"`;
//! `PUT`, `PATCH` and `DELETE` honour `If-Match` and answer 412 when it is stale.

use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header::{ETAG, HeaderValue, IF_MATCH};
use actix_web::{FromRequest, HttpRequest, HttpResponseBuilder};
use std::future::{Ready, ready};

/// The `If-Match` request header: `None` when absent or `*`.
#[derive(Debug, Clone, Default)]
pub struct IfMatch(Option<Vec<String>>);

impl IfMatch {
    /// Fails with 412 unless the header is absent, `*`, or lists the current version.
    pub fn check(&self, current_version: i64) -> Result<(), ApiError> {
        match &self.0 {
            None => Ok(()),
            Some(tags) if tags.iter().any(|t| *t == current_version.to_string()) => Ok(()),
            Some(_) => Err(ApiError::precondition_failed(current_version)),
        }
    }
}

impl IfMatch {
    /// For a write that would create the resource: any `If-Match` other than `*` names a
    /// version that does not exist (RFC 9110), so it fails.
    pub fn check_absent(&self, what: &str) -> Result<(), ApiError> {
        match &self.0 {
            None => Ok(()),
            Some(_) => Err(ApiError::new(
                actix_web::http::StatusCode::PRECONDITION_FAILED,
                "stale-version",
                "Precondition failed",
                format!("If-Match names a version, but no {what} exists here yet."),
            )),
        }
    }
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(raw) = req.headers().get(IF_MATCH) else {
            return ready(Ok(IfMatch(None)));
        };
        let Ok(raw) = raw.to_str() else {
            return ready(Err(ApiError::bad_request("If-Match is not a valid header value.")));
        };
        if raw.trim() == "*" {
            return ready(Ok(IfMatch(None)));
        }
        if raw.trim().is_empty() {
            return ready(Err(ApiError::bad_request(
                "If-Match is empty: send an ETag, such as \"3\", or leave the header out.",
            )));
        }
        let tags = raw
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/").trim_matches('"').to_string())
            .collect();
        ready(Ok(IfMatch(Some(tags))))
    }
}

fn etag_value(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// Adds `ETag: "<version>"` to a response under construction.
pub fn with_etag(builder: &mut HttpResponseBuilder, version: i64) -> &mut HttpResponseBuilder {
    builder.insert_header((ETAG, etag_value(version)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_if_match_is_412() {
        let m = IfMatch(Some(vec!["3".into()]));
        assert!(m.check(3).is_ok());
        assert!(m.check(4).is_err());
        assert!(IfMatch(None).check(9).is_ok());
    }
}
