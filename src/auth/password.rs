//! argon2id password hashing, always off the async executor.

use crate::error::ApiError;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_LEN: usize = 256;

/// The password rules, as a message for a validation error.
pub fn check_password_rules(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(format!("must be at least {MIN_PASSWORD_LEN} characters"));
    }
    if chars > MAX_PASSWORD_LEN {
        return Err(format!("must be at most {MAX_PASSWORD_LEN} characters"));
    }
    Ok(())
}

/// Hashes with argon2id (the crate's recommended parameters) on a blocking thread.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(ApiError::internal)?;
        Argon2::default()
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

/// A hash of a password nobody knows, verified against when the account does not exist, so a
/// wrong email costs as much time as a wrong password. Made once, with the same parameters.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = [7u8; 16];
        Argon2::default()
            .hash_password_with_salt(crate::auth::random_token(24).as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Verifies on a blocking thread. `None` as the hash still spends the time, then fails.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let hash_str = stored.unwrap_or_else(|| dummy_hash().to_string());
        let Ok(parsed) = hash_str.parse::<PasswordHash>() else {
            tracing::error!("a stored password hash does not parse");
            return false;
        };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real
    })
    .await
    .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_reject() {
        let h = hash("correct horse battery".into()).await.expect("hashes");
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify("correct horse battery".into(), Some(h.clone()))
                .await
                .expect("runs")
        );
        assert!(!verify("wrong horse battery".into(), Some(h)).await.expect("runs"));
        assert!(!verify("anything at all".into(), None).await.expect("runs"));
    }

    #[test]
    fn rules() {
        assert!(check_password_rules("short").is_err());
        assert!(check_password_rules("long enough!").is_ok());
    }
}
