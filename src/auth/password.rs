//! argon2id password hashing, always off the async executor, in reused memory.

use crate::error::ApiError;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, Version};

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

/// Password work is memory-hard: each hash or check fills `Params::DEFAULT_M_COST` KiB
/// (19 MiB). Freed and allocated again on whatever blocking thread runs it, that memory stayed
/// with the allocator, so the process grew by about 19 MiB per thread that had checked a
/// password, and a burst of sign-ins could ask for 19 MiB each at once. Instead, at most
/// [`PERMITS`] run at a time, each with a buffer taken from a pool and put back: password work
/// holds at most `PERMITS × 19 MiB`, allocated once. Extra callers wait their turn (the cores
/// are busy with the others anyway).
const PERMITS: usize = 2;

struct Workspace {
    permits: tokio::sync::Semaphore,
    buffers: std::sync::Mutex<Vec<Vec<Block>>>,
}

fn workspace() -> &'static Workspace {
    static WORKSPACE: std::sync::OnceLock<Workspace> = std::sync::OnceLock::new();
    WORKSPACE.get_or_init(|| Workspace {
        permits: tokio::sync::Semaphore::new(PERMITS),
        buffers: std::sync::Mutex::new(Vec::new()),
    })
}

/// Runs `work` on a blocking thread with a reused buffer of at least `blocks` blocks.
async fn with_memory<T: Send + 'static>(
    blocks: usize,
    work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let ws = workspace();
    let _permit = ws.permits.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        let taken = ws.buffers.lock().ok().and_then(|mut pool| pool.pop());
        let mut buffer = taken.unwrap_or_default();
        if buffer.len() < blocks {
            buffer.resize(blocks, Block::default());
        }
        let answer = work(&mut buffer);
        if let Ok(mut pool) = ws.buffers.lock() {
            pool.push(buffer);
        }
        answer
    })
    .await
    .map_err(ApiError::internal)
}

/// The argon2 output of `password` with `salt`, computed in `memory`.
fn output(argon: &Argon2<'_>, password: &[u8], salt: &[u8], memory: &mut [Block]) -> Result<Output, argon2::Error> {
    let len = argon.params().output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let out = buffer.get_mut(..len).ok_or(argon2::Error::OutputTooLong)?;
    argon.hash_password_into_with_memory(password, salt, out, memory)?;
    Output::new(out).map_err(|_| argon2::Error::OutputTooLong)
}

/// Hashes with argon2id (the crate's recommended parameters) off the async executor; answers
/// the PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
pub async fn hash(password: String) -> Result<String, ApiError> {
    let argon = Argon2::default();
    with_memory(argon.params().block_count(), move |memory| {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(ApiError::internal)?;
        let salt = Salt::new(&salt).map_err(ApiError::internal)?;
        let output = output(&argon, password.as_bytes(), salt.as_ref(), memory).map_err(ApiError::internal)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(argon.params()).map_err(ApiError::internal)?,
            salt: Some(salt),
            hash: Some(output),
        };
        Ok(phc.to_string())
    })
    .await?
}

/// A hash of a password nobody knows, verified against when the account does not exist, so a
/// wrong email costs as much time as a wrong password. Made once, with the same parameters.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = [7u8; 16];
        Argon2::default()
            .hash_password_with_salt(crate::secrets::random_token(24).as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// The argon2 instance and the salt and output a stored hash names.
fn parse_stored(stored: &str) -> Option<(Argon2<'static>, Salt, Output)> {
    let parsed = stored.parse::<PasswordHash>().ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = parsed.version.map_or(Ok(Version::default()), Version::try_from).ok()?;
    let params = Params::try_from(&parsed).ok()?;
    Some((Argon2::new(algorithm, version, params), parsed.salt?, parsed.hash?))
}

/// Verifies off the async executor. `None` as the hash still spends the time, then fails.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    let real = stored.is_some();
    let stored = stored.unwrap_or_else(|| dummy_hash().to_string());
    let Some((argon, salt, expected)) = parse_stored(&stored) else {
        tracing::error!("a stored password hash does not parse");
        return Ok(false);
    };
    with_memory(argon.params().block_count(), move |memory| {
        // `Output`'s equality is constant-time.
        let matches = output(&argon, password.as_bytes(), salt.as_ref(), memory).is_ok_and(|got| got == expected);
        matches && real
    })
    .await
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

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_both_ways() {
        use argon2::PasswordVerifier;
        // Ours verifies with the crate's own verifier...
        let ours = hash("correct horse battery".into()).await.expect("hashes");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
        // ...and the crate's (as stored by earlier versions) with ours.
        let theirs = Argon2::default()
            .hash_password_with_salt(b"another password", b"0123456789abcdef")
            .expect("hashes")
            .to_string();
        assert!(
            verify("another password".into(), Some(theirs.clone()))
                .await
                .expect("runs")
        );
        assert!(!verify("another passwore".into(), Some(theirs)).await.expect("runs"));
        assert!(!verify("x".into(), Some("not a hash".into())).await.expect("runs"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_work_reuses_a_bounded_set_of_buffers() {
        let stored = hash("correct horse battery".into()).await.expect("hashes");
        let checks: Vec<_> = (0..8)
            .map(|_| tokio::spawn(verify("correct horse battery".into(), Some(stored.clone()))))
            .collect();
        for c in checks {
            assert!(c.await.expect("joins").expect("runs"));
        }
        let pool = workspace().buffers.lock().expect("pool");
        assert!(pool.len() <= PERMITS, "{} buffers", pool.len());
    }

    #[test]
    fn rules() {
        assert!(check_password_rules("short").is_err());
        assert!(check_password_rules("long enough!").is_ok());
    }
}
