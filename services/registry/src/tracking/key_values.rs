//! The key–value tables (run params and tags, experiment tags, logged-model params and tags):
//! each row is `(owner, key, value)` with the owner's id in `owner_column`.

use std::collections::HashMap;

use cairn_db::{AnyConnection, Backend, Sql, SqlValue};
use diesel::QueryableByName;
use diesel::sql_types::Text;

use super::{KeyValue, TrackingError};

/// Writes `items` for `owner`; a key given twice keeps its last value, an existing key is
/// overwritten.
pub(crate) fn upsert(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
    owner_column: &str,
    owner: impl Into<SqlValue>,
    items: &[KeyValue],
) -> Result<(), TrackingError> {
    // One statement may not touch a row twice.
    let mut latest: Vec<&KeyValue> = Vec::new();
    for item in items.iter().rev() {
        if !latest.iter().any(|kept| kept.key == item.key) {
            latest.push(item);
        }
    }
    if latest.is_empty() {
        return Ok(());
    }
    let owner = owner.into();
    let mut sql = Sql::new(backend);
    sql.push(&format!("INSERT INTO {table} ({owner_column}, key, value) VALUES "));
    for (i, item) in latest.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind(owner.clone())
            .push(", ")
            .bind(item.key.clone())
            .push(", ")
            .bind(item.value.clone())
            .push(")");
    }
    sql.push(&format!(" ON CONFLICT ({owner_column}, key) DO UPDATE SET value = excluded.value"));
    sql.execute(conn)?;
    Ok(())
}

/// The rows of several owners at once, by key.
pub(crate) fn load(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
    owner_column: &str,
    owners: Vec<SqlValue>,
) -> Result<Owned, TrackingError> {
    if owners.is_empty() {
        return Ok(Owned(HashMap::new()));
    }
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT CAST({owner_column} AS TEXT) AS owner, key, value FROM {table} WHERE "));
    let texts: Vec<String> = owners
        .iter()
        .filter_map(|owner| match owner {
            SqlValue::Text(text) => Some(text.clone()),
            _ => None,
        })
        .collect();
    if texts.len() == owners.len() {
        sql.in_text_set(owner_column, texts);
    } else {
        sql.push(owner_column).push(" IN ").bind_list(owners);
    }
    sql.push(" ORDER BY key");
    Ok(Owned::group(sql.load::<Row>(conn)?))
}

#[derive(QueryableByName)]
pub(crate) struct Row {
    #[diesel(sql_type = Text)]
    owner: String,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    value: String,
}

/// Rows of several owners, grouped by owner (a page of search results has a thousand).
pub(crate) struct Owned(HashMap<String, Vec<KeyValue>>);

impl Owned {
    fn group(rows: Vec<Row>) -> Self {
        let mut owned: HashMap<String, Vec<KeyValue>> = HashMap::new();
        for row in rows {
            owned.entry(row.owner).or_default().push(KeyValue { key: row.key, value: row.value });
        }
        Owned(owned)
    }

    /// The owner's items, in key order.
    pub(crate) fn of(&self, owner: &str) -> Vec<KeyValue> {
        self.0.get(owner).cloned().unwrap_or_default()
    }
}
