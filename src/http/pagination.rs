//! Cursor pagination shared by every list: `{items, next_cursor}`, `limit` (1–200, default 50)
//! and an opaque `cursor` that encodes the sort key of the last item returned.

use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// `limit` and `cursor`, flattened into each list's query parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many items to return, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; omit for the first page.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::validation(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )),
        }
    }

    /// The sort key encoded in the cursor, if one was given.
    pub fn after<K: DeserializeOwned>(&self) -> Result<Option<K>, ApiError> {
        self.cursor.as_deref().map(decode_cursor).transpose()
    }
}

pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

pub fn decode_cursor<K: DeserializeOwned>(s: &str) -> Result<K, ApiError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        // No key we hand out holds a NUL, and PostgreSQL refuses one in text: a forged cursor
        // carrying it must be a 400, not a database error.
        .filter(|b| !b.windows(6).any(|w| w == br"\u0000"))
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| ApiError::bad_query("cursor", "is not a cursor this API gave out"))
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page, in the list's stable order.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page (always present).
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in order: the extra row only tells
    /// that another page exists.
    pub fn from_rows<R, K: Serialize>(
        mut rows: Vec<R>,
        limit: i64,
        key: impl Fn(&R) -> K,
        map: impl FnMut(R) -> T,
    ) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| encode_cursor(&key(r)))
        } else {
            None
        };
        Page {
            items: rows.into_iter().map(map).collect(),
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let id = uuid::Uuid::now_v7();
        let c = encode_cursor(&id);
        assert_eq!(decode_cursor::<uuid::Uuid>(&c).expect("decodes"), id);
        assert!(decode_cursor::<uuid::Uuid>("not a cursor!").is_err());
        let forged = encode_cursor(&("a\u{0}b", id));
        assert!(decode_cursor::<(String, uuid::Uuid)>(&forged).is_err());
    }

    #[test]
    fn page_knows_when_there_is_more() {
        let p: Page<i32> = Page::from_rows(vec![1, 2, 3], 2, |r| *r, |r| r);
        assert_eq!(p.items, vec![1, 2]);
        assert_eq!(
            decode_cursor::<i32>(p.next_cursor.as_deref().expect("more")).expect("decodes"),
            2
        );
        let last: Page<i32> = Page::from_rows(vec![1, 2], 2, |r| *r, |r| r);
        assert!(last.next_cursor.is_none());
    }

    #[test]
    fn limit_bounds() {
        let p = |l| PageParams {
            limit: Some(l),
            cursor: None,
        };
        assert!(p(0).limit().is_err());
        assert!(p(201).limit().is_err());
        assert_eq!(p(200).limit().expect("ok"), 200);
        assert_eq!(PageParams::default().limit().expect("ok"), 50);
    }
}
