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

impl ColumnType {
    /// The type's name as declarations spell it (`int64`, `categorical`, …).
    pub fn name(&self) -> &'static str {
        match self {
            ColumnType::Bool => "bool",
            ColumnType::Int32 => "int32",
            ColumnType::Int64 => "int64",
            ColumnType::Float32 => "float32",
            ColumnType::Float64 => "float64",
            ColumnType::String => "string",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Categorical { .. } => "categorical",
        }
    }

    /// Numbers and timestamps (microseconds since the epoch): the columns that have an order,
    /// min/max rules, quantiles and histograms.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            ColumnType::Int32
                | ColumnType::Int64
                | ColumnType::Float32
                | ColumnType::Float64
                | ColumnType::Timestamp
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Column {
    pub name: Name,
    #[serde(flatten)]
    pub column_type: ColumnType,
    /// `false` is the not-null rule: a record without a value is quarantined.
    #[serde(default = "default_nullable")]
    pub nullable: bool,
    /// Checks every value must pass; records that fail are quarantined with the reason.
    #[serde(default, skip_serializing_if = "Rules::is_empty")]
    pub rules: Rules,
}

/// Validation rules of one column. Nulls are judged by `nullable` alone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Smallest allowed value (numeric columns; for timestamps, microseconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed value, like `min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The only values allowed (string and integer columns), compared as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
    /// A regular expression every value must match in full (string columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.min.is_none() && self.max.is_none() && self.allowed.is_none() && self.regex.is_none()
    }
}

fn default_nullable() -> bool {
    true
}

/// A dataset schema: typed columns, the event-time column and the entity key columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Schema {
    pub columns: Vec<Column>,
    /// The column holding each record's event time; must be a non-null timestamp.
    pub event_timestamp: Name,
    /// Columns that identify the entity a record is about (may be empty for event logs).
    #[serde(default)]
    pub entity_keys: Vec<Name>,
    /// Entity keys plus event timestamp identify a record: a repeat is quarantined.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique_key: bool,
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
    #[error("column `{column}`: {reason}")]
    BadRule { column: Name, reason: String },
    #[error("unique_key needs at least one entity key")]
    UniqueWithoutKey,
}

/// Why a new schema cannot replace a dataset's current one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvolutionError {
    #[error(transparent)]
    Invalid(#[from] SchemaError),
    #[error("column `{0}` would be removed or moved; existing columns must stay as they are, in order")]
    Removed(Name),
    #[error("column `{0}` would change (type, nullability or rules); that needs a new dataset")]
    Changed(Name),
    #[error("the event timestamp, entity keys and unique_key cannot change; that needs a new dataset")]
    Identity,
    #[error("added column `{0}` must be nullable: rows written before it have no value")]
    NotNullable(Name),
}

impl Schema {
    /// The columns `new` adds to this schema, if it is a compatible evolution: every existing
    /// column unchanged and in place, the same identity (event time, keys), and new nullable
    /// columns appended. Anything else needs a new dataset.
    pub fn evolution<'a>(&self, new: &'a Schema) -> Result<&'a [Column], EvolutionError> {
        new.validate()?;
        for (i, old) in self.columns.iter().enumerate() {
            match new.columns.get(i) {
                Some(column) if column.name != old.name => {
                    return Err(EvolutionError::Removed(old.name.clone()));
                }
                None => return Err(EvolutionError::Removed(old.name.clone())),
                Some(column) if column != old => return Err(EvolutionError::Changed(old.name.clone())),
                Some(_) => {}
            }
        }
        if new.event_timestamp != self.event_timestamp
            || new.entity_keys != self.entity_keys
            || new.unique_key != self.unique_key
        {
            return Err(EvolutionError::Identity);
        }
        let added = &new.columns[self.columns.len()..];
        if let Some(column) = added.iter().find(|column| !column.nullable) {
            return Err(EvolutionError::NotNullable(column.name.clone()));
        }
        Ok(added)
    }

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
            check_rules(column)?;
        }
        if self.unique_key && self.entity_keys.is_empty() {
            return Err(SchemaError::UniqueWithoutKey);
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

fn check_rules(column: &Column) -> Result<(), SchemaError> {
    let rules = &column.rules;
    let bad = |reason: &str| Err(SchemaError::BadRule { column: column.name.clone(), reason: reason.into() });
    let numeric = column.column_type.is_numeric();
    let textual = matches!(column.column_type, ColumnType::String);
    if (rules.min.is_some() || rules.max.is_some()) && !numeric {
        return bad("min and max apply to numeric and timestamp columns");
    }
    if let (Some(min), Some(max)) = (rules.min, rules.max)
        && min > max
    {
        return bad("min is larger than max");
    }
    if rules.min.is_some_and(f64::is_nan) || rules.max.is_some_and(f64::is_nan) {
        return bad("min and max must be numbers");
    }
    if rules.allowed.is_some()
        && !matches!(column.column_type, ColumnType::String | ColumnType::Int32 | ColumnType::Int64)
    {
        return bad("allowed applies to string and integer columns (categorical columns list their values)");
    }
    if let Some(pattern) = &rules.regex {
        if !textual {
            return bad("regex applies to string columns");
        }
        if let Err(error) = regex::Regex::new(pattern) {
            return Err(SchemaError::BadRule {
                column: column.name.clone(),
                reason: format!("bad regex: {error}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evolution_allows_appending_nullable_columns_only() {
        let base = r#"{"name": "id", "type": "int64", "nullable": false},
                      {"name": "ts", "type": "timestamp", "nullable": false}"#;
        let old =
            schema(&format!(r#"{{"columns": [{base}], "event_timestamp": "ts", "entity_keys": ["id"]}}"#));
        let with = |extra: &str| {
            schema(&format!(
                r#"{{"columns": [{base}{extra}], "event_timestamp": "ts", "entity_keys": ["id"]}}"#
            ))
        };
        let added = with(r#", {"name": "note", "type": "string"}"#);
        let names: Vec<&str> = old.evolution(&added).unwrap().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["note"]);
        assert!(old.evolution(&old).unwrap().is_empty(), "no change is a compatible change");
        assert_eq!(
            old.evolution(&with(r#", {"name": "n", "type": "int32", "nullable": false}"#)),
            Err(EvolutionError::NotNullable(Name::parse("n").unwrap()))
        );
        let retyped = schema(
            r#"{"columns": [{"name": "id", "type": "int32", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false}], "event_timestamp": "ts", "entity_keys": ["id"]}"#,
        );
        assert!(
            matches!(old.evolution(&retyped), Err(EvolutionError::Changed(name)) if name.as_str() == "id")
        );
        let dropped = schema(
            r#"{"columns": [{"name": "ts", "type": "timestamp", "nullable": false}], "event_timestamp": "ts"}"#,
        );
        assert!(
            matches!(old.evolution(&dropped), Err(EvolutionError::Removed(name)) if name.as_str() == "id")
        );
        let rekeyed = schema(&format!(r#"{{"columns": [{base}], "event_timestamp": "ts"}}"#));
        assert_eq!(old.evolution(&rekeyed), Err(EvolutionError::Identity));
        let invalid = with(r#", {"name": "id", "type": "string"}"#);
        assert!(matches!(old.evolution(&invalid), Err(EvolutionError::Invalid(_))));
    }

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

    #[test]
    fn rules_are_checked_against_their_column() {
        let rule = |column: usize, rules: &str| {
            let mut schema = schema(GOOD);
            schema.columns[column].rules = serde_json::from_str(rules).unwrap();
            schema.validate()
        };
        assert_eq!(rule(2, r#"{"min": 0, "max": 1e6}"#), Ok(()));
        assert!(matches!(rule(2, r#"{"min": 5, "max": 1}"#), Err(SchemaError::BadRule { .. })));
        assert!(matches!(rule(3, r#"{"min": 0}"#), Err(SchemaError::BadRule { .. })));
        assert!(matches!(rule(2, r#"{"regex": "^a"}"#), Err(SchemaError::BadRule { .. })));
        assert!(serde_json::from_str::<Rules>(r#"{"minimum": 1}"#).is_err(), "unknown rules are refused");
        let mut with_text = schema(GOOD);
        let email = r#"{"name": "email", "type": "string", "rules": {"regex": "("}}"#;
        with_text.columns.push(serde_json::from_str(email).unwrap());
        assert!(matches!(with_text.validate(), Err(SchemaError::BadRule { .. })));
        let mut unique = schema(GOOD);
        unique.unique_key = true;
        assert_eq!(unique.validate(), Ok(()));
        unique.entity_keys.clear();
        assert_eq!(unique.validate(), Err(SchemaError::UniqueWithoutKey));
    }
}
