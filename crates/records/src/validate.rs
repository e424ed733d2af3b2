use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher};

use cairn_domain::{ColumnType, Schema};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::parse::shorten;
use crate::{Record, Value};

/// One rule a record broke: which column, which rule, and the offending value (shortened).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Violation {
    pub column: String,
    /// `not_null`, `min`, `max`, `allowed`, `regex`, `categorical` or `unique`.
    pub rule: String,
    pub value: String,
}

struct ColumnRules {
    name: String,
    nullable: bool,
    min: Option<f64>,
    max: Option<f64>,
    allowed: Option<HashSet<String>>,
    regex: Option<Regex>,
    categories: Option<HashSet<String>>,
}

/// Applies a schema's data-quality rules to records.
///
/// Uniqueness of entity keys + event timestamp is checked within what this validator has seen
/// (a batch), by a 128-bit hash per accepted record: 16 bytes a record, not the keys themselves.
pub struct Validator {
    columns: Vec<ColumnRules>,
    unique: Option<(Vec<usize>, String)>,
    seen: HashSet<u128>,
    hashers: (std::collections::hash_map::RandomState, std::collections::hash_map::RandomState),
}

impl Validator {
    /// The schema must be valid (`Schema::validate`); a regex that does not compile is skipped.
    pub fn new(schema: &Schema) -> Self {
        let columns = schema
            .columns
            .iter()
            .map(|column| ColumnRules {
                name: column.name.to_string(),
                nullable: column.nullable,
                min: column.rules.min,
                max: column.rules.max,
                allowed: column.rules.allowed.as_ref().map(|values| values.iter().cloned().collect()),
                regex: column.rules.regex.as_ref().and_then(|p| Regex::new(&format!("^(?:{p})$")).ok()),
                categories: match &column.column_type {
                    ColumnType::Categorical { values } => Some(values.iter().cloned().collect()),
                    _ => None,
                },
            })
            .collect();
        let unique = schema.unique_key.then(|| {
            let mut keys: Vec<_> = schema.entity_keys.clone();
            keys.push(schema.event_timestamp.clone());
            let positions =
                keys.iter().filter_map(|key| schema.columns.iter().position(|c| &c.name == key)).collect();
            let names = keys.iter().map(ToString::to_string).collect::<Vec<_>>().join("+");
            (positions, names)
        });
        Self { columns, unique, seen: HashSet::new(), hashers: Default::default() }
    }

    /// The rules `record` breaks; empty means it is accepted (and, for unique keys, remembered).
    pub fn check(&mut self, record: &Record) -> Vec<Violation> {
        let mut violations = Vec::new();
        for (rules, value) in self.columns.iter().zip(record) {
            let mut broke = |rule: &str| {
                violations.push(Violation {
                    column: rules.name.clone(),
                    rule: rule.to_owned(),
                    value: shorten(&value.to_string()),
                });
            };
            if value.is_null() {
                if !rules.nullable {
                    broke("not_null");
                }
                continue;
            }
            if let (Some(categories), Value::Str(text)) = (&rules.categories, value)
                && !categories.contains(text)
            {
                broke("categorical");
            }
            if let Some(number) = value.as_f64() {
                if rules.min.is_some_and(|min| number < min) {
                    broke("min");
                }
                if rules.max.is_some_and(|max| number > max) {
                    broke("max");
                }
            }
            if let Some(allowed) = &rules.allowed
                && !allowed.contains(&value.to_string())
            {
                broke("allowed");
            }
            if let (Some(regex), Value::Str(text)) = (&rules.regex, value)
                && !regex.is_match(text)
            {
                broke("regex");
            }
        }
        if violations.is_empty()
            && let Some((positions, names)) = &self.unique
        {
            let key = self.key_hash(record, positions);
            if !self.seen.insert(key) {
                let value = positions.iter().map(|p| record[*p].to_string()).collect::<Vec<_>>().join("+");
                violations.push(Violation {
                    column: names.clone(),
                    rule: "unique".into(),
                    value: shorten(&value),
                });
            }
        }
        violations
    }

    fn key_hash(&self, record: &Record, positions: &[usize]) -> u128 {
        let half = |state: &std::collections::hash_map::RandomState| {
            let mut hasher = state.build_hasher();
            for position in positions {
                match &record[*position] {
                    Value::Null => 0u8.hash(&mut hasher),
                    Value::Bool(v) => (1u8, v).hash(&mut hasher),
                    Value::Int(v) | Value::Timestamp(v) => (2u8, v).hash(&mut hasher),
                    Value::Float(v) => (3u8, v.to_bits()).hash(&mut hasher),
                    Value::Str(v) => (4u8, v).hash(&mut hasher),
                }
            }
            hasher.finish()
        };
        (u128::from(half(&self.hashers.0)) << 64) | u128::from(half(&self.hashers.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        serde_json::from_value(serde_json::json!({
            "columns": [
                {"name": "id", "type": "int64", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "amount", "type": "float64", "rules": {"min": 0, "max": 100}},
                {"name": "email", "type": "string", "rules": {"regex": "[a-z]+@[a-z]+\\.com"}},
                {"name": "country", "type": "string", "rules": {"allowed": ["fr", "de"]}},
                {"name": "channel", "type": "categorical", "values": ["web", "store"]}
            ],
            "event_timestamp": "ts",
            "entity_keys": ["id"],
            "unique_key": true
        }))
        .unwrap()
    }

    fn record(id: i64, amount: f64, email: &str, country: &str, channel: &str) -> Record {
        vec![
            Value::Int(id),
            Value::Timestamp(1),
            Value::Float(amount),
            Value::Str(email.into()),
            Value::Str(country.into()),
            Value::Str(channel.into()),
        ]
    }

    fn rules(violations: &[Violation]) -> Vec<&str> {
        violations.iter().map(|v| v.rule.as_str()).collect()
    }

    #[test]
    fn each_rule_is_named() {
        let mut validator = Validator::new(&schema());
        assert!(validator.check(&record(1, 5.0, "a@b.com", "fr", "web")).is_empty());
        assert_eq!(rules(&validator.check(&record(2, -1.0, "a@b.com", "fr", "web"))), ["min"]);
        assert_eq!(
            rules(&validator.check(&record(3, 101.0, "x a@b.com", "it", "mail"))),
            ["max", "regex", "allowed", "categorical"]
        );
        let mut null_id = record(4, 1.0, "a@b.com", "de", "store");
        null_id[0] = Value::Null;
        let violations = validator.check(&null_id);
        assert_eq!(
            violations,
            vec![Violation { column: "id".into(), rule: "not_null".into(), value: "null".into() }]
        );
    }

    #[test]
    fn a_repeated_key_and_timestamp_is_a_violation_but_a_rejected_record_is_not_remembered() {
        let mut validator = Validator::new(&schema());
        assert_eq!(rules(&validator.check(&record(1, -5.0, "a@b.com", "fr", "web"))), ["min"]);
        assert!(validator.check(&record(1, 5.0, "a@b.com", "fr", "web")).is_empty());
        let repeat = validator.check(&record(1, 6.0, "a@b.com", "fr", "web"));
        assert_eq!(repeat[0].rule, "unique");
        assert_eq!(repeat[0].column, "id+ts");
        assert!(validator.check(&record(2, 6.0, "a@b.com", "fr", "web")).is_empty());
    }
}
