//! `405 Method Not Allowed` for a path the API serves, asked with a method it does not serve.
//!
//! Each handler is its own actix resource with a method guard, so a request whose path matches
//! but whose method does not falls through to the default service. That service consults the
//! routes listed in the OpenAPI document (every handler is registered through it) to tell
//! "no such path" (404) from "not with this method" (405, with `Allow`, RFC 9110).

use utoipa::openapi::OpenApi;

/// The methods an OpenAPI path item can hold, in the order `Allow` lists them.
const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"];

/// The documented paths and the methods each answers.
#[derive(Debug, Clone, Default)]
pub struct KnownRoutes(Vec<(Vec<String>, Vec<&'static str>)>);

impl KnownRoutes {
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let served = [
                    item.get.is_some(),
                    item.head.is_some(),
                    item.post.is_some(),
                    item.put.is_some(),
                    item.patch.is_some(),
                    item.delete.is_some(),
                    item.options.is_some(),
                    item.trace.is_some(),
                ];
                let methods = METHODS
                    .into_iter()
                    .zip(served)
                    .filter_map(|(name, present)| present.then_some(name))
                    .collect();
                (template.split('/').map(str::to_string).collect(), methods)
            })
            .collect();
        KnownRoutes(routes)
    }

    /// The methods served at `path` (as an `Allow` value), or `None` when no route has that path.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        let matching: Vec<&Vec<&str>> = self
            .0
            .iter()
            .filter(|(template, _)| matches(template, &segments))
            .map(|(_, methods)| methods)
            .collect();
        let methods: Vec<&str> = METHODS
            .into_iter()
            .filter(|m| matching.iter().any(|served| served.contains(m)))
            .collect();
        (!methods.is_empty()).then(|| methods.join(", "))
    }
}

/// A `{name}` template segment matches any non-empty segment, as actix's default does.
fn matches(template: &[String], segments: &[&str]) -> bool {
    template.len() == segments.len()
        && template.iter().zip(segments).all(|(t, s)| {
            if t.starts_with('{') && t.ends_with('}') {
                !s.is_empty()
            } else {
                t == s
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> KnownRoutes {
        let seg = |p: &str| p.split('/').map(str::to_string).collect();
        KnownRoutes(vec![
            (seg("/v1/me"), vec!["GET", "PATCH"]),
            (seg("/v1/clients/{id}"), vec!["GET", "PATCH"]),
            (seg("/healthz"), vec!["GET"]),
        ])
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
    }
}
