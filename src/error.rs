//! One error type for the whole API, rendered as RFC 9457 `application/problem+json`.
//!
//! Handlers return `Result<_, ApiError>`; helpers build the common cases. A 500 is logged with
//! its cause and tells the caller nothing more than that something went wrong on our side.

use crate::db::outage::Trouble;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

/// Base of the `type` URIs of problems; each problem kind appends its slug.
pub const PROBLEM_BASE: &str = "https://rehabit.dev/problems/";

/// One rule a request broke, naming the field (a JSON pointer-like dotted path).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The field that broke a rule, as a dotted path (`admin.email`, `items[2].sets`).
    #[schema(example = "admin.email")]
    pub field: String,
    /// What is wrong with it, in a sentence a developer can show to a user.
    #[schema(example = "must be a valid email address")]
    pub message: String,
}

/// An RFC 9457 problem document: every error the API answers has this shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; stable, so clients can branch on it.
    #[schema(example = "https://rehabit.dev/problems/validation")]
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    #[schema(example = "Validation failed")]
    pub title: String,
    /// The HTTP status code, repeated for convenience.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong with this request.
    #[schema(example = "The request body breaks 1 rule.")]
    pub detail: String,
    /// For validation problems: each field that broke a rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub errors: Vec<FieldError>,
    /// For OAuth 2 token requests: the RFC 6749 error code (`invalid_grant`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<String>,
    /// For problems a client may handle in its own way: a stable code (`login_shared`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "login_shared")]
    pub code: Option<String>,
}

/// The error every handler returns (boxed: it travels through many `Result`s).
#[derive(Debug)]
pub struct ApiError(Box<Details>);

#[derive(Debug)]
pub struct Details {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    oauth_error: Option<&'static str>,
    retry_after: Option<u64>,
    /// For a 401 about a presented credential: RFC 6750's `error_description` of
    /// `error="invalid_token"` in the challenge.
    invalid_token: Option<&'static str>,
    /// A stable code beside `type`, for problems clients handle in their own way.
    code: Option<&'static str>,
    /// Extra headers (rate-limit fields), set where the error is made.
    headers: Vec<(header::HeaderName, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        ApiError(Box::new(Details {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            oauth_error: None,
            retry_after: None,
            invalid_token: None,
            code: None,
            headers: Vec::new(),
        }))
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", detail)
    }

    /// A query parameter (or another part of the request line) that cannot be read: 400, naming
    /// it in `errors` as validation problems do.
    pub fn bad_query(param: impl Into<String>, message: impl Into<String>) -> Self {
        let (param, message) = (param.into(), message.into());
        let mut e = Self::bad_request(format!("`{param}` {message}."));
        e.errors = vec![FieldError { field: param, message }];
        e
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Not authenticated", detail)
    }

    /// A 401 for a credential that was sent but cannot be used. The challenge says
    /// `error="invalid_token"` with `why` as its description (RFC 6750 section 3.1), so a client
    /// can tell "sign in again" from "you sent nothing". `why` is plain ASCII without quotes.
    pub fn invalid_token(why: &'static str) -> Self {
        let mut e = Self::unauthorized(why);
        e.invalid_token = Some(why);
        e
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("No {what} with that id exists."),
        )
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 409: the login is shared with another clinic, so this clinic may not reset it
    /// (DESIGN.md: "A login shared by clinics belongs to the person").
    pub fn login_shared() -> Self {
        let mut e = Self::new(
            StatusCode::CONFLICT,
            "login-shared",
            "Login shared with another clinic",
            "This person's login is (or was) also used at another clinic, so no clinic may reset its password: \
the person changes it with PATCH /v1/me, or the operator runs `rehabit user reset-password EMAIL`.",
        );
        e.code = Some("login_shared");
        e
    }

    pub fn precondition_failed(current_version: i64) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "stale-version",
            "Precondition failed",
            format!(
                "If-Match does not name the current version (\"{current_version}\"); fetch the resource again and reapply your change."
            ),
        )
    }

    /// A single-field validation failure (422).
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation_errors(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// A validation failure listing every broken rule (422).
    pub fn validation_errors(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("`{}` {}.", one.field, one.message),
            many => format!("The request breaks {} rules; see `errors`.", many.len()),
        };
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Validation failed",
            detail,
        );
        e.errors = errors;
        e
    }

    pub fn too_many_requests(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            detail,
        );
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
            "Something went wrong on our side; it has been logged. Retrying later may help.",
        )
    }

    /// 503 with `Retry-After`: the service cannot answer now, and a retry later may succeed.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        );
        e.retry_after = Some(5);
        e
    }

    /// 503 because the database could not serve the request; counted (and logged once per
    /// outage) by `db::outage`.
    pub fn database(trouble: Trouble, cause: &dyn fmt::Display) -> Self {
        crate::db::outage::report(trouble, cause);
        let detail = match trouble {
            Trouble::Unreachable => "The database is not reachable right now; retry shortly.",
            Trouble::Busy => "The database is too busy to answer in time; retry shortly.",
        };
        let mut e = Self::unavailable(detail);
        e.retry_after = Some(trouble.retry_after_secs());
        e
    }

    /// 408: the client did not send its request body in time.
    pub fn body_timeout(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request timeout",
            format!(
                "The request body did not arrive within {} seconds of its headers.",
                limit.as_secs()
            ),
        )
    }

    /// Attach an OAuth 2 error code (`invalid_grant`, ...) for token-endpoint answers.
    pub fn with_oauth_error(mut self, code: &'static str) -> Self {
        self.oauth_error = Some(code);
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("{PROBLEM_BASE}{}", self.slug),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
            error: self.oauth_error.map(str::to_string),
            code: self.code.map(str::to_string),
        }
    }

    pub fn field_errors(&self) -> &[FieldError] {
        &self.errors
    }
}

impl std::ops::Deref for ApiError {
    type Target = Details;
    fn deref(&self) -> &Details {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut Details {
        &mut self.0
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.title, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = match self.invalid_token {
                Some(why) => format!(
                    "Bearer realm=\"rehabit\", error=\"invalid_token\", error_description=\"{}\"",
                    why.trim_end_matches('.')
                ),
                None => "Bearer realm=\"rehabit\"".to_string(),
            };
            res.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        for (name, value) in &self.headers {
            res.insert_header((name.clone(), value.clone()));
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        res.body(body)
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ApiError::not_found("resource"),
            // Constraint violations that reach here were not translated where they happened;
            // they are still the caller's conflict, never our 500.
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                tracing::warn!(constraint = ?info.constraint_name(), "untranslated unique violation");
                ApiError::conflict("A resource with the same unique value already exists.")
            }
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                ApiError::conflict("A concurrent change got in the way; retry the request.")
            }
            // A dropped connection, a restarting server, a statement or lock wait that ran
            // out: the database is unavailable, not the request wrong.
            other => match crate::db::outage::classify(&other) {
                Some(trouble) => ApiError::database(trouble, &other),
                None => ApiError::internal(other),
            },
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        use deadpool::managed::{PoolError, TimeoutType};
        // Waiting for a free connection ran out: the database is there, every connection busy.
        let trouble = match e {
            PoolError::Timeout(TimeoutType::Wait) => Trouble::Busy,
            _ => Trouble::Unreachable,
        };
        ApiError::database(trouble, &e)
    }
}

/// Is this diesel error a unique violation of the named constraint/index?
pub fn is_unique_violation(e: &diesel::result::Error, constraint: &str) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some(constraint)
    )
}

/// Extension for translating a unique violation where the insert happens.
pub trait OnConstraint<T> {
    fn on_unique(self, constraint: &str, err: impl FnOnce() -> ApiError) -> Result<T, ApiError>;
}

impl<T> OnConstraint<T> for Result<T, diesel::result::Error> {
    fn on_unique(self, constraint: &str, err: impl FnOnce() -> ApiError) -> Result<T, ApiError> {
        match self {
            Err(e) if is_unique_violation(&e, constraint) => Err(err()),
            other => other.map_err(ApiError::from),
        }
    }
}

/// Collects validation failures so a request hears about every broken rule at once.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, ok: bool, field: impl Into<String>, message: impl Into<String>) -> &mut Self {
        if !ok {
            self.add(field, message);
        }
        self
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Runs a parser; on failure records its message against `field`.
    pub fn parse<T, E: fmt::Display>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation_errors(self.errors))
        }
    }
}
