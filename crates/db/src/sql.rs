//! SQL assembled at run time (search filters, multi-row inserts) with bound values, written once
//! for both backends: `bind` writes the placeholder each backend expects.

use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Binary, Bool, Double, Nullable, Text};

use crate::{AnyConnection, Backend, MultiBackend};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    NullableText(Option<String>),
    BigInt(i64),
    NullableBigInt(Option<i64>),
    Double(f64),
    NullableDouble(Option<f64>),
    Bool(bool),
    Bytes(Vec<u8>),
}

impl From<&str> for SqlValue {
    fn from(value: &str) -> Self {
        SqlValue::Text(value.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(value: String) -> Self {
        SqlValue::Text(value)
    }
}

impl From<Option<String>> for SqlValue {
    fn from(value: Option<String>) -> Self {
        SqlValue::NullableText(value)
    }
}

impl From<i64> for SqlValue {
    fn from(value: i64) -> Self {
        SqlValue::BigInt(value)
    }
}

impl From<Option<i64>> for SqlValue {
    fn from(value: Option<i64>) -> Self {
        SqlValue::NullableBigInt(value)
    }
}

impl From<f64> for SqlValue {
    fn from(value: f64) -> Self {
        SqlValue::Double(value)
    }
}

impl From<Option<f64>> for SqlValue {
    fn from(value: Option<f64>) -> Self {
        SqlValue::NullableDouble(value)
    }
}

impl From<bool> for SqlValue {
    fn from(value: bool) -> Self {
        SqlValue::Bool(value)
    }
}

impl From<Vec<u8>> for SqlValue {
    fn from(value: Vec<u8>) -> Self {
        SqlValue::Bytes(value)
    }
}

/// Appends `value` as a JSON string.
fn json_string(out: &mut String, value: &str) {
    use std::fmt::Write as _;
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A statement under construction: text with placeholders, and the values they stand for.
#[derive(Debug, Clone)]
pub struct Sql {
    backend: Backend,
    text: String,
    values: Vec<SqlValue>,
}

impl Sql {
    pub fn new(backend: Backend) -> Self {
        Self { backend, text: String::new(), values: Vec::new() }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Appends SQL text as it is: never put input here, bind it.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<SqlValue>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            Backend::Sqlite => self.text.push('?'),
            Backend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
        }
        self
    }

    /// Appends `(?, ?, …)` for `values`.
    pub fn bind_list<V: Into<SqlValue>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        self.push("(");
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(value);
        }
        self.push(")")
    }

    /// Appends `column IN {values}`: many text values travel as one bound JSON array that the
    /// database unpacks, because a statement with a thousand placeholders costs PostgreSQL more
    /// to plan than to run. On PostgreSQL the unpacked array is an `= ANY(ARRAY(…))`, evaluated
    /// once before the scan: the planner probes the column's index once per value, where `IN
    /// (SELECT …)` of a set-returning function, estimated blindly, is often a hash join over a
    /// scan of the whole table. (A `text[]` bound as text and cast is worse still: the cast is
    /// not constant to the planner, so each row is compared with every value.)
    pub fn in_text_set(&mut self, column: &str, values: impl IntoIterator<Item = String>) -> &mut Self {
        // Sorted, the database probes its index in key order: neighbouring pages, fewer misses.
        let mut values: Vec<String> = values.into_iter().collect();
        values.sort_unstable();
        values.dedup();
        let mut json = String::from("[");
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json_string(&mut json, value);
        }
        json.push(']');
        self.push(column);
        match self.backend {
            Backend::Sqlite => self.push(" IN (SELECT value FROM json_each(").bind(json).push("))"),
            Backend::Postgres => self
                .push(" = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST(")
                .bind(json)
                .push(" AS jsonb))))"),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The statement, ready to `execute` or `load` on an [`AnyConnection`].
    pub fn query(&self) -> BoxedSqlQuery<'static, MultiBackend, SqlQuery> {
        let mut query = diesel::sql_query(self.text.clone()).into_boxed::<MultiBackend>();
        for value in &self.values {
            query = match value.clone() {
                SqlValue::Text(value) => query.bind::<Text, _>(value),
                SqlValue::NullableText(value) => query.bind::<Nullable<Text>, _>(value),
                SqlValue::BigInt(value) => query.bind::<BigInt, _>(value),
                SqlValue::NullableBigInt(value) => query.bind::<Nullable<BigInt>, _>(value),
                SqlValue::Double(value) => query.bind::<Double, _>(value),
                SqlValue::NullableDouble(value) => query.bind::<Nullable<Double>, _>(value),
                SqlValue::Bool(value) => query.bind::<Bool, _>(value),
                SqlValue::Bytes(value) => query.bind::<Binary, _>(value),
            };
        }
        query
    }

    /// Runs the statement; the number of rows it touched.
    pub fn execute(&self, conn: &mut AnyConnection) -> Result<usize, diesel::result::Error> {
        use diesel::RunQueryDsl as _;
        self.query().execute(conn)
    }

    /// Runs the statement and reads its rows.
    pub fn load<T>(&self, conn: &mut AnyConnection) -> Result<Vec<T>, diesel::result::Error>
    where
        T: diesel::QueryableByName<MultiBackend> + 'static,
    {
        use diesel::RunQueryDsl as _;
        self.query().load(conn)
    }
}
