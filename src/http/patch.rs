//! JSON Merge Patch (RFC 7396) fields: absent, `null`, or a value.

use serde::{Deserialize, Deserializer};

/// One field of a merge-patch body. `#[serde(default)]` makes an absent field `Absent`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// The field was not sent: leave the stored value unchanged.
    #[default]
    Absent,
    /// The field was sent as `null`: clear a nullable value.
    Null,
    /// The field was sent with a value.
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Patch::Value(v),
            None => Patch::Null,
        })
    }
}

impl<T> Patch<T> {
    /// For a nullable column: `None` = unchanged, `Some(None)` = clear, `Some(Some(v))` = set.
    pub fn into_change(self) -> Option<Option<T>> {
        match self {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(v) => Some(Some(v)),
        }
    }

    /// For a required field, where `null` is a mistake the caller must hear about.
    pub fn required(self, field: &str, v: &mut crate::error::Validator) -> Option<T> {
        match self {
            Patch::Absent => None,
            Patch::Null => {
                v.add(field, "cannot be null");
                None
            }
            Patch::Value(x) => Some(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        name: Patch<String>,
    }

    #[test]
    fn absent_null_and_value_are_distinct() {
        let absent: Body = serde_json::from_str("{}").expect("parses");
        assert_eq!(absent.name, Patch::Absent);
        let null: Body = serde_json::from_str(r#"{"name": null}"#).expect("parses");
        assert_eq!(null.name, Patch::Null);
        let set: Body = serde_json::from_str(r#"{"name": "x"}"#).expect("parses");
        assert_eq!(set.name, Patch::Value("x".to_string()));
    }
}
