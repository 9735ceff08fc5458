//! Compressed answers: actix-web's `Compress` (gzip) encodes an answer when the request's
//! `Accept-Encoding` allows it, and then says `Vary: Accept-Encoding`. Never an answer that
//! carries a secret: compressing a secret beside text an attacker can influence (a name they
//! chose, a reflected field) leaks it through the compressed length (BREACH). The operations
//! that answer with one are listed here, in one place, and their requests reach `Compress`
//! without `Accept-Encoding`, so their answers go out as they are (and without `Vary`).
//!
//! An `Accept-Encoding` that accepts nothing we can send (`identity;q=0, br`) gets the answer
//! unencoded too (RFC 9110 allows it), not `Compress`'s plain-text 406, which no operation
//! documents.

use super::routes;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{ACCEPT_ENCODING, AcceptEncoding, Encoding, Header};
use actix_web::middleware::Next;

/// The operations whose answer carries a secret: tokens, API keys, signing secrets, invitation
/// tokens (a new practitioner's too), and calendar feed URLs and the feeds themselves. A test checks that
/// every documented answer with a field of a secret's name belongs to one of them.
pub const SECRET_ANSWERS: [&str; 12] = [
    "create_token",
    "accept_invitation",
    "create_client_invitation",
    "create_practitioner",
    "upsert_practitioner",
    "create_practitioner_invitation",
    "create_api_key",
    "create_webhook",
    "rotate_webhook_secret",
    "create_client_calendar",
    "create_my_calendar",
    "get_calendar_feed",
];

/// Whether the documented operation `operation_id` answers with a secret.
pub fn carries_secret(operation_id: &str) -> bool {
    SECRET_ANSWERS.contains(&operation_id)
}

/// The encodings `Compress` can send (actix-web's `compress-gzip` feature).
const SENDABLE: [Encoding; 3] = [Encoding::identity(), Encoding::gzip(), Encoding::deflate()];

/// Wraps `Compress`: a request for an operation in [`SECRET_ANSWERS`], or one that accepts none
/// of the [`SENDABLE`] encodings, loses its `Accept-Encoding`, so its answer is not compressed.
pub async fn choose_encoding(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let secret = routes::of_request(&req).is_some_and(|route| carries_secret(&route.operation_id));
    let unsatisfiable = AcceptEncoding::parse(&req).is_ok_and(|accepted| accepted.negotiate(SENDABLE.iter()).is_none());
    if secret || unsatisfiable {
        req.headers_mut().remove(ACCEPT_ENCODING);
    }
    next.call(req).await
}
