//! Secrets made and kept by the service: random tokens (refresh tokens, invitations, API keys,
//! webhook secrets, a development JWT key) and the one-way hash they are stored under. On the
//! ground floor so that configuration can mint a key without reaching into authentication.

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
