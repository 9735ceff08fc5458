//! Which operations the trail covers: every documented operation (`http::routes`) is audited
//! unless it is listed in [`EXEMPT`] with the reason it holds no client's data. A new
//! handler is therefore audited from the day it is registered, and the coverage test calls
//! every operation of the document to prove it.

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
    (
        "get_fhir_code_system",
        "public FHIR definitions: no client's data, no caller",
    ),
    (
        "get_fhir_structure_definition",
        "public FHIR definitions: no client's data, no caller",
    ),
];

/// Whether the trail covers an operation: every one but those in [`EXEMPT`].
pub fn is_audited(operation_id: &str) -> bool {
    !EXEMPT.iter().any(|(id, _)| *id == operation_id)
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
    fn segments_become_resource_types() {
        assert_eq!(singular("clients"), "client");
        assert_eq!(singular("api-keys"), "api_key");
        assert_eq!(singular("deliveries"), "delivery");
        assert_eq!(singular("me"), "me");
    }
}
