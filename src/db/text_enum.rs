//! `text_enum!` declares a closed vocabulary once: a Rust enum that serialises to its
//! `snake_case` text in JSON, appears as an enum in the OpenAPI document and maps to a `text`
//! column in PostgreSQL.

// The texts are taken as `tt`, not `literal`: a `literal` fragment reaches derive macros wrapped in
// an invisible group, which serde reads but utoipa does not, so the OpenAPI enum listed the Rust
// variant names instead of the texts.
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "must be one of: {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let s = <String as diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg>>::from_sql(bytes)?;
                s.parse::<$name>().map_err(Into::into)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::text_enum! {
        /// A vocabulary for the test.
        enum Shade {
            /// Documented variants keep their text too.
            LightGrey => "light_grey",
            Dark => "dark.blue",
        }
    }

    #[test]
    fn the_openapi_enum_lists_the_texts() {
        let schema = serde_json::to_value(<Shade as utoipa::PartialSchema>::schema()).expect("json");
        assert_eq!(schema["enum"], serde_json::json!(["light_grey", "dark.blue"]));
        assert_eq!(serde_json::to_value(Shade::LightGrey).expect("json"), "light_grey");
        assert_eq!("dark.blue".parse::<Shade>(), Ok(Shade::Dark));
        assert_eq!(Shade::ALL, [Shade::LightGrey, Shade::Dark]);
    }
}
