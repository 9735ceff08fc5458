//! The handout endpoints' query parameters and the documented shape of a PDF answer.

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// What a handout is answered as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A self-contained web page (`text/html`).
    Html,
    /// A PDF document (`application/pdf`).
    Pdf,
}

/// The paper a handout is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Paper {
    /// ISO A4, 210 × 297 mm.
    #[default]
    A4,
    /// US Letter, 8.5 × 11 in.
    Letter,
}

impl Paper {
    /// Width and height in PDF points (1/72 in).
    pub fn points(self) -> (f32, f32) {
        match self {
            Paper::A4 => (595.28, 841.89),
            Paper::Letter => (612.0, 792.0),
        }
    }

    /// The CSS `@page` size.
    pub fn css(self) -> &'static str {
        match self {
            Paper::A4 => "A4",
            Paper::Letter => "letter",
        }
    }
}

/// A PDF document: the answer's bytes, documented as a binary string.
pub struct PdfDocument;

impl utoipa::PartialSchema for PdfDocument {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("A PDF document with its fonts embedded."))
            .into()
    }
}

impl ToSchema for PdfDocument {}

/// How a handout is asked for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HandoutQuery {
    #[param(inline)]
    /// `html` or `pdf`; wins over `Accept`. Without it: `pdf` when `Accept` names
    /// `application/pdf`, else `html`.
    pub format: Option<Format>,
    #[param(inline)]
    /// `a4` (default) or `letter`.
    pub paper: Option<Paper>,
}
