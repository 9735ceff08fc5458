//! Values with rules, parsed at the boundary so handlers never pass raw strings inward.

use std::fmt;

/// An email address, trimmed and lower-cased (emails are unique case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_lowercase();
        let bad = || "must be a valid email address".to_string();
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(bad());
        }
        Ok(Email(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name: trimmed, 1–200 characters, no control characters.
pub fn parse_name(raw: &str) -> Result<String, String> {
    parse_text(raw, 200)
}

/// Trimmed text of 1..=max characters without control characters (newlines allowed).
pub fn parse_text(raw: &str, max: usize) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("must not contain control characters".into());
    }
    Ok(s.to_string())
}

/// An identifier chosen by an outside system: 1–100 printable characters without spaces or `/`.
pub fn parse_external_id(raw: &str) -> Result<String, String> {
    if raw.is_empty() || raw.chars().count() > 100 {
        return Err("must be 1 to 100 characters".into());
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
        return Err("must not contain spaces, control characters or `/`".into());
    }
    Ok(raw.to_string())
}

/// An IANA timezone name (`Europe/London`), in its canonical spelling.
pub fn parse_timezone(raw: &str) -> Result<chrono_tz::Tz, String> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .map_err(|_| "must be an IANA timezone name such as `Europe/London`".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("  Ana@Clinic.Example ").expect("valid").as_str(),
            "ana@clinic.example"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.io",
            "a b@x.io",
            "ana@localhost",
            "ana@x..io",
            "a@b@c.io",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn names_and_external_ids() {
        assert_eq!(parse_name("  Sam Lee ").expect("valid"), "Sam Lee");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"x".repeat(201)).is_err());
        assert!(parse_external_id("bk-1042").is_ok());
        assert!(parse_external_id("a/b").is_err());
        assert!(parse_external_id("").is_err());
    }

    #[test]
    fn timezones() {
        assert_eq!(parse_timezone("Europe/London").expect("valid").name(), "Europe/London");
        assert!(parse_timezone("Mars/Olympus").is_err());
        assert!(parse_timezone("").is_err());
    }
}
