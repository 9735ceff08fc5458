//! The base OpenAPI document: info, tags, security schemes, and conventions that apply to many
//! operations at once (the `Idempotency-Key` header on creating POSTs).

use crate::http::idempotency;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ArrayItems, Schema, SchemaType};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, ContentBuilder, ObjectBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Type};
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
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "routines", description = "Routine templates: ordered exercises with their dosage; built-in templates are copied to be edited"),
    ),
    modifiers(&Conventions)
)]
struct BaseDoc;

struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from `POST /v1/auth/token`."))
                    .build(),
            ),
        );
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

/// Applies conventions that follow from the routes once they are all known.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    for (path, item) in doc.paths.paths.iter_mut() {
        if let Some(op) = item.post.as_mut()
            && idempotency::applies_to(&actix_web::http::Method::POST, path)
        {
            op.parameters
                .get_or_insert_with(Vec::new)
                .push(RefOr::T(idempotency_parameter()));
            document_key_answers(op);
        }
    }
    document_no_nul(&mut doc);
    doc
}
