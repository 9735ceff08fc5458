//! One form for every timestamp in an answer: RFC 3339 in UTC with exactly six fractional digits
//! and `Z` (`2026-12-01T08:26:07.123400Z`). PostgreSQL keeps microseconds, so nothing is lost;
//! chrono's own form drops trailing zeros (`...07.1234Z`, `...07Z`) and would show nanoseconds of
//! a value not yet stored, so a string compared or sorted by a client could change for the same
//! instant.
//!
//! Every `DateTime<Utc>` field of a type serialized into an answer (a DTO, an event's data, a
//! webhook's body, an export) carries `#[serde(serialize_with = "crate::http::timestamp::serialize")]`
//! (or `serialize_option` for an `Option`); JSON built by hand uses [`format`]. A test walks the
//! sources and fails on a field without it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// `2026-12-01T08:26:07.123400Z`: microseconds, UTC, `Z`.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// For `#[serde(serialize_with = "crate::http::timestamp::serialize")]`.
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(t))
}

/// For `#[serde(serialize_with = "crate::http::timestamp::serialize_option")]`: `null` for `None`.
pub fn serialize_option<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Answer {
        #[serde(serialize_with = "crate::http::timestamp::serialize")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
        maybe: Option<DateTime<Utc>>,
    }

    #[test]
    fn always_microseconds_in_utc_with_z() {
        let whole = Utc.with_ymd_and_hms(2026, 12, 1, 8, 26, 7).single().expect("a time");
        let cases = [
            (whole, "2026-12-01T08:26:07.000000Z"),
            (
                whole + chrono::Duration::milliseconds(120),
                "2026-12-01T08:26:07.120000Z",
            ),
            (
                whole + chrono::Duration::microseconds(123_456),
                "2026-12-01T08:26:07.123456Z",
            ),
            // Nanoseconds (a value not stored yet) are cut to what PostgreSQL keeps.
            (
                whole + chrono::Duration::nanoseconds(123_456_789),
                "2026-12-01T08:26:07.123456Z",
            ),
        ];
        for (t, want) in cases {
            assert_eq!(format(&t), want);
            let json = serde_json::to_value(Answer { at: t, maybe: Some(t) }).expect("JSON");
            assert_eq!(json["at"], want);
            assert_eq!(json["maybe"], want);
        }
        let none = serde_json::to_value(Answer { at: whole, maybe: None }).expect("JSON");
        assert!(none["maybe"].is_null());
    }

    /// Every `DateTime<Utc>` field of a type that derives `Serialize` uses the helper, except
    /// the few listed that are never an answer.
    #[test]
    fn every_serialized_timestamp_field_uses_the_helper() {
        // Hashed to compare a replayed session log; its form is fixed by the stored hashes.
        const NOT_ANSWERS: [(&str, &str); 1] = [("sessions/dto.rs", "Content")];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let field = regex::Regex::new(
            r"^\s*(pub(\(crate\))?\s+)?\w+\s*:\s*(Option<)?(chrono::)?DateTime<(chrono::)?Utc>>?\s*,",
        )
        .expect("regex");
        let item = regex::Regex::new(r"^\s*(pub(\(crate\))?\s+)?(struct|enum)\s+(\w+)").expect("regex");
        let mut missing = Vec::new();
        let mut checked = 0;
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("src/").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let name = path
                    .strip_prefix(&root)
                    .expect("under src/")
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&path).expect("a source file");
                let lines: Vec<&str> = text.lines().collect();
                let (mut serialized, mut owner) = (false, String::new());
                for (i, line) in lines.iter().enumerate() {
                    if let Some(m) = item.captures(line) {
                        owner = m[4].to_string();
                        let attrs = lines[..i]
                            .iter()
                            .rev()
                            .take_while(|l| l.trim_start().starts_with("#[") || l.trim_start().starts_with("///"));
                        serialized = attrs
                            .into_iter()
                            .any(|l| l.contains("derive(") && l.contains("Serialize"));
                    }
                    if !serialized || !field.is_match(line) || NOT_ANSWERS.contains(&(name.as_str(), owner.as_str())) {
                        continue;
                    }
                    checked += 1;
                    let attrs: Vec<&&str> = lines[..i]
                        .iter()
                        .rev()
                        .take_while(|l| l.trim_start().starts_with("#[") || l.trim_start().starts_with("///"))
                        .collect();
                    if !attrs.iter().any(|l| l.contains("crate::http::timestamp::serialize")) {
                        missing.push(format!("{name}:{} {owner}: {}", i + 1, line.trim()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "timestamps without the helper:\n{}",
            missing.join("\n")
        );
        assert!(checked > 30, "only {checked} timestamp fields found");
    }
}
