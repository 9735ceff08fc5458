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

/// How the OpenAPI document describes the values above: schemas whose patterns accept exactly
/// what the parsers accept (the tests check one against the other, character by character), so
/// that a client validating against the document and the server agree.
pub mod openapi {
    use std::borrow::Cow;
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    use utoipa::openapi::{Ref, RefOr};

    /// White space as Rust's `char::is_whitespace` (and so `str::trim`) knows it, as the inside
    /// of a character class.
    const WHITE_SPACE: &str = r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
    /// Neither white space nor a control character: what text can start and end with.
    const VISIBLE: &str = r"[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
    /// Anything but a control character other than tab and newline: what text can hold.
    const INNER: &str = r"[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]";

    /// What [`super::parse_text`] accepts for `max`: 1 to `max` characters once surrounding
    /// white space is trimmed, without control characters but tab and newline.
    pub fn text_pattern(max: usize) -> String {
        format!(
            "^[{WHITE_SPACE}]*{VISIBLE}(?:{INNER}{{0,{inner}}}{VISIBLE})?[{WHITE_SPACE}]*$",
            inner = max.saturating_sub(2)
        )
    }

    /// What a text search parameter takes: nothing but white space, or text as
    /// [`text_pattern`] says.
    pub fn search_pattern(max: usize) -> String {
        format!(
            "^[{WHITE_SPACE}]*(?:{VISIBLE}(?:{INNER}{{0,{inner}}}{VISIBLE})?[{WHITE_SPACE}]*)?$",
            inner = max.saturating_sub(2)
        )
    }

    /// What [`super::parse_external_id`] accepts.
    pub fn external_id_pattern() -> String {
        r"^[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000/]{1,100}$".to_string()
    }

    /// A name (`parse_name`): a person's, a clinic's, an exercise's or a routine's.
    pub struct Name;

    impl utoipa::PartialSchema for Name {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(
                    "A name: 1–200 characters once surrounding white space is trimmed (it is stored \
trimmed), without control characters other than tab and newline.",
                ))
                .min_length(Some(1))
                .pattern(Some(text_pattern(200)))
                .examples(["Sam Lee"])
                .into()
        }
    }

    impl utoipa::ToSchema for Name {
        fn name() -> Cow<'static, str> {
            "Name".into()
        }
    }

    /// An identifier chosen by an outside system (`parse_external_id`).
    pub struct ExternalId;

    impl utoipa::PartialSchema for ExternalId {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(
                    "An id chosen by an outside system such as a booking system: 1–100 characters, \
without white space, control characters or `/`.",
                ))
                .min_length(Some(1))
                .max_length(Some(100))
                .pattern(Some(external_id_pattern()))
                .examples(["bk-1042"])
                .into()
        }
    }

    impl utoipa::ToSchema for ExternalId {
        fn name() -> Cow<'static, str> {
            "ExternalId".into()
        }
    }

    /// Search text in a query is at most this many characters, on every list.
    pub const SEARCH_MAX_CHARS: usize = 200;

    /// The schema of a full-text search parameter: [`search_pattern`] for 200 characters.
    pub fn search_text() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(SEARCH_MAX_CHARS))
            .pattern(Some(search_pattern(SEARCH_MAX_CHARS)))
            .into()
    }

    /// The schema of free search text in a query parameter: at most 200 characters, and no NUL
    /// character, which no path or query string may carry (`http::reject_nul`).
    pub fn query_text() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(SEARCH_MAX_CHARS))
            .pattern(Some(r"^[^\u0000]*$"))
            .into()
    }

    /// A property that is `T`'s named schema or `null`, with `description` beside the choice
    /// (where generators and linters read it) rather than inside the `$ref` branch, which is
    /// where utoipa puts a doc comment. For `#[schema(schema_with = ...)]` functions.
    pub fn nullable_ref<T: utoipa::ToSchema>(description: &str) -> Schema {
        OneOfBuilder::new()
            .item(RefOr::Ref(Ref::from_schema_name(T::name())))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(description))
            .build()
            .into()
    }
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

    /// The document's patterns accept exactly what the parsers accept.
    mod patterns {
        use super::super::openapi::{external_id_pattern, search_pattern, text_pattern};
        use super::super::*;
        use regex::Regex;

        /// Characters alone and in the places where the rules differ (first, inside, last): all
        /// of them up to U+3100 (past the last one the rules name), then a sample of the rest.
        fn samples() -> impl Iterator<Item = String> {
            let codes = (0..=0x3100u32).chain((0x3101..=0x10FFFF).step_by(61));
            codes.filter_map(char::from_u32).flat_map(|c| {
                [
                    c.to_string(),
                    format!("{c}ab"),
                    format!("a{c}b"),
                    format!("ab{c}"),
                    format!(" {c} "),
                ]
            })
        }

        fn agree(pattern: &str, parser: impl Fn(&str) -> bool, also: &[String]) {
            let re = Regex::new(pattern).expect("the pattern compiles");
            for s in samples().chain(also.iter().cloned()) {
                assert_eq!(
                    re.is_match(&s),
                    parser(&s),
                    "{pattern} and the parser disagree on {s:?}"
                );
            }
        }

        fn lengths(around: usize) -> Vec<String> {
            let mut out = vec![String::new(), " ".into(), "\t\n".into()];
            for n in [around - 1, around, around + 1] {
                out.push("x".repeat(n));
                out.push(format!("  {}\n", "y".repeat(n)));
                out.push(format!("a{}b", " ".repeat(n.saturating_sub(2))));
            }
            out
        }

        #[test]
        fn text() {
            agree(&text_pattern(200), |s| parse_text(s, 200).is_ok(), &lengths(200));
            agree(&text_pattern(5), |s| parse_text(s, 5).is_ok(), &lengths(5));
        }

        #[test]
        fn search() {
            let parser = |s: &str| s.trim().is_empty() || parse_text(s, 200).is_ok();
            agree(&search_pattern(200), parser, &lengths(200));
        }

        #[test]
        fn external_ids() {
            agree(&external_id_pattern(), |s| parse_external_id(s).is_ok(), &lengths(100));
        }
    }
}
