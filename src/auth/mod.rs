//! Authentication: password hashing, access and refresh tokens, the `Caller` extractor and the
//! permission model. Handlers for the token endpoints live in `handlers.rs`.

pub mod extractor;
pub mod handlers;
pub mod password;
pub mod permissions;
pub mod queries;
pub mod throttle;
pub mod tokens;

pub use extractor::Caller;
pub use permissions::{Permission, Permissions, Role};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the OS, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS RNG failing is unrecoverable for a service that mints credentials.
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 of a secret, the only form in which tokens and keys are stored.
pub fn sha256(s: &str) -> Vec<u8> {
    Sha256::digest(s.as_bytes()).to_vec()
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::create_token)
        .service(handlers::revoke_token)
        .service(crate::invitations::handlers::accept_invitation);
}
