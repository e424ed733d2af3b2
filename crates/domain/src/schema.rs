use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::Name;

/// The type of one dataset column. Mirrors what the offline store (Arrow/Parquet) can hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ColumnType {
    Bool,
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    /// UTC timestamp with microsecond precision.
    Timestamp,
    /// A string restricted to a declared set of values (stored dictionary-encoded).
    Categorical {
        values: Vec<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Column {
    pub name: Name,
    #[serde(flatten)]
    pub column_type: ColumnType,
    #[serde(default = "default_nullable")]
    pub nullable: bool,
}

fn default_nullable() -> bool {
    true
}

/// A dataset schema: typed columns, the event-time column and the entity key columns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Schema {
    pub columns: Vec<Column>,
    /// The column holding each record's event time; must be a non-null timestamp.
    pub event_timestamp: Name,
    /// Columns that identify the entity a record is about (may be empty for event logs).
    #[serde(default)]
    pub entity_keys: Vec<Name>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("schema has no columns")]
    NoColumns,
    #[error("column `{0}` is declared more than once")]
    DuplicateColumn(Name),
    #[error("{role} column `{column}` is not declared")]
    UnknownColumn { role: &'static str, column: Name },
    #[error("event timestamp column `{0}` must be a non-null timestamp")]
    BadEventTimestamp(Name),
    #[error("entity key `{0}` must be a non-null bool, integer, string or categorical column")]
    BadEntityKey(Name),
    #[error("categorical column `{0}` needs at least one distinct value and no duplicates")]
    BadCategorical(Name),
}

impl Schema {
    /// Checks the invariants that every store and consumer of a schema relies on.
    pub fn validate(&self) -> Result<(), SchemaError> {
        if self.columns.is_empty() {
            return Err(SchemaError::NoColumns);
        }
        let mut seen = HashSet::new();
        for column in &self.columns {
            if !seen.insert(&column.name) {
                return Err(SchemaError::DuplicateColumn(column.name.clone()));
            }
            if let ColumnType::Categorical { values } = &column.column_type {
                let distinct: HashSet<_> = values.iter().collect();
                if values.is_empty() || distinct.len() != values.len() {
                    return Err(SchemaError::BadCategorical(column.name.clone()));
                }
            }
        }
        let event_ts = self.column(&self.event_timestamp).ok_or_else(|| SchemaError::UnknownColumn {
            role: "event timestamp",
            column: self.event_timestamp.clone(),
        })?;
        if event_ts.column_type != ColumnType::Timestamp || event_ts.nullable {
            return Err(SchemaError::BadEventTimestamp(event_ts.name.clone()));
        }
        for key in &self.entity_keys {
            let column = self
                .column(key)
                .ok_or_else(|| SchemaError::UnknownColumn { role: "entity key", column: key.clone() })?;
            let keyable = matches!(
                column.column_type,
                ColumnType::Bool
                    | ColumnType::Int32
                    | ColumnType::Int64
                    | ColumnType::String
                    | ColumnType::Categorical { .. }
            );
            if !keyable || column.nullable {
                return Err(SchemaError::BadEntityKey(key.clone()));
            }
        }
        Ok(())
    }

    pub fn column(&self, name: &Name) -> Option<&Column> {
        self.columns.iter().find(|column| &column.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(json: &str) -> Schema {
        serde_json::from_str(json).unwrap()
    }

    const GOOD: &str = r#"{
        "columns": [
            {"name": "customer_id", "type": "int64", "nullable": false},
            {"name": "ts", "type": "timestamp", "nullable": false},
            {"name": "amount", "type": "float64"},
            {"name": "channel", "type": "categorical", "values": ["web", "store"]}
        ],
        "event_timestamp": "ts",
        "entity_keys": ["customer_id"]
    }"#;

    #[test]
    fn valid_schema_passes_and_round_trips() {
        let parsed = schema(GOOD);
        assert_eq!(parsed.validate(), Ok(()));
        let json = serde_json::to_string(&parsed).unwrap();
        assert_eq!(schema(&json), parsed);
        assert!(parsed.columns[2].nullable, "columns are nullable unless stated");
    }

    #[test]
    fn invariants_are_enforced() {
        let mut bad = schema(GOOD);
        bad.columns[1].nullable = true;
        assert!(matches!(bad.validate(), Err(SchemaError::BadEventTimestamp(_))));

        let mut bad = schema(GOOD);
        bad.entity_keys = vec![Name::parse("amount").unwrap()];
        assert!(matches!(bad.validate(), Err(SchemaError::BadEntityKey(_))));

        let mut bad = schema(GOOD);
        bad.columns.push(bad.columns[0].clone());
        assert!(matches!(bad.validate(), Err(SchemaError::DuplicateColumn(_))));

        let mut bad = schema(GOOD);
        bad.event_timestamp = Name::parse("missing").unwrap();
        assert!(matches!(bad.validate(), Err(SchemaError::UnknownColumn { .. })));

        assert!(
            serde_json::from_str::<Schema>(
                r#"{"columns":[{"name":"x","type":"decimal"}],"event_timestamp":"x"}"#
            )
            .is_err()
        );
    }
}
