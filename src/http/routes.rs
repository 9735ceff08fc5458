//! The documented operations, read once from the OpenAPI document, and which one a request is
//! for. Every handler is registered through the document (`routes::configure` via
//! utoipa-actix-web), so the document is the list of what the service serves; the pieces that
//! act on a request before or around its handler ask here:
//!
//! - the default service tells "no such path" (404) from "not with this method" (405, with
//!   `Allow`, RFC 9110): each handler is its own actix resource with a method guard, so a path
//!   served with other methods falls through to it;
//! - strict query strings (`http::query`) look up the operation's parameters;
//! - the audit trail names the operation and the resource its path holds;
//! - compression leaves the answers that carry a secret alone.
//!
//! A request's operation is found once ([`of_request`]) and kept with the request for the others.

use actix_web::HttpMessage;
use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use actix_web::web;
use std::sync::Arc;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::Operation;

/// The methods an operation can have, in the order `Allow` lists them.
const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

/// One documented operation.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    segments: Vec<String>,
    pub operation_id: String,
    /// What a success answers: 201 for a creating `POST`, else the first 2xx documented.
    pub success_status: u16,
}

impl Route {
    fn new(method: Method, template: &str, operation_id: &str, success_status: u16) -> Self {
        Route {
            method,
            segments: template.split('/').map(str::to_string).collect(),
            operation_id: operation_id.to_string(),
            success_status,
        }
    }

    /// How well `path` fits: `None` when it does not, else the number of literal segments
    /// (so `/v1/clients/by-external-id/{x}` beats `/v1/clients/{id}/{...}`). A `{name}`
    /// segment matches any non-empty segment, as actix's default does; `{name}.ics` any that
    /// ends with `.ics` and has more before it.
    fn fit(&self, segments: &[&str]) -> Option<usize> {
        if self.segments.len() != segments.len() {
            return None;
        }
        let mut literal = 0;
        for (t, s) in self.segments.iter().zip(segments) {
            if let Some(rest) = t.strip_prefix('{')
                && let Some(close) = rest.find('}')
            {
                // `{token}.ics`: a parameter with a literal suffix.
                let suffix = &rest[close + 1..];
                if s.len() <= suffix.len() || !s.ends_with(suffix) {
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

    /// A `/v1/me...` operation: about the caller's own account or record.
    pub fn is_me(&self) -> bool {
        self.segments.get(2).is_some_and(|s| s == "me")
    }
}

/// What a success answers: 201 for a creating `POST`, else the first 2xx documented (a handler
/// that may answer another one, such as an upsert creating, says so itself).
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

/// Every documented operation.
#[derive(Debug, Clone, Default)]
pub struct Routes(Vec<Arc<Route>>);

impl Routes {
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let mut routes = Vec::new();
        for (template, item) in &doc.paths.paths {
            let ops = [&item.get, &item.post, &item.put, &item.patch, &item.delete];
            for (method, op) in METHODS.into_iter().zip(ops) {
                let Some(op) = op else { continue };
                let status = success_status(&method, op);
                let id = op.operation_id.as_deref().unwrap_or_default();
                routes.push(Arc::new(Route::new(method, template, id, status)));
            }
        }
        Routes(routes)
    }

    /// The operation serving `method path`, if one is documented: of the templates that
    /// match, the one with the most literal segments.
    pub fn find(&self, method: &Method, path: &str) -> Option<&Arc<Route>> {
        let segments: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .filter(|r| r.method == *method)
            .filter_map(|r| r.fit(&segments).map(|score| (score, r)))
            .max_by_key(|(score, _)| *score)
            .map(|(_, r)| r)
    }

    /// The methods served at `path` (as an `Allow` value), or `None` when no route has that path.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        let methods: Vec<&str> = METHODS
            .iter()
            .filter(|m| self.0.iter().any(|r| r.method == **m && r.fit(&segments).is_some()))
            .map(Method::as_str)
            .collect();
        (!methods.is_empty()).then(|| methods.join(", "))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.0.iter().map(Arc::as_ref)
    }
}

/// The operation found for a request, kept in its extensions.
#[derive(Clone)]
struct Found(Option<Arc<Route>>);

/// The documented operation `req` is for, if any: looked up the first time a middleware asks,
/// then kept with the request, so the path is matched once however many parts need it.
pub fn of_request(req: &ServiceRequest) -> Option<Arc<Route>> {
    if let Some(Found(route)) = req.extensions().get::<Found>() {
        return route.clone();
    }
    let route = req
        .app_data::<web::Data<Routes>>()
        .and_then(|routes| routes.find(req.method(), req.path()).cloned());
    req.extensions_mut().insert(Found(route.clone()));
    route
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Routes {
        let routes = vec![
            Route::new(Method::GET, "/v1/me", "get_me", 200),
            Route::new(Method::PATCH, "/v1/me", "update_me", 200),
            Route::new(Method::GET, "/v1/clients/{id}", "get_client", 200),
            Route::new(Method::PATCH, "/v1/clients/{id}", "update_client", 200),
            Route::new(
                Method::GET,
                "/v1/clients/by-external-id/{external_id}",
                "get_client_by_external_id",
                200,
            ),
            Route::new(Method::GET, "/v1/clients/{id}/agenda", "get_client_agenda", 200),
            Route::new(Method::GET, "/healthz", "get_health", 200),
        ];
        Routes(routes.into_iter().map(Arc::new).collect())
    }

    #[test]
    fn known_paths_list_their_methods() {
        assert_eq!(routes().allowed("/v1/me").as_deref(), Some("GET, PATCH"));
        assert_eq!(routes().allowed("/v1/clients/abc").as_deref(), Some("GET, PATCH"));
        assert_eq!(routes().allowed("/healthz").as_deref(), Some("GET"));
    }

    #[test]
    fn other_paths_are_unknown() {
        assert_eq!(routes().allowed("/v1/clients//"), None);
        assert_eq!(routes().allowed("/v1/clients/"), None);
        assert_eq!(routes().allowed("/healthz/"), None);
        assert_eq!(routes().allowed("/v1/nowhere"), None);
        assert!(routes().find(&Method::GET, "/v1/nothing").is_none());
    }

    #[test]
    fn the_most_literal_route_wins_and_names_its_parameters() {
        let r = routes();
        let by_ext = r.find(&Method::GET, "/v1/clients/by-external-id/bk-1").expect("served");
        assert_eq!(by_ext.operation_id, "get_client_by_external_id");
        let agenda = r.find(&Method::GET, "/v1/clients/abc/agenda").expect("served");
        assert_eq!(agenda.operation_id, "get_client_agenda");
        assert_eq!(agenda.params("/v1/clients/abc/agenda"), vec![("clients", "abc")]);
        assert!(r.find(&Method::GET, "/v1/me").is_some_and(|route| route.is_me()));
    }
}
