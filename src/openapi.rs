//! The base OpenAPI document: info, tags, security schemes, and conventions that apply to many
//! operations at once: the `Idempotency-Key` header on creating POSTs, and, for every operation
//! whose handler declares the permission it needs (`security(("bearer" = ["clients:read"]))`
//! next to its `caller.require(Permission::ClientsRead)`), the API-key alternative with that
//! scope, a sentence naming the permission, and the 429 answer of the API keys' rate limit.

use crate::auth::{Permission, Role};
use crate::http::idempotency;
use utoipa::openapi::path::Operation;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ArrayItems, Schema, SchemaType};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement,
    SecurityScheme,
};
use utoipa::openapi::{Content, ContentBuilder, HeaderBuilder, ObjectBuilder, OpenApi, Ref, RefOr, Required, Type};
use utoipa::{Modify, OpenApi as _};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Rehabit API",
        description = "Home exercise programs for physiotherapy, massage and yoga-therapy clinics.\n\n\
Errors are RFC 9457 `application/problem+json`. Lists are cursor-paginated (`limit`, `cursor`, \
`next_cursor`). `PATCH` is JSON Merge Patch; mutable resources carry a `version`, answered as \
`ETag` and checked through `If-Match` (412 when stale). Creating `POST`s honour `Idempotency-Key`.",
        license(name = "Proprietary", identifier = "LicenseRef-Proprietary"),
        contact(name = "Rehabit", url = "https://rehabit.dev"),
    ),
    servers((url = "/", description = "The server that serves this document")),
    tags(
        (name = "auth", description = "Tokens: sign in, refresh, revoke"),
        (name = "clinics", description = "Sign-up of a clinic and its first admin"),
        (name = "exercises", description = "The exercise library: built-ins (read-only, shared by every clinic) and the clinic's own exercises, with full-text search"),
        (name = "me", description = "The signed-in person's own account"),
        (name = "practitioners", description = "The clinic's staff, their invitations, and booking-system upserts"),
        (name = "clients", description = "The people receiving care, their invitations, and booking-system upserts"),
        (name = "api-keys", description = "Server-to-server credentials with scopes (admins only)"),
        (name = "events", description = "The clinic's events in commit order, for polling integrations"),
        (name = "webhooks", description = "Signed deliveries of events to the integrator's endpoints"),
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "routines", description = "Routine templates: ordered exercises with their dosage; built-in templates are copied to be edited"),
        (name = "sessions", description = "Session logs: what clients did, with offline-safe retries, pain flags and their review"),
        (name = "progress", description = "Progress reports: adherence and streaks, pain, left/right measurements and their asymmetry, remote-monitoring windows"),
        (name = "assignments", description = "Homework: routines given to clients with a schedule in their timezone, and the agenda of what is due when"),
        (name = "calendar", description = "Calendar feeds: a client's homework as an iCalendar URL that phone calendars subscribe to, with alarms at the reminder times"),
        (name = "outcomes", description = "Outcome measures: questionnaire definitions (built-in PSFS and LEFS), their schedules, offline-safe responses scored by one engine, and score series with change and MCID"),
        (name = "monitoring", description = "The remote-monitoring ledger: episodes, interactions, data days per 30-day period and management minutes per month, with the codes they support (billing staff)"),
        (name = "audit", description = "The audit trail: who read or changed whose data, when, from where, and how it ended (admins)"),
        (name = "fhir", description = "Rehabit's FHIR R4 definitions (CodeSystem, extension StructureDefinitions), public; the bundle itself is under stewardship"),
        (name = "stewardship", description = "A client's whole record as one document (export), and erasure of a client's personal data"),
    ),
    // Reached only through `schema_with` (a nullable choice) or a query parameter, so named here.
    components(schemas(
        crate::export::handlers::ExportFormat,
        crate::outcomes::dto::LatestScore,
        crate::monitoring::dto::SetupCode,
        crate::sessions::dto::EntrySide,
        crate::sessions::dto::ReviewResponse,
        crate::progress::dto::AsymmetryResponse,
        crate::webhooks::dto::CreatorResponse
    )),
    modifiers(&Conventions)
)]
struct BaseDoc;

struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        // People sign in with OAuth 2's password grant at /v1/auth/token and send the access
        // token as a bearer token; the scopes are Rehabit's permissions, so an operation's
        // security requirement names the permission it needs (and the interactive docs can
        // sign in with the password form).
        let scopes = Scopes::from_iter(
            Permission::ALL
                .iter()
                .map(|p| (p.as_str().to_string(), permission_summary(*p))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::with_refresh_url(
                    "/v1/auth/token",
                    scopes,
                    "/v1/auth/token",
                ))],
                "An access token from `POST /v1/auth/token` (OAuth 2 password and refresh_token grants), sent as \
`Authorization: Bearer <token>`; an API key (`rhk_...`) is accepted there too. A role grants its \
permissions; the scopes listed on an operation are the permission it needs.",
            )),
        );
        // The same bearer token, pasted: the interactive docs' *Authorize* dialog offers a box
        // for a token from `POST /v1/auth/token` (or a demo's curl line) beside the password form.
        components.add_security_scheme(
            ACCESS_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An access token from `POST /v1/auth/token` (or an API key `rhk_...`), sent as \
`Authorization: Bearer <token>`: the same credential as the `bearer` scheme, for pasting one you have.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Api-Key",
                "An API key (`rhk_...`) from `POST /v1/api-keys`; it may do exactly what its scopes say.",
            ))),
        );
    }
}

/// The security scheme of a pasted bearer token; every operation that takes the `bearer`
/// scheme takes it too ([`document_pasted_tokens`]).
const ACCESS_TOKEN: &str = "access_token";

/// Offers [`ACCESS_TOKEN`] wherever the `bearer` scheme is offered: the same credential,
/// which the interactive docs send only for the schemes an operation lists.
fn document_pasted_tokens(op: &mut Operation) {
    let Some(requirements) = op.security.as_mut() else {
        return;
    };
    let takes_bearer = requirements
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .any(|v| v.get("bearer").is_some());
    if takes_bearer {
        requirements.push(SecurityRequirement::new::<_, _, String>(ACCESS_TOKEN, []));
    }
}

pub fn base() -> OpenApi {
    BaseDoc::openapi()
}

fn idempotency_parameter() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "A unique key (1–255 visible ASCII characters) that makes retrying this request safe for 24 hours: \
a replay gets the first answer, the same key with another body is a 422, and a duplicate while the \
first is in flight is a 409.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                // Visible ASCII, as the middleware checks (`http::idempotency::parse_key`).
                .pattern(Some("^[!-~]+$")),
        ))
        .build()
}

/// What a permission allows, for the OAuth 2 scheme's scope list.
fn permission_summary(p: Permission) -> String {
    let (area, verb) = p.as_str().split_once(':').unwrap_or((p.as_str(), ""));
    let area = area.replace('_', " ");
    match verb {
        "read" => format!("Read {area}"),
        _ => format!("Create and change {area}"),
    }
}

/// The permissions an operation declares in its `bearer` security requirement.
pub fn required_permissions(op: &Operation) -> Vec<Permission> {
    let Some(requirements) = op.security.as_ref() else {
        return Vec::new();
    };
    requirements
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter_map(|v| v.get("bearer").and_then(|s| s.as_array()).cloned())
        .flatten()
        .filter_map(|s| s.as_str().and_then(|s| s.parse().ok()))
        .collect()
}

fn integer_header(description: &str) -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
        .description(Some(description))
        .build()
}

fn rate_limited_response() -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description("The API key used up its requests of this minute (limits are per key and per service instance)")
        .header("Retry-After", integer_header("Seconds until the key may call again"))
        .header("RateLimit-Limit", integer_header("Requests a key may make per minute"))
        .header("RateLimit-Remaining", integer_header("Requests left in this minute"))
        .header("RateLimit-Reset", integer_header("Seconds until the minute ends"))
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .into()
}

/// States the permission an operation needs, and what that means for API keys.
fn document_permissions(op: &mut Operation) {
    let perms = required_permissions(op);
    if perms.is_empty() {
        return;
    }
    let names: Vec<String> = perms.iter().map(|p| format!("`{p}`")).collect();
    let for_keys = perms.iter().all(|p| p.grantable_to_keys());
    let sentence = if for_keys {
        format!(
            "**Permission:** {}. API keys need the same scope, and are rate limited (429).",
            names.join(", ")
        )
    } else {
        format!(
            "**Permission:** {} (admins). Not available to API keys.",
            names.join(", ")
        )
    };
    op.description = Some(match op.description.take() {
        Some(d) if !d.is_empty() => format!("{d}\n\n{sentence}"),
        _ => sentence,
    });
    if for_keys {
        op.security
            .get_or_insert_with(Vec::new)
            // An API-key scheme has no scopes in OpenAPI: the key needs the scope that the
            // bearer requirement names and the description states.
            .push(SecurityRequirement::new::<_, _, String>("api_key", []));
        op.responses
            .responses
            .insert("429".to_string(), rate_limited_response());
    }
    // 403: the permission, and who holds it. A handler that lists a 403 of its own (a
    // built-in is read-only, only the logger edits) keeps it, with the permission added.
    let who = |p: &Permission| match (p.grantable_to_keys(), Role::Practitioner.permissions().contains(*p)) {
        (false, _) => " (admins; never an API key)",
        (true, false) => " (admins)",
        (true, true) => "",
    };
    let needs: Vec<String> = perms.iter().map(|p| format!("`{p}`{}", who(p))).collect();
    let needs = format!("Needs {}", needs.join(" and "));
    match op.responses.responses.get_mut("403") {
        Some(RefOr::T(res)) => {
            if !perms.iter().all(|p| res.description.contains(p.as_str())) {
                res.description = format!("{}; or {}", res.description, lowercase_first(&needs));
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            op.responses
                .responses
                .insert("403".to_string(), RefOr::T(problem_response(needs)));
        }
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The answers every operation that takes `Idempotency-Key` can give because of the key:
/// 409 while a request with the same key is still running, 422 when the key was already used
/// with another request.
const KEY_ANSWERS: [(&str, &str); 2] = [
    ("409", "a request with the same `Idempotency-Key` is still in progress"),
    ("422", "the `Idempotency-Key` was already used with another request"),
];

/// Documents [`KEY_ANSWERS`] on `op`: a new problem response where the status is missing, or a
/// clause added to a description that does not mention the key yet.
fn document_key_answers(op: &mut Operation) {
    for (status, why) in KEY_ANSWERS {
        match op.responses.responses.get_mut(status) {
            Some(RefOr::T(res)) if !res.description.contains("Idempotency-Key") => {
                res.description = format!("{}; or {why}", res.description);
            }
            Some(_) => {}
            None => {
                let mut first = why.chars();
                let description = first
                    .next()
                    .map(|c| c.to_uppercase().chain(first).collect::<String>())
                    .unwrap_or_default();
                let problem = ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build();
                op.responses.responses.insert(
                    status.to_string(),
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(description)
                            .content("application/problem+json", problem)
                            .build(),
                    ),
                );
            }
        }
    }
}

/// Operations that answer from memory at once (no database, nothing to wait for).
const INSTANT: [&str; 2] = ["/healthz", "/metrics"];

/// The answers of the bounded waits (`http::limits`, `db::outage`): every operation but the
/// instant ones can answer 503 with `Retry-After` (the database unreachable or too busy, or the
/// request past its time limit), and one that takes a body 408 when the body is too slow.
/// Written out on each operation, as the 429 is (the contract lint reads answers unresolved).
fn document_bounded_waits(op: &mut Operation, path: &str) {
    if INSTANT.contains(&path) {
        return;
    }
    match op.responses.responses.get_mut("503") {
        Some(RefOr::T(res)) => {
            res.headers
                .entry("Retry-After".to_string())
                .or_insert_with(|| retry_after_header().into());
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            op.responses.responses.insert("503".to_string(), unavailable_response());
        }
    }
    if op.request_body.is_some() && !op.responses.responses.contains_key("408") {
        op.responses
            .responses
            .insert("408".to_string(), body_timeout_response());
    }
}

fn retry_after_header() -> utoipa::openapi::Header {
    integer_header("Seconds to wait before retrying")
}

fn problem_content() -> Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build()
}

fn unavailable_response() -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(
            "The database is unreachable or too busy to answer in time, or the request ran past its time \
limit. Retry after `Retry-After` seconds; a creating `POST` retried with its `Idempotency-Key` never \
makes a second resource",
        )
        .header("Retry-After", retry_after_header())
        .content("application/problem+json", problem_content())
        .into()
}

fn body_timeout_response() -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description("The request body did not arrive within the time allowed after its headers")
        .content("application/problem+json", problem_content())
        .into()
}

/// No string in a JSON request body may hold a NUL character: `http::json` refuses one with a
/// 422 (PostgreSQL cannot store it). Says so, as a pattern, on every string of the request
/// bodies (their own schemas and the named ones they use) that has no pattern, format or
/// vocabulary of its own to say more.
fn document_no_nul(doc: &mut OpenApi) {
    const NO_NUL: &str = r"^[^\u0000]*$";

    fn visit(schema: &mut RefOr<Schema>, names: &mut Vec<String>) {
        match schema {
            RefOr::Ref(r) => {
                if let Some(name) = r.ref_location.strip_prefix("#/components/schemas/") {
                    names.push(name.to_string());
                }
            }
            RefOr::T(Schema::Object(o)) => {
                let string = match &o.schema_type {
                    SchemaType::Type(t) => *t == Type::String,
                    SchemaType::Array(ts) => ts.contains(&Type::String),
                    SchemaType::AnyValue => false,
                };
                if string && o.pattern.is_none() && o.format.is_none() && o.enum_values.is_none() {
                    o.pattern = Some(NO_NUL.to_string());
                }
                o.properties.values_mut().for_each(|p| visit(p, names));
            }
            RefOr::T(Schema::Array(a)) => {
                if let ArrayItems::RefOrSchema(items) = &mut a.items {
                    visit(items, names);
                }
            }
            RefOr::T(Schema::OneOf(x)) => x.items.iter_mut().for_each(|i| visit(i, names)),
            RefOr::T(Schema::AllOf(x)) => x.items.iter_mut().for_each(|i| visit(i, names)),
            RefOr::T(Schema::AnyOf(x)) => x.items.iter_mut().for_each(|i| visit(i, names)),
            RefOr::T(_) => {}
        }
    }

    let mut names = Vec::new();
    for item in doc.paths.paths.values_mut() {
        let ops = [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for op in ops.into_iter().flatten() {
            if let Some(RefOr::T(body)) = op.request_body.as_mut() {
                for content in body.content.values_mut() {
                    if let RefOr::T(Content {
                        schema: Some(schema), ..
                    }) = content
                    {
                        visit(schema, &mut names);
                    }
                }
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    while let Some(name) = names.pop() {
        if seen.insert(name.clone())
            && let Some(schema) = components.schemas.get_mut(&name)
        {
            visit(schema, &mut names);
        }
    }
}

/// The 401 every secured operation shares, a component of the document.
const UNAUTHORIZED: &str = "Unauthorized";

fn unauthorized_response() -> utoipa::openapi::Response {
    let mut res = problem_response(
        "No credentials, or a token or key that cannot be used (malformed, expired, revoked, or its access ended)"
            .to_string(),
    );
    res.headers.insert(
        "WWW-Authenticate".to_string(),
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(
                "`Bearer realm=\"rehabit\"`; for a credential that was sent, also `error=\"invalid_token\"` and an `error_description` (RFC 6750)",
            ))
            .build()
            .into(),
    );
    res
}

fn problem_response(description: String) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

/// Whether an operation needs credentials: it has a security requirement that names a scheme
/// (`security(())` renders as one empty requirement, which means "none needed").
fn is_secured(op: &Operation) -> bool {
    op.security.iter().flatten().any(|r| {
        serde_json::to_value(r)
            .ok()
            .and_then(|v| v.as_object().map(|o| !o.is_empty()))
            .unwrap_or(false)
    })
}

/// The answers every operation gives because of its shape, with one wording each: 400 for a
/// request that cannot be read (every operation refuses unknown query parameters,
/// `http::query`), 401 with its challenge on operations that need credentials, and 422 where a
/// query parameter has a range, a vocabulary or a length (`http::query`).
fn document_generic_answers(op: &mut Operation) {
    let params: Vec<&Parameter> = op
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p),
            RefOr::Ref(_) => None,
        })
        .collect();
    let has_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
    let query: Vec<&Parameter> = params
        .iter()
        .copied()
        .filter(|p| p.parameter_in == ParameterIn::Query)
        .collect();
    let mut unreadable = vec!["an unknown or repeated query parameter".to_string()];
    if !query.is_empty() {
        unreadable.push("a query parameter that does not parse as its type (a date `YYYY-MM-DD`, a whole number, a UUID, `true`/`false`, a cursor this API gave out)".into());
    }
    if has_path {
        unreadable.push("a path parameter that does not parse (an id that is not a UUID)".into());
    }
    if op.request_body.is_some() {
        unreadable.push("a body that is not valid JSON (or form)".into());
    }
    if params
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Header && p.name == "If-Match")
    {
        unreadable.push("an empty `If-Match`".into());
    }
    if params.iter().any(|p| p.name == "Idempotency-Key") {
        unreadable.push("a malformed `Idempotency-Key`".into());
    }
    if op.request_body.is_some() {
        let responses = &mut op.responses.responses;
        responses.insert(
            "413".to_string(),
            RefOr::T(problem_response(format!(
                "The body is larger than {} bytes",
                crate::http::json::BODY_LIMIT
            ))),
        );
        responses.insert(
            "415".to_string(),
            RefOr::T(problem_response(
                "The body's `Content-Type` is not one this operation reads (see the request body)".to_string(),
            )),
        );
    }
    if params
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Header && p.name == "If-Match")
    {
        op.responses.responses.entry("412".to_string()).or_insert_with(|| {
            RefOr::T(problem_response(
                "`If-Match` does not name the current version: fetch the resource again and reapply the change"
                    .to_string(),
            ))
        });
    }
    let last = unreadable.pop().unwrap_or_default();
    let listed = if unreadable.is_empty() {
        last
    } else {
        format!("{}, or {last}", unreadable.join(", "))
    };
    op.responses.responses.insert(
        "400".to_string(),
        RefOr::T(problem_response(format!(
            "The request cannot be read: {listed}. `errors` names the parameter or field"
        ))),
    );
    if is_secured(op) {
        op.responses
            .responses
            .insert("401".to_string(), RefOr::Ref(Ref::from_response_name(UNAUTHORIZED)));
    }
    let ruled = query.iter().any(|p| match &p.schema {
        Some(RefOr::Ref(_)) => true, // a named vocabulary
        Some(RefOr::T(Schema::Object(o))) => {
            o.minimum.is_some() || o.maximum.is_some() || o.max_length.is_some() || o.enum_values.is_some()
        }
        _ => false,
    });
    if ruled {
        const CLAUSE: &str = "a query parameter outside its range, vocabulary or length";
        match op.responses.responses.get_mut("422") {
            Some(RefOr::T(res)) if !res.description.contains("query parameter") => {
                res.description = format!("{}; or {CLAUSE}", res.description);
            }
            Some(_) => {}
            None => {
                let mut first = CLAUSE.chars();
                let description = first
                    .next()
                    .map(|c| c.to_uppercase().chain(first).collect::<String>())
                    .unwrap_or_default();
                op.responses
                    .responses
                    .insert("422".to_string(), RefOr::T(problem_response(description)));
            }
        }
    }
}

/// Applies conventions that follow from the routes once they are all known.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    doc.components
        .get_or_insert_with(Default::default)
        .responses
        .insert(UNAUTHORIZED.to_string(), RefOr::T(unauthorized_response()));
    for (path, item) in doc.paths.paths.iter_mut() {
        if let Some(op) = item.post.as_mut()
            && idempotency::applies_to(&actix_web::http::Method::POST, path)
        {
            op.parameters
                .get_or_insert_with(Vec::new)
                .push(RefOr::T(idempotency_parameter()));
            document_key_answers(op);
        }
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            document_permissions(op);
            document_pasted_tokens(op);
            document_generic_answers(op);
            document_bounded_waits(op, path);
        }
    }
    document_no_nul(&mut doc);
    document_if_match(&mut doc);
    reference_page_items(&mut doc);
    drop_unreferenced_schemas(&mut doc);
    doc
}

/// A page of a list (`Page_X`) refers to its item schema `X` instead of repeating it inline
/// (as a generic `Page<T>` is rendered), so generated clients have one type per item.
fn reference_page_items(doc: &mut OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let pages: Vec<String> = components
        .schemas
        .keys()
        .filter(|name| name.starts_with("Page_"))
        .cloned()
        .collect();
    for page in pages {
        let item = page["Page_".len()..].to_string();
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(&page) else {
            continue;
        };
        let Some(RefOr::T(Schema::Array(array))) = object.properties.get_mut("items") else {
            continue;
        };
        let ArrayItems::RefOrSchema(inner) = &mut array.items else {
            continue;
        };
        let inline = std::mem::replace(inner.as_mut(), Ref::from_schema_name(&item).into());
        components.schemas.entry(item).or_insert(inline);
    }
}

/// Removes component schemas nothing refers to. A generic list (`Page<T>`) embeds its item
/// schema, so an item type used nowhere else would be listed as a component no operation uses.
fn drop_unreferenced_schemas(doc: &mut OpenApi) {
    fn refs(value: &serde_json::Value, found: &mut std::collections::BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", serde_json::Value::String(r)) => {
                            if let Some(name) = r.strip_prefix("#/components/schemas/") {
                                found.insert(name.to_string());
                            }
                        }
                        _ => refs(v, found),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }
    // Removing a schema can leave others unreferenced: repeat until nothing changes.
    loop {
        let Ok(value) = serde_json::to_value(&*doc) else { return };
        let mut used = std::collections::BTreeSet::new();
        refs(&value, &mut used);
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        let before = components.schemas.len();
        components.schemas.retain(|name, _| used.contains(name));
        if components.schemas.len() == before {
            return;
        }
    }
}

/// `If-Match` holds one or more ETags (or `*`): an empty header is malformed and answered 400,
/// so its schema says it is not empty.
fn document_if_match(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in [&mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten() {
            for param in op.parameters.iter_mut().flatten() {
                if let RefOr::T(p) = param
                    && p.name == "If-Match"
                {
                    p.schema = Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .min_length(Some(1))
                            .into(),
                    );
                }
            }
        }
    }
}
