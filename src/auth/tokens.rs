//! Access tokens: HS256 JWTs with the algorithm pinned and every registered claim validated.

use crate::auth::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "rehabit";
pub const AUDIENCE: &str = "rehabit-api";
/// Access tokens live 15 minutes; refresh tokens renew them.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;
/// Refresh tokens live 30 days (and rotate on every use).
pub const REFRESH_TOKEN_TTL_DAYS: i64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The clinic the token acts in.
    pub clinic: Uuid,
    pub role: Role,
    /// The token family (sign-in) this token belongs to; revoking it ends the token.
    pub sid: Uuid,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: Uuid,
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Its signature verified, but it has expired: refresh it.
    Expired,
    /// Malformed, signed with another key or algorithm, or with wrong claims.
    Invalid,
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "iat"]);
        validation.leeway = 5;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(
        &self,
        user: Uuid,
        clinic: Uuid,
        role: Role,
        family: Uuid,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            clinic,
            role,
            sid: family,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: now + ACCESS_TOKEN_TTL_SECS,
            iat: now,
            jti: Uuid::new_v4(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Validates signature, algorithm, issuer, audience and expiry. `Expired` only for a token
    /// whose signature verified (jsonwebtoken checks the signature before any claim).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenProblem> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenProblem::Expired,
                _ => TokenProblem::Invalid,
            })
    }

    /// Validates everything but expiry: revocation accepts an expired access token.
    pub fn verify_ignoring_expiry(&self, token: &str) -> Option<Claims> {
        let mut v = self.validation.clone();
        v.validate_exp = false;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let (u, c, f) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let t = k.issue(u, c, Role::Admin, f).expect("issues");
        let claims = k.verify(&t).expect("valid");
        assert_eq!(k.verify_ignoring_expiry(&t), Some(claims.clone()));
        assert_eq!(
            (claims.sub, claims.clinic, claims.sid, claims.role),
            (u, c, f, Role::Admin)
        );
    }

    #[test]
    fn rejects_other_keys_alg_none_and_tampering() {
        let k = keys();
        let t = k
            .issue(Uuid::now_v7(), Uuid::now_v7(), Role::Client, Uuid::now_v7())
            .expect("issues");
        assert_eq!(
            TokenKeys::new(b"another-secret-another-secret-xx").verify(&t).err(),
            Some(TokenProblem::Invalid)
        );

        let parts: Vec<&str> = t.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            k.verify(&format!("{none_header}.{}.", parts[1])).err(),
            Some(TokenProblem::Invalid)
        );

        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        payload["role"] = "admin".into();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).expect("json"));
        assert_eq!(
            k.verify(&format!("{}.{forged}.{}", parts[0], parts[2])).err(),
            Some(TokenProblem::Invalid)
        );
    }

    #[test]
    fn expired_only_when_the_signature_verifies() {
        let k = keys();
        let old = Claims {
            sub: Uuid::now_v7(),
            clinic: Uuid::now_v7(),
            role: Role::Practitioner,
            sid: Uuid::now_v7(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: chrono::Utc::now().timestamp() - 3600,
            iat: chrono::Utc::now().timestamp() - 4500,
            jti: Uuid::new_v4(),
        };
        let signed = |secret: &[u8]| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &old, &EncodingKey::from_secret(secret))
                .expect("encodes")
        };
        assert_eq!(
            k.verify(&signed(b"0123456789abcdef0123456789abcdef")).err(),
            Some(TokenProblem::Expired)
        );
        assert_eq!(
            k.verify(&signed(b"another-secret-another-secret-xx")).err(),
            Some(TokenProblem::Invalid)
        );
    }
}
