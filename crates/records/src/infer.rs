//! A schema proposed from a sample of CSV or JSON Lines, for `cairn datasets create
//! --from-sample`: the narrowest type every sampled value fits, nullable where a value was
//! missing, the first timestamp column as event time.

use std::collections::BTreeMap;
use std::io::{BufRead, Read};

use cairn_domain::{Column, ColumnType, Name, Rules, Schema};

use crate::parse::timestamp;

/// Rows read from a sample.
pub const SAMPLE_ROWS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Guess {
    Bool,
    Int,
    Float,
    Timestamp,
    Text,
}

#[derive(Debug, Default)]
struct Seen {
    guess: Option<Guess>,
    nulls: bool,
    present: usize,
}

impl Seen {
    fn widen(&mut self, guess: Guess) {
        self.guess = Some(match (self.guess, guess) {
            (None, g) => g,
            (Some(a), b) if a == b => a,
            (Some(Guess::Int), Guess::Float) | (Some(Guess::Float), Guess::Int) => Guess::Float,
            _ => Guess::Text,
        });
    }
}

fn guess_text(text: &str) -> Guess {
    let lower = text.to_ascii_lowercase();
    if matches!(lower.as_str(), "true" | "false") {
        Guess::Bool
    } else if text.trim().parse::<i64>().is_ok() {
        Guess::Int
    } else if text.trim().parse::<f64>().is_ok() {
        Guess::Float
    } else if timestamp(text.trim()).is_some() {
        Guess::Timestamp
    } else {
        Guess::Text
    }
}

/// Proposes a schema from the first rows of a CSV sample (with a header).
pub fn infer_csv(input: impl Read) -> Result<Schema, String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(input);
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| format!("reading the header: {e}"))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    let mut seen: Vec<Seen> = names.iter().map(|_| Seen::default()).collect();
    for row in reader.records().take(SAMPLE_ROWS) {
        let row = row.map_err(|e| format!("reading the sample: {e}"))?;
        for (column, field) in seen.iter_mut().zip(row.iter()) {
            if field.is_empty() {
                column.nulls = true;
            } else {
                column.widen(guess_text(field));
            }
        }
    }
    build(names.into_iter().zip(seen).collect())
}

/// Proposes a schema from the first objects of a JSON Lines sample.
pub fn infer_json_lines(input: impl BufRead) -> Result<Schema, String> {
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut rows = 0;
    for line in input.lines() {
        let line = line.map_err(|e| format!("reading the sample: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&line).map_err(|e| format!("line {}: not a JSON object: {e}", rows + 1))?;
        for (key, value) in object {
            if !seen.contains_key(&key) {
                order.push(key.clone());
            }
            let column = seen.entry(key).or_default();
            column.present += 1;
            match value {
                serde_json::Value::Null => column.nulls = true,
                serde_json::Value::Bool(_) => column.widen(Guess::Bool),
                serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => column.widen(Guess::Int),
                serde_json::Value::Number(_) => column.widen(Guess::Float),
                serde_json::Value::String(s) if timestamp(&s).is_some() => column.widen(Guess::Timestamp),
                _ => column.widen(Guess::Text),
            }
        }
        rows += 1;
        if rows == SAMPLE_ROWS {
            break;
        }
    }
    // A key missing from some objects is nullable too.
    let columns = order.into_iter().map(|key| {
        let mut entry = seen.remove(&key).unwrap_or_default();
        entry.nulls |= entry.present < rows;
        (key, entry)
    });
    build(columns.collect())
}

fn build(columns: Vec<(String, Seen)>) -> Result<Schema, String> {
    if columns.is_empty() {
        return Err("the sample has no columns".into());
    }
    let mut built = Vec::with_capacity(columns.len());
    for (raw, seen) in columns {
        let name = Name::parse(raw.to_ascii_lowercase().replace([' ', '.'], "_"))
            .map_err(|e| format!("column `{raw}`: {e}; rename it in the sample"))?;
        let column_type = match seen.guess.unwrap_or(Guess::Text) {
            Guess::Bool => ColumnType::Bool,
            Guess::Int => ColumnType::Int64,
            Guess::Float => ColumnType::Float64,
            Guess::Timestamp => ColumnType::Timestamp,
            Guess::Text => ColumnType::String,
        };
        built.push(Column {
            name,
            column_type,
            nullable: seen.nulls || seen.guess.is_none(),
            rules: Rules::default(),
        });
    }
    let event_timestamp = built
        .iter_mut()
        .find(|c| c.column_type == ColumnType::Timestamp)
        .map(|c| {
            c.nullable = false;
            c.name.clone()
        })
        .ok_or("the sample has no timestamp column to use as event time")?;
    Ok(Schema { columns: built, event_timestamp, entity_keys: Vec::new(), unique_key: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_samples_get_the_narrowest_types() {
        let sample =
            "id,ts,amount,ok,note,Score Value\n1,2026-03-01T00:00:00Z,1,true,a,\n2,2026-03-02,2.5,false,,3\n";
        let schema = infer_csv(sample.as_bytes()).unwrap();
        let types: Vec<(&str, &ColumnType, bool)> =
            schema.columns.iter().map(|c| (c.name.as_str(), &c.column_type, c.nullable)).collect();
        assert_eq!(
            types,
            [
                ("id", &ColumnType::Int64, false),
                ("ts", &ColumnType::Timestamp, false),
                ("amount", &ColumnType::Float64, false),
                ("ok", &ColumnType::Bool, false),
                ("note", &ColumnType::String, true),
                ("score_value", &ColumnType::Int64, true),
            ]
        );
        assert_eq!(schema.event_timestamp.as_str(), "ts");
        assert_eq!(schema.validate(), Ok(()));
    }

    #[test]
    fn json_samples_and_missing_keys() {
        let sample = "{\"id\": 1, \"at\": \"2026-03-01T00:00:00Z\", \"x\": 1.5}\n{\"id\": 2, \"at\": \"2026-03-01\", \"tag\": \"a\"}\n";
        let schema = infer_json_lines(sample.as_bytes()).unwrap();
        let names: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["at", "id", "x", "tag"], "keys in the order first seen (sorted within an object)");
        assert_eq!(schema.event_timestamp.as_str(), "at");
        assert!(schema.columns[2].nullable && schema.columns[3].nullable && !schema.columns[1].nullable);
        assert!(infer_csv("a,b\n1,2\n".as_bytes()).unwrap_err().contains("no timestamp"));
    }
}
