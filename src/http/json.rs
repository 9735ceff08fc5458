//! The JSON body extractor every handler uses.
//!
//! Unlike `actix_web::web::Json` it names the offending field in a 422 (through
//! `serde_path_to_error`), answers 400 only for JSON that does not parse, 413 for bodies over
//! the limit and 415 for another media type, all as problem documents.

use crate::error::{ApiError, FieldError};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use std::ops::Deref;

/// Largest request body accepted (1 MiB).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A JSON request body of type `T`; `application/json` and `application/merge-patch+json`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

pub fn is_json_content_type(req: &HttpRequest) -> bool {
    let Some(ct) = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence == "application/merge-patch+json" || essence.ends_with("+json")
}

pub fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported media type",
        "Send the body as application/json.",
    )
}

pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload too large",
        format!("The request body is larger than {BODY_LIMIT} bytes."),
    )
}

/// Whether a JSON text holds a NUL character (`\u0000`) in some string. PostgreSQL cannot
/// store NUL in text, so such input is refused at the door instead of failing in the database.
pub fn contains_escaped_nul(bytes: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\\' {
            backslashes += 1;
            continue;
        }
        // An odd run of backslashes escapes this character.
        if backslashes % 2 == 1 && *b == b'u' && bytes.get(i + 1..i + 5) == Some(b"0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

/// The paths (`items[2].notes`) of the strings in `value` that hold a NUL character.
fn nul_paths(value: &serde_json::Value, path: String, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) if s.contains('\0') => {
            out.push(if path.is_empty() { "body".into() } else { path })
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                nul_paths(item, format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                nul_paths(item, sub, out);
            }
        }
        _ => {}
    }
}

/// JSON Schema's `integer` is any number without a fractional part, so to the document (and
/// to the clients generated from it) `12.0` and `1.2e1` are integers as much as `12` is; serde's
/// integer types take only the last. Returns the JSON with such numbers written as integers, or
/// `None` when it has none (or does not parse: the caller reports that).
fn whole_numbers_as_integers(bytes: &[u8]) -> Option<Vec<u8>> {
    fn rewrite(value: &mut serde_json::Value) -> bool {
        match value {
            serde_json::Value::Number(n) => {
                // Within ±2^63, where every whole f64 is an i64.
                const LIMIT: f64 = 9_223_372_036_854_775_808.0;
                match n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0 && f.abs() < LIMIT) {
                    Some(f) => {
                        *n = (f as i64).into(); // whole and in range: exact
                        true
                    }
                    None => false,
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().fold(false, |changed, v| rewrite(v) | changed),
            serde_json::Value::Object(map) => map.values_mut().fold(false, |changed, v| rewrite(v) | changed),
            _ => false,
        }
    }
    let mut value = serde_json::from_slice::<serde_json::Value>(bytes).ok()?;
    if rewrite(&mut value) {
        serde_json::to_vec(&value).ok()
    } else {
        None
    }
}

/// Parses JSON bytes into `T`, telling syntax errors (400) from rule errors (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if contains_escaped_nul(bytes) {
        let mut fields = Vec::new();
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
            nul_paths(&value, String::new(), &mut fields);
        }
        if fields.is_empty() {
            fields.push("body".to_string()); // a NUL in a key
        }
        return Err(ApiError::validation_errors(
            fields
                .into_iter()
                .map(|field| FieldError {
                    field,
                    message: "must not contain a NUL character (\\u0000)".into(),
                })
                .collect(),
        ));
    }
    let normalized = whole_numbers_as_integers(bytes);
    let bytes = normalized.as_deref().unwrap_or(bytes);
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(super::objects_only::ObjectsOnly(de)) {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            use serde_json::error::Category;
            // serde_json calls some type mismatches (a number where an enum goes) syntax
            // errors; if the document parses as JSON at all, the caller broke a rule, not JSON.
            let well_formed = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
            match inner.classify() {
                Category::Data | Category::Syntax if well_formed || inner.classify() == Category::Data => {
                    let field = safe_field_path(&path);
                    Err(ApiError::validation_errors(vec![FieldError {
                        field,
                        message: clean_serde_message(&inner),
                    }]))
                }
                // serde_json's syntax messages name a position, never the text there.
                _ => Err(ApiError::bad_request(format!("The body is not valid JSON: {}.", inner))),
            }
        }
    }
}

/// For an optional body field that may be left out but not sent as `null`:
/// `#[serde(default, deserialize_with = "crate::http::json::absent_or_value")]` on an `Option<T>`.
/// The document calls such a field a plain (non-nullable) value, and the server agrees: `null`
/// is a 422 naming the field, not a silent "left out".
pub fn absent_or_value<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// serde's messages end with "at line 1 column 12"; the field name is more useful than that.
fn clean_serde_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => &msg,
    };
    describe_data_error(msg)
}

/// Says what a value breaks without repeating the value. serde's messages quote what was sent
/// (`unknown variant `hunter2``, `invalid type: string "..."`), and what was sent may be a
/// password in the wrong field or a whole body read as a form key: an unreadable input is
/// described, never echoed, in an answer or a log line.
pub fn describe_data_error(msg: &str) -> String {
    let expected = |rest: &str| {
        rest.split_once(", expected ").map(|(_, e)| e.to_string()).or_else(|| {
            rest.split_once(", there are no ")
                .map(|(_, e)| format!("nothing: there are no {e}"))
        })
    };
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        return match expected(rest) {
            Some(e) => format!("is not a field of this request; expected {e}"),
            None => "is not a field of this request".into(),
        };
    }
    if let Some(rest) = msg.strip_prefix("unknown variant ") {
        return match expected(rest) {
            Some(e) => format!("must be {e}"),
            None => "is not an accepted value".into(),
        };
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let sent = match rest.split([' ', ',']).next().unwrap_or("") {
            "string" => "a string",
            "integer" => "an integer",
            "floating" => "a number with a fraction",
            "boolean" => "a boolean",
            "map" => "an object",
            "sequence" => "an array",
            "null" | "unit" => "null",
            _ => "a value of another type",
        };
        return match expected(rest) {
            Some(e) => format!("must be {e}, not {sent}"),
            None => format!("must not be {sent}"),
        };
    }
    if let Some(rest) = msg.strip_prefix("invalid value: ") {
        return match expected(rest) {
            Some(e) => format!("must be {e}"),
            None => "is not an accepted value".into(),
        };
    }
    if msg.starts_with("UUID parsing failed") {
        return "must be a UUID".into();
    }
    msg.to_string()
}

/// A field path fit to name in an answer: the dotted names (`snake_case`, at most 64
/// characters each) and indexes that lead to it. A segment that is no such name (a key made of
/// a whole body read as a form, say) and whatever follows it is left out: the path then names
/// the object that holds it, or the body.
pub fn safe_field_path(path: &str) -> String {
    let is_name = |s: &str| {
        (1..=64).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut kept = String::new();
    for segment in path.split('.') {
        let (name, indexes) = segment.split_once('[').map_or((segment, ""), |(n, i)| (n, i));
        let indexes_ok = indexes.is_empty()
            || indexes
                .trim_end_matches(']')
                .split("][")
                .all(|i| !i.is_empty() && i.chars().all(|c| c.is_ascii_digit()));
        if !is_name(name) || !indexes_ok {
            break;
        }
        if !kept.is_empty() {
            kept.push('.');
        }
        kept.push_str(segment);
    }
    if kept.is_empty() { "body".to_string() } else { kept }
}

/// Reads the whole body, enforcing the limit.
pub async fn read_body(req: &HttpRequest, payload: &mut Payload) -> Result<web::Bytes, ApiError> {
    if let Some(len) = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > BODY_LIMIT
    {
        return Err(payload_too_large());
    }
    let mut body = web::BytesMut::new();
    use futures_util::StreamExt;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            super::limits::body_timeout_error(&e, req)
                .unwrap_or_else(|| ApiError::bad_request(format!("Could not read the body: {e}")))
        })?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(payload_too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json_content_type(&req) {
                return Err(unsupported_media_type());
            }
            let bytes = read_body(&req, &mut payload).await?;
            parse_json(&bytes).map(Json)
        })
    }
}

/// A JSON body that may be left out: no body (or only white space) or `null` is `None`; anything
/// else must be JSON of type `T`, with the same answers as [`Json`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let bytes = read_body(&req, &mut payload).await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(None));
            }
            if !is_json_content_type(&req) {
                return Err(unsupported_media_type());
            }
            // `null` is a body left out too: the document describes these bodies as `T` or null.
            parse_json::<Option<T>>(&bytes).map(OptionalJson)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_integers() {
        #[derive(Debug, serde::Deserialize)]
        struct Counts {
            sets: i32,
            items: Vec<i64>,
        }
        let c: Counts = parse_json(br#"{"sets": 2.0, "items": [1e2, -3.0, 4]}"#).expect("integers");
        assert_eq!((c.sets, c.items), (2, vec![100, -3, 4]));
        let e = parse_json::<Counts>(br#"{"sets": 2.5, "items": []}"#).expect_err("a fraction");
        assert_eq!(e.field_errors()[0].field, "sets");
        assert!(
            whole_numbers_as_integers(br#"{"a": 1, "b": "2.0"}"#).is_none(),
            "nothing to rewrite"
        );
        assert!(
            whole_numbers_as_integers(br#"{"a": 1e300}"#).is_none(),
            "out of range stays a float"
        );
    }

    #[test]
    fn rule_errors_never_repeat_what_was_sent() {
        crate::text_enum! {
            /// A closed vocabulary, as the token endpoint's `grant_type`.
            enum Kind {
                Password => "password",
                RefreshToken => "refresh_token",
            }
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[expect(dead_code, reason = "only deserialized")]
        struct Req {
            kind: Kind,
            sets: Option<i32>,
            id: Option<uuid::Uuid>,
        }
        assert_eq!(Kind::ALL.len(), 2);
        for body in [
            r#"{"kind": "secret-hunter2"}"#,
            r#"{"kind": "password", "sets": "secret-hunter2"}"#,
            r#"{"kind": "password", "id": "secret-hunter2"}"#,
            r#"{"kind": "password", "secret-hunter2": 1}"#,
            r#"{"kind": "password", "sets": {"secret-hunter2": 1}}"#,
            r#"{"kind": "password", "sets": 1, "id": null, "x": "secret-hunter2"#,
        ] {
            let e = parse_json::<Req>(body.as_bytes()).expect_err("refused");
            let shown = format!("{e} {:?}", e.problem());
            assert!(!shown.contains("hunter2"), "{body} -> {shown}");
        }
        let e = parse_json::<Req>(br#"{"kind": "secret-hunter2"}"#).expect_err("refused");
        assert_eq!(e.field_errors()[0].field, "kind");
        assert!(e.field_errors()[0].message.contains("`password`"), "{e}");
        let e = parse_json::<Req>(br#"{"kind": "password", "primary_practitioner": 1}"#).expect_err("refused");
        assert_eq!(
            e.field_errors()[0].field,
            "primary_practitioner",
            "a misspelt field is named"
        );
        assert_eq!(safe_field_path("items[2].notes"), "items[2].notes");
        assert_eq!(safe_field_path(r#"{"grant_type":"password"}"#), "body");
        assert_eq!(safe_field_path("admin.pass word"), "admin");
        let e = parse_json::<Req>(br#"{"kind": "password", "sets": "x"}"#).expect_err("refused");
        assert_eq!(e.field_errors()[0].message, "must be i32, not a string");
    }

    #[test]
    fn finds_escaped_nul_only_where_it_is_one() {
        assert!(contains_escaped_nul(br#"{"a": "x\u0000y"}"#));
        assert!(
            !contains_escaped_nul(br#"{"a": "x\\u0000y"}"#),
            "an escaped backslash, then text"
        );
        assert!(contains_escaped_nul(br#"{"a": "x\\\u0000"}"#));
        assert!(!contains_escaped_nul(br#"{"a": "u0000"}"#));
        let e = parse_json::<serde_json::Value>(br#"{"name": "a\u0000b", "items": [{"notes": "\u0000"}]}"#)
            .expect_err("refused");
        let fields: Vec<&str> = e.field_errors().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["items[0].notes", "name"]);
    }
}
