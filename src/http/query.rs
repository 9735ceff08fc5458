//! Strict query strings, checked against the OpenAPI document before any handler runs.
//!
//! Every operation documents its query parameters; [`QueryRules`] reads them from the document
//! once, and [`strict_query`] refuses what the document does not allow, naming the parameter:
//!
//! - a parameter the operation does not take, or one given twice: 400 (a misspelt filter must
//!   never silently return unfiltered data);
//! - a value that does not parse as the parameter's type (a date `YYYY-MM-DD`, a whole number,
//!   a UUID, `true`/`false`): 400 with the expected form;
//! - a parsed value outside the parameter's vocabulary or range, or over its length: 422.
//!
//! So the document and the server cannot disagree about what a query may hold, and a new
//! endpoint is strict the day it is documented. Rules that need more than one parameter (`to`
//! before `from`) stay with the handler, as 422s.

use super::routes::Route;
use crate::error::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use std::collections::HashMap;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{KnownFormat, OpenApi, RefOr};

/// What a query parameter may hold, read from its schema.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Text { max_chars: Option<usize> },
    Date,
    Uuid,
    Boolean,
    Integer { min: Option<f64>, max: Option<f64> },
    OneOf(Vec<String>),
}

#[derive(Debug, Clone)]
struct Param {
    name: String,
    kind: Kind,
}

/// The query parameters of every documented operation, by operation id.
#[derive(Debug, Clone, Default)]
pub struct QueryRules(HashMap<String, Vec<Param>>);

impl QueryRules {
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let mut rules = HashMap::new();
        for item in doc.paths.paths.values() {
            for op in [&item.get, &item.post, &item.put, &item.patch, &item.delete]
                .into_iter()
                .flatten()
            {
                rules.insert(op.operation_id.clone().unwrap_or_default(), query_params(doc, op));
            }
        }
        QueryRules(rules)
    }

    /// Checks a query string against the parameters of the operation `route`.
    pub fn check(&self, route: &Route, query: &str) -> Result<(), ApiError> {
        let Some(params) = self.0.get(&route.operation_id) else {
            return Ok(());
        };
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| ApiError::bad_request("The query string is not valid `name=value` pairs."))?;
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in &pairs {
            let Some(param) = params.iter().find(|p| p.name == *name) else {
                return Err(unknown(name, params));
            };
            if seen.contains(&name.as_str()) {
                return Err(ApiError::bad_query(name, "is given more than once; give it once"));
            }
            seen.push(name);
            check_value(param, value)?;
        }
        Ok(())
    }
}

fn unknown(name: &str, params: &[Param]) -> ApiError {
    // Name what was sent only when it looks like a parameter name; never echo arbitrary text.
    let shown = crate::http::json::safe_field_path(name);
    let takes = if params.is_empty() {
        "this operation takes no query parameters".to_string()
    } else {
        let names: Vec<String> = params.iter().map(|p| format!("`{}`", p.name)).collect();
        format!("this operation takes {}", names.join(", "))
    };
    if shown == name {
        ApiError::bad_query(name, format!("is not a query parameter of this operation; {takes}"))
    } else {
        ApiError::bad_query(
            "query",
            format!("names a parameter this operation does not take; {takes}"),
        )
    }
}

fn check_value(param: &Param, value: &str) -> Result<(), ApiError> {
    let name = param.name.as_str();
    match &param.kind {
        Kind::Text { max_chars } => match max_chars {
            Some(max) if value.chars().count() > *max => {
                Err(ApiError::validation(name, format!("must be at most {max} characters")))
            }
            _ => Ok(()),
        },
        Kind::Date => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .ok()
            .filter(|_| value.len() == 10)
            .map(|_| ())
            .ok_or_else(|| ApiError::bad_query(name, "must be a date `YYYY-MM-DD` that exists, such as `2026-03-01`")),
        Kind::Uuid => uuid::Uuid::try_parse(value)
            .map(|_| ())
            .map_err(|_| ApiError::bad_query(name, "must be a UUID")),
        Kind::Boolean => match value {
            "true" | "false" => Ok(()),
            _ => Err(ApiError::bad_query(name, "must be `true` or `false`")),
        },
        Kind::Integer { min, max } => {
            let n: i64 = value
                .parse()
                .map_err(|_| ApiError::bad_query(name, "must be a whole number"))?;
            // Whole numbers within ±2^53 are exact as f64, and no bound is larger.
            let n = n as f64;
            let range = |min: &Option<f64>, max: &Option<f64>| match (min, max) {
                (Some(a), Some(b)) => format!("must be between {a} and {b}"),
                (Some(a), None) => format!("must be at least {a}"),
                (None, Some(b)) => format!("must be at most {b}"),
                (None, None) => String::new(),
            };
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                Err(ApiError::validation(name, range(min, max)))
            } else {
                Ok(())
            }
        }
        Kind::OneOf(values) => {
            if values.iter().any(|v| v == value) {
                Ok(())
            } else {
                let names: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
                Err(ApiError::validation(
                    name,
                    format!("must be one of {}", names.join(", ")),
                ))
            }
        }
    }
}

fn query_params(doc: &OpenApi, op: &Operation) -> Vec<Param> {
    op.parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p),
            RefOr::Ref(_) => None,
        })
        .filter(|p| p.parameter_in == ParameterIn::Query)
        .map(|p| Param {
            name: p.name.clone(),
            kind: p
                .schema
                .as_ref()
                .map_or(Kind::Text { max_chars: None }, |s| kind_of(doc, s)),
        })
        .collect()
}

/// A parameter's kind, following `$ref`s into the document's components.
fn kind_of(doc: &OpenApi, schema: &RefOr<Schema>) -> Kind {
    let text = Kind::Text { max_chars: None };
    let schema = match schema {
        RefOr::T(s) => s,
        RefOr::Ref(r) => {
            let name = r.ref_location.trim_start_matches("#/components/schemas/");
            match doc.components.as_ref().and_then(|c| c.schemas.get(name)) {
                Some(target) => return kind_of(doc, target),
                None => return text,
            }
        }
    };
    let Schema::Object(o) = schema else { return text };
    if let Some(values) = &o.enum_values {
        return Kind::OneOf(values.iter().filter_map(|v| v.as_str().map(str::to_string)).collect());
    }
    let is = |t: Type| match &o.schema_type {
        SchemaType::Type(x) => *x == t,
        SchemaType::Array(ts) => ts.contains(&t),
        SchemaType::AnyValue => false,
    };
    let format = |f: KnownFormat| matches!(&o.format, Some(SchemaFormat::KnownFormat(k)) if *k == f);
    if is(Type::Integer) {
        Kind::Integer {
            min: o.minimum.as_ref().and_then(number),
            max: o.maximum.as_ref().and_then(number),
        }
    } else if is(Type::Boolean) {
        Kind::Boolean
    } else if format(KnownFormat::Date) {
        Kind::Date
    } else if format(KnownFormat::Uuid) {
        Kind::Uuid
    } else {
        Kind::Text {
            max_chars: o.max_length,
        }
    }
}

fn number(n: &utoipa::Number) -> Option<f64> {
    serde_json::to_value(n).ok().and_then(|v| v.as_f64())
}

/// Refuses a request whose query string the operation's documented parameters do not allow.
pub async fn strict_query(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let route = super::routes::of_request(&req);
    let verdict = match (route, req.app_data::<web::Data<QueryRules>>()) {
        (Some(route), Some(rules)) => rules.check(&route, req.query_string()),
        // Not an operation of the document: its own rules apply.
        _ => Ok(()),
    };
    if let Err(e) = verdict {
        return Ok(req.error_response(e));
    }
    next.call(req).await.map(ServiceResponse::map_into_boxed_body)
}
