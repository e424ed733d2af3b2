use std::collections::HashSet;

use cairn_domain::{ColumnType, Schema};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::parse::shorten;
use crate::{Cell, Record, Value};

/// One rule a record broke: which column, which rule, and the offending value (shortened).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Violation {
    pub column: String,
    /// `not_null`, `min`, `max`, `allowed`, `regex`, `categorical` or `unique`.
    pub rule: String,
    pub value: String,
}

/// One column's rules, as a validator holds them.
pub struct ColumnRules {
    name: String,
    nullable: bool,
    min: Option<f64>,
    max: Option<f64>,
    allowed: Option<HashSet<String>>,
    regex: Option<Regex>,
    categories: Option<HashSet<String>>,
}

impl ColumnRules {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn nullable(&self) -> bool {
        self.nullable
    }

    /// Whether any rule looks at a value that is not null (most columns only have their type).
    pub fn checks_values(&self) -> bool {
        self.min.is_some()
            || self.max.is_some()
            || self.allowed.is_some()
            || self.regex.is_some()
            || self.categories.is_some()
    }

    /// The bounds (min, max), when they are the only rules on values: a column of numbers can
    /// then be checked in one pass over its values.
    pub fn bounds_only(&self) -> Option<(Option<f64>, Option<f64>)> {
        (self.allowed.is_none() && self.regex.is_none() && self.categories.is_none())
            .then_some((self.min, self.max))
    }

    /// Calls `broke` with each rule a value that is not null breaks, in the order `check`
    /// reports them.
    pub fn broken(&self, cell: Cell<'_>, mut broke: impl FnMut(&'static str)) {
        if let (Some(categories), Cell::Str(text)) = (&self.categories, cell)
            && !categories.contains(text)
        {
            broke("categorical");
        }
        if let Some(number) = cell.as_f64() {
            if self.min.is_some_and(|min| number < min) {
                broke("min");
            }
            if self.max.is_some_and(|max| number > max) {
                broke("max");
            }
        }
        if let Some(allowed) = &self.allowed
            && !allowed.contains(&cell.to_string())
        {
            broke("allowed");
        }
        if let (Some(regex), Cell::Str(text)) = (&self.regex, cell)
            && !regex.is_match(text)
        {
            broke("regex");
        }
    }

    /// The violation of `rule` by a value (null when `cell` is none).
    pub fn violation(&self, rule: &str, cell: Option<Cell<'_>>) -> Violation {
        let value = cell.map_or_else(|| "null".to_owned(), |cell| shorten(&cell.to_string()));
        Violation { column: self.name.clone(), rule: rule.to_owned(), value }
    }
}

/// Applies a schema's data-quality rules to records.
///
/// Uniqueness of entity keys + event timestamp is checked by a 128-bit digest per key — the key's
/// event day in the top 32 bits, 96 bits of its XXH3-128 below, so the same key has the same
/// digest in every process and release — against the keys this validator accepted (a batch) and
/// those it was told were accepted before (`remember`, for keys committed by earlier batches):
/// one 16-byte set entry a key, not the keys themselves.
pub struct Validator {
    columns: Vec<ColumnRules>,
    unique: Option<UniqueKey>,
}

struct UniqueKey {
    /// Positions of the entity keys, then of the event timestamp.
    positions: Vec<usize>,
    names: String,
    /// Accepted before, by earlier batches.
    known: HashSet<u128>,
    /// Accepted here.
    accepted: HashSet<u128>,
    buffer: Vec<u8>,
}

/// Microseconds in a day: a key's day is its event timestamp's UTC date, as in the offline store's
/// partitions.
const DAY_MICROS: i64 = 86_400_000_000;

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
            UniqueKey {
                positions,
                names,
                known: HashSet::new(),
                accepted: HashSet::new(),
                buffer: Vec::new(),
            }
        });
        Self { columns, unique }
    }

    /// The day (since 1970-01-01, UTC) of `record`'s event timestamp when the schema checks
    /// unique keys: the keys accepted before that `record` may collide with are that day's.
    pub fn key_day(&self, record: &Record) -> Option<i32> {
        let position = *self.unique.as_ref()?.positions.last()?;
        match record.get(position)? {
            Value::Timestamp(micros) => i32::try_from(micros.div_euclid(DAY_MICROS)).ok(),
            _ => None,
        }
    }

    /// Keys accepted before (by earlier batches): a record with one of them breaks `unique`.
    pub fn remember(&mut self, digests: impl IntoIterator<Item = u128>) {
        if let Some(unique) = &mut self.unique {
            unique.known.extend(digests);
        }
    }

    /// The digests of the keys this validator accepted; empty unless the schema checks unique
    /// keys. [`Validator::digest_day`] tells each one's day.
    pub fn take_accepted(&mut self) -> Vec<u128> {
        self.unique
            .as_mut()
            .map(|unique| std::mem::take(&mut unique.accepted).into_iter().collect())
            .unwrap_or_default()
    }

    /// The event day (`key_day`) of the key a digest stands for.
    pub fn digest_day(digest: u128) -> i32 {
        // The top 32 bits hold the day as `u32` bits: the cast back restores its sign.
        (digest >> 96) as u32 as i32
    }

    /// Each column's rules, in schema order.
    pub fn columns(&self) -> &[ColumnRules] {
        &self.columns
    }

    /// Whether the schema checks unique keys (which needs every record whole: `check`).
    pub fn checks_keys(&self) -> bool {
        self.unique.is_some()
    }

    /// The rules `record` breaks; empty means it is accepted (and, for unique keys, remembered).
    pub fn check(&mut self, record: &Record) -> Vec<Violation> {
        let mut violations = Vec::new();
        for (rules, value) in self.columns.iter().zip(record) {
            match value.cell() {
                None if !rules.nullable => violations.push(rules.violation("not_null", None)),
                None => {}
                Some(cell) => rules.broken(cell, |rule| violations.push(rules.violation(rule, Some(cell)))),
            }
        }
        if violations.is_empty() {
            let day = self.key_day(record).unwrap_or_default();
            if let Some(unique) = &mut self.unique {
                let digest = unique.digest(record, day);
                if unique.known.contains(&digest) || !unique.accepted.insert(digest) {
                    let value =
                        unique.positions.iter().map(|p| record[*p].to_string()).collect::<Vec<_>>().join("+");
                    violations.push(Violation {
                        column: unique.names.clone(),
                        rule: "unique".into(),
                        value: shorten(&value),
                    });
                }
            }
        }
        violations
    }
}

#[cfg(test)]
impl Validator {
    fn digest_of(&mut self, record: &Record) -> u128 {
        let day = self.key_day(record).unwrap_or_default();
        self.unique.as_mut().map(|unique| unique.digest(record, day)).unwrap_or_default()
    }
}

impl UniqueKey {
    /// `day` above 96 bits of the XXH3-128 of the key's values, each tagged with its kind
    /// (strings length-prefixed) so that no two different keys share an encoding.
    fn digest(&mut self, record: &Record, day: i32) -> u128 {
        let buffer = &mut self.buffer;
        buffer.clear();
        for position in &self.positions {
            match &record[*position] {
                Value::Null => buffer.push(0),
                Value::Bool(v) => buffer.extend_from_slice(&[1, u8::from(*v)]),
                Value::Int(v) | Value::Timestamp(v) => {
                    buffer.push(2);
                    buffer.extend_from_slice(&v.to_le_bytes());
                }
                Value::Float(v) => {
                    buffer.push(3);
                    buffer.extend_from_slice(&v.to_bits().to_le_bytes());
                }
                Value::Str(v) => {
                    buffer.push(4);
                    buffer.extend_from_slice(&(v.len() as u64).to_le_bytes());
                    buffer.extend_from_slice(v.as_bytes());
                }
            }
        }
        (u128::from(day as u32) << 96) | (twox_hash::XxHash3_128::oneshot(buffer) & ((1 << 96) - 1))
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

    #[test]
    fn keys_accepted_before_are_duplicates_and_each_accepted_key_is_returned_with_its_day() {
        let mut earlier = Validator::new(&schema());
        let mut day_two = record(1, 5.0, "a@b.com", "fr", "web");
        day_two[1] = Value::Timestamp(2 * DAY_MICROS + 5);
        assert_eq!(earlier.key_day(&day_two), Some(2));
        assert!(earlier.check(&day_two).is_empty());
        let committed = earlier.take_accepted();
        assert_eq!(committed.len(), 1);
        assert_eq!(Validator::digest_day(committed[0]), 2);

        // Another validator (a later batch, maybe another process) told of the committed key.
        let mut later = Validator::new(&schema());
        later.remember(committed);
        assert_eq!(rules(&later.check(&day_two)), ["unique"]);
        let mut before_epoch = record(1, 5.0, "a@b.com", "fr", "web");
        before_epoch[1] = Value::Timestamp(-1);
        assert_eq!(later.key_day(&before_epoch), Some(-1));
        assert!(later.check(&before_epoch).is_empty());
        let accepted = later.take_accepted();
        assert_eq!(accepted, vec![Validator::new(&schema()).digest_of(&before_epoch)]);
        assert_eq!(Validator::digest_day(accepted[0]), -1);
        assert!(later.take_accepted().is_empty());
    }

    #[test]
    fn keys_of_different_kinds_or_splits_have_different_digests() {
        let mut schema = schema();
        schema.entity_keys = vec!["email".parse().unwrap(), "country".parse().unwrap()];
        let mut validator = Validator::new(&schema);
        let ab = validator.digest_of(&record(1, 1.0, "ab", "c", "web"));
        let a_bc = validator.digest_of(&record(1, 1.0, "a", "bc", "web"));
        assert_ne!(ab, a_bc);
    }
}
