//! Hand-written SQL with numbered bind parameters, for the few queries the query builder cannot
//! express (full-text search, JSON aggregates). User input only ever travels as a bind.

use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::HasSqlType;

/// One SQL statement under construction: text is appended in order, and [`SqlBuilder::param`]
/// binds a value and answers the placeholder (`$1`, `$2`, ...) to write in its place.
pub struct SqlBuilder<'f> {
    text: String,
    query: Option<BoxedSqlQuery<'f, Pg, SqlQuery>>,
    params: usize,
}

impl Default for SqlBuilder<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'f> SqlBuilder<'f> {
    pub fn new() -> Self {
        SqlBuilder {
            text: String::new(),
            query: Some(diesel::sql_query("").into_boxed()),
            params: 0,
        }
    }

    /// Appends SQL text; never pass it anything a caller sent.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Binds `value` as the next parameter and answers its placeholder.
    pub fn param<ST, V>(&mut self, value: V) -> String
    where
        Pg: HasSqlType<ST>,
        V: ToSql<ST, Pg> + Send + 'f,
        ST: Send + 'f,
    {
        self.query = self.query.take().map(|q| q.bind::<ST, V>(value));
        self.params += 1;
        format!("${}", self.params)
    }

    /// The finished statement, ready to `load`.
    pub fn build(self) -> BoxedSqlQuery<'f, Pg, SqlQuery> {
        let query = self.query.unwrap_or_else(|| diesel::sql_query("").into_boxed());
        query.sql(self.text)
    }

    /// The SQL text so far (for tests).
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sql_types::{Integer, Text};

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut q = SqlBuilder::new();
        q.push("SELECT 1 WHERE a = ");
        let a = q.param::<Text, _>("x".to_string());
        q.push(&a).push(" AND b = ");
        let b = q.param::<Integer, _>(2);
        q.push(&b);
        assert_eq!(q.text(), "SELECT 1 WHERE a = $1 AND b = $2");
    }
}
