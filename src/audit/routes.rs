//! Which routes the trail covers, read from the OpenAPI document: every documented operation is
//! audited unless it is listed in [`EXEMPT`] with the reason it holds no client's data. A new
//! handler is therefore audited from the day it is registered, and the coverage test calls
//! every operation of the document to prove it.

use actix_web::http::Method;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::Operation;

/// Operations that read and change no client's data, each with its reason. Refusals (403) on
/// them are audited all the same, and sign-ins are audited by their handler.
pub const EXEMPT: &[(&str, &str)] = &[
    ("get_health", "operations: no data"),
    ("get_readiness", "operations: no data"),
    ("get_metrics", "operations: counters only"),
    (
        "create_clinic",
        "sign-up: audited by its handler, which knows the new admin",
    ),
    ("create_token", "sign-in: audited by its handler (success and failure)"),
    ("revoke_token", "ends a sign-in; holds no data"),
    (
        "accept_invitation",
        "audited by its handler, which knows the person accepting",
    ),
    ("list_exercises", "the exercise library: no client's data"),
    ("create_exercise", "the exercise library: no client's data"),
    ("get_exercise", "the exercise library: no client's data"),
    ("update_exercise", "the exercise library: no client's data"),
    ("delete_exercise", "the exercise library: no client's data"),
    ("list_routines", "routine templates: no client's data"),
    ("create_routine", "routine templates: no client's data"),
    ("get_routine", "routine templates: no client's data"),
    ("replace_routine", "routine templates: no client's data"),
    ("update_routine", "routine templates: no client's data"),
    ("delete_routine", "routine templates: no client's data"),
    ("copy_routine", "routine templates: no client's data"),
];

/// One documented operation.
#[derive(Debug, Clone)]
pub struct Route {
    segments: Vec<String>,
    method: Method,
    pub operation_id: String,
    pub audited: bool,
    /// The first 2xx status the operation documents.
    pub success_status: u16,
}

impl Route {
    /// How well `path` fits: `None` when it does not, else the number of literal segments
    /// (so `/v1/clients/by-external-id/{x}` beats `/v1/clients/{id}/{...}`).
    fn fit(&self, segments: &[&str]) -> Option<usize> {
        if self.segments.len() != segments.len() {
            return None;
        }
        let mut literal = 0;
        for (t, s) in self.segments.iter().zip(segments) {
            if t.starts_with('{') && t.ends_with('}') {
                if s.is_empty() {
                    return None;
                }
            } else if t == s {
                literal += 1;
            } else {
                return None;
            }
        }
        Some(literal)
    }

    /// The path's parameters as `(segment before it, value)`: `("clients", "<id>")`.
    pub fn params<'a>(&self, path: &'a str) -> Vec<(&str, &'a str)> {
        let segments: Vec<&str> = path.split('/').collect();
        self.segments
            .iter()
            .enumerate()
            .filter(|(_, t)| t.starts_with('{'))
            .filter_map(|(i, _)| {
                let before = if i > 0 { self.segments[i - 1].as_str() } else { "" };
                segments.get(i).map(|v| (before, *v))
            })
            .collect()
    }

    pub fn is_me(&self) -> bool {
        self.segments.get(2).is_some_and(|s| s == "me")
    }
}

/// Every documented operation.
#[derive(Debug, Clone, Default)]
pub struct AuditRoutes(Vec<Route>);

/// What a success answers: 201 for a creating `POST`, else the first 2xx documented (a
/// handler that may answer another one, such as an upsert creating, says so in the note).
fn success_status(method: &Method, op: &Operation) -> u16 {
    let documented: Vec<u16> = op
        .responses
        .responses
        .keys()
        .filter_map(|k| k.parse::<u16>().ok())
        .filter(|s| (200..300).contains(s))
        .collect();
    if *method == Method::POST && documented.contains(&201) {
        return 201;
    }
    documented.into_iter().min().unwrap_or(200)
}

impl AuditRoutes {
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let mut routes = Vec::new();
        for (template, item) in &doc.paths.paths {
            let ops = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                let operation_id = op.operation_id.clone().unwrap_or_default();
                let success_status = success_status(&method, op);
                routes.push(Route {
                    segments: template.split('/').map(str::to_string).collect(),
                    method,
                    audited: !EXEMPT.iter().any(|(id, _)| *id == operation_id),
                    success_status,
                    operation_id,
                });
            }
        }
        AuditRoutes(routes)
    }

    /// The operation serving `method path`, if one is documented.
    pub fn find(&self, method: &Method, path: &str) -> Option<&Route> {
        let segments: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .filter(|r| r.method == *method)
            .filter_map(|r| r.fit(&segments).map(|score| (score, r)))
            .max_by_key(|(score, _)| *score)
            .map(|(_, r)| r)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.0.iter()
    }
}

/// The resource type a path segment names: `clients` → `client`, `api-keys` → `api_key`.
pub fn singular(segment: &str) -> String {
    let s = segment.replace('-', "_");
    if let Some(stem) = s.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = s.strip_suffix('s') {
        stem.to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_literal_route_wins() {
        let doc = crate::openapi_document();
        let routes = AuditRoutes::from_openapi(&doc);
        let id = uuid::Uuid::now_v7();
        let by_ext = routes
            .find(&Method::GET, "/v1/clients/by-external-id/bk-1")
            .expect("served");
        assert_eq!(by_ext.operation_id, "get_client_by_external_id");
        let agenda = routes
            .find(&Method::GET, &format!("/v1/clients/{id}/agenda"))
            .expect("served");
        assert_eq!(agenda.operation_id, "get_client_agenda");
        assert_eq!(
            agenda.params(&format!("/v1/clients/{id}/agenda")),
            vec![("clients", id.to_string().as_str())]
        );
        assert!(routes.find(&Method::GET, "/v1/nothing").is_none());
        let create = routes.find(&Method::POST, "/v1/clients").expect("served");
        assert_eq!(create.success_status, 201);
    }

    #[test]
    fn exempt_operations_exist() {
        let doc = crate::openapi_document();
        let routes = AuditRoutes::from_openapi(&doc);
        for (id, _) in EXEMPT {
            assert!(routes.iter().any(|r| r.operation_id == *id), "{id} is not an operation");
        }
    }

    #[test]
    fn segments_become_resource_types() {
        assert_eq!(singular("clients"), "client");
        assert_eq!(singular("api-keys"), "api_key");
        assert_eq!(singular("deliveries"), "delivery");
        assert_eq!(singular("me"), "me");
    }
}
