//! Webhook signatures: `Rehabit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`,
//! keyed with the secret's UTF-8 bytes. During a secret rotation the header carries one `v1` per
//! live secret; a receiver accepts the request when any of them matches its secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Rehabit-Signature` value, one `v1` per secret.
pub fn header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let mut out = format!("t={timestamp}");
    for secret in secrets {
        out.push_str(",v1=");
        out.push_str(&sign(secret, timestamp, body));
    }
    out
}

/// What a receiver does: true when the header's timestamp is within `tolerance_secs` of `now`
/// and one of its `v1` signatures matches `secret` (compared in constant time).
pub fn verify(header: &str, secret: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return false };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    signatures.iter().any(|s| mac(secret, t, body).verify_slice(s).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_independent_hmac() {
        // printf '%s' '1700000000.{"id":"x"}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            sign("whsec_test", 1_700_000_000, br#"{"id":"x"}"#),
            "80e8d098018f757aa814ab1abb924f35d304affa1d93d29611a54696207eb7c3"
        );
    }

    #[test]
    fn verifies_any_listed_secret_within_the_tolerance() {
        let body = br#"{"id":"e1","type":"ping"}"#;
        let h = header(&["new", "old"], 1000, body);
        assert!(h.starts_with("t=1000,v1="));
        assert!(verify(&h, "new", body, 1000, 300));
        assert!(verify(&h, "old", body, 1200, 300));
        assert!(!verify(&h, "other", body, 1000, 300));
        assert!(!verify(&h, "new", b"tampered", 1000, 300));
        assert!(
            !verify(&h, "new", body, 1000 + 301, 300),
            "a replay after the tolerance fails"
        );
        assert!(!verify("v1=abc", "new", body, 1000, 300));
    }
}
