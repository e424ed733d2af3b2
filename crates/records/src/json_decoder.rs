use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;

use cairn_domain::{Column, ColumnType, Schema};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::parse::{from_json, shorten, timestamp};
use crate::{DecodeError, Numbered, Record, Value};

/// Longest line accepted; a longer one is an error rather than unbounded memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Decodes one JSON object into a record of `schema`. Keys are column names; a missing key is
/// null, an undeclared key is an error.
#[derive(Debug, Clone)]
pub struct JsonRecordDecoder {
    columns: Vec<Column>,
    index: HashMap<String, usize>,
}

impl JsonRecordDecoder {
    pub fn new(schema: &Schema) -> Self {
        let index = schema.columns.iter().enumerate().map(|(i, c)| (c.name.to_string(), i)).collect();
        Self { columns: schema.columns.clone(), index }
    }

    /// `line` only labels errors.
    pub fn decode(&self, line: u64, bytes: &[u8]) -> Result<Record, DecodeError> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| DecodeError::at(line, "line is not valid UTF-8"))?;
        let Fields(fields) = serde_json::from_str(text)
            .map_err(|error| DecodeError::at(line, format!("not a JSON object: {error}")))?;
        let mut record = vec![Value::Null; self.columns.len()];
        let mut seen = vec![false; self.columns.len()];
        // From the last member: of a key written twice, the last counts (as in a map).
        for (key, raw) in fields.into_iter().rev() {
            let Some(&at) = self.index.get(key.as_ref()) else {
                let key = shorten(&key);
                return Err(DecodeError::in_column(
                    line,
                    &key,
                    "column is not declared in the dataset's schema",
                ));
            };
            let column = &self.columns[at];
            if std::mem::replace(&mut seen[at], true) {
                // Overridden, yet still a value a map of JSON values holds: a number out of
                // f64's range (1e400) fails the line here as it would anywhere else.
                serde_json::from_str::<serde_json::Value>(raw.get())
                    .map_err(|error| DecodeError::in_column(line, column.name.as_str(), error.to_string()))?;
                continue;
            }
            record[at] = value(raw, column)
                .map_err(|message| DecodeError::in_column(line, column.name.as_str(), message))?;
        }
        Ok(record)
    }
}

/// A JSON object's members as they are written: keys (borrowed unless escaped) and raw values,
/// so a record is read without building a map or a tree of values for it.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Fields<'de>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(Key(key)) = map.next_key()? {
                    fields.push((key, map.next_value()?));
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Key<'de>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// One member's value: the usual shapes (null, a boolean, a number, a string without escapes)
/// read straight from its text, anything else through [`from_json`], whose rules they follow.
fn value(raw: &RawValue, column: &Column) -> Result<Value, String> {
    let text = raw.get();
    let number = || !text.starts_with("-0") && text.starts_with(|c: char| c == '-' || c.is_ascii_digit());
    let plain_string = || text.len() >= 2 && text.starts_with('"') && !text.contains('\\');
    let fast = match &column.column_type {
        _ if text == "null" => Some(Value::Null),
        ColumnType::Bool => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        ColumnType::Int32 if number() => text.parse::<i32>().ok().map(|v| Value::Int(v.into())),
        ColumnType::Int64 if number() => text.parse::<i64>().ok().map(Value::Int),
        ColumnType::Float32 | ColumnType::Float64 if number() => {
            text.parse::<f64>().ok().filter(|v| v.is_finite()).map(Value::Float)
        }
        ColumnType::String | ColumnType::Categorical { .. } if plain_string() => {
            Some(Value::Str(text[1..text.len() - 1].to_owned()))
        }
        ColumnType::Timestamp if plain_string() => timestamp(&text[1..text.len() - 1]).map(Value::Timestamp),
        _ => None,
    };
    match fast {
        Some(value) => Ok(value),
        None => {
            let parsed: serde_json::Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
            from_json(&parsed, column)
        }
    }
}

/// Reads JSON Lines (one JSON object per line) as records of `schema`, one at a time.
pub struct JsonLinesDecoder<R: BufRead> {
    input: R,
    decoder: JsonRecordDecoder,
    line: u64,
    buffer: Vec<u8>,
    failed: bool,
}

impl<R: BufRead> JsonLinesDecoder<R> {
    pub fn new(input: R, schema: &Schema) -> Self {
        Self { input, decoder: JsonRecordDecoder::new(schema), line: 0, buffer: Vec::new(), failed: false }
    }

    /// Decodes lines that start at line `first_line` of a larger input.
    pub fn chunk(input: R, schema: &Schema, first_line: u64) -> Self {
        Self { line: first_line.saturating_sub(1), ..Self::new(input, schema) }
    }

    /// Reads the next line into the buffer; `false` at the end of input.
    fn read_line(&mut self) -> Result<bool, DecodeError> {
        self.buffer.clear();
        loop {
            let available =
                self.input.fill_buf().map_err(|e| DecodeError::at(self.line + 1, e.to_string()))?;
            if available.is_empty() {
                return Ok(!self.buffer.is_empty());
            }
            let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
                Some(at) => (&available[..=at], true),
                None => (available, false),
            };
            if self.buffer.len() + chunk.len() > MAX_LINE_BYTES {
                return Err(DecodeError::at(self.line + 1, "line is longer than 16 MiB"));
            }
            self.buffer.extend_from_slice(chunk);
            let used = chunk.len();
            self.input.consume(used);
            if done {
                return Ok(true);
            }
        }
    }
}

impl<R: BufRead> Iterator for JsonLinesDecoder<R> {
    type Item = Result<Numbered, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed {
            let item = match self.read_line() {
                Ok(false) => return None,
                Ok(true) => {
                    self.line += 1;
                    if self.buffer.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    self.decoder.decode(self.line, &self.buffer).map(|record| (self.line, record))
                }
                Err(error) => Err(error),
            };
            self.failed = item.is_err();
            return Some(item);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv_decoder::tests::schema;

    /// The decoder as it was first written: the whole object as a map of JSON values.
    fn reference(decoder: &JsonRecordDecoder, text: &str) -> Option<Record> {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
        let mut record = vec![Value::Null; decoder.columns.len()];
        for (key, value) in &object {
            let at = *decoder.index.get(key)?;
            record[at] = from_json(value, &decoder.columns[at]).ok()?;
        }
        Some(record)
    }

    fn any_json() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            any::<i64>().prop_map(|v| v.to_string()),
            any::<u64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_filter("finite", |v| v.is_finite()).prop_map(|v| format!("{v:?}")),
            "-?[0-9]{1,25}(\\.[0-9]{0,5})?([eE][-+]?[0-9]{1,3})?",
            "[a-z0-9 ]{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            "\\PC{0,6}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            Just("\"2026-03-01T10:00:00Z\"".to_owned()),
            Just("\"2026-03-01 10:00:00.25\"".to_owned()),
            Just("\"2026\\u002d03-01\"".to_owned()),
            Just("[1, 2]".to_owned()),
            Just("{\"a\": 1}".to_owned()),
        ]
    }

    proptest::proptest! {
        #[test]
        fn decodes_as_a_map_of_json_values_would(
            values in proptest::collection::vec((0usize..5, any_json()), 0..6),
        ) {
            let decoder = JsonRecordDecoder::new(&schema());
            let names = ["id", "ts", "amount", "note", "colour"];
            let members: Vec<String> =
                values.iter().map(|(at, value)| format!("{:?}: {value}", names[*at])).collect();
            let text = format!("{{{}}}", members.join(", "));
            let decoded = decoder.decode(1, text.as_bytes()).ok();
            proptest::prop_assert_eq!(decoded, reference(&decoder, &text), "{}", text);
        }
    }

    fn decode(input: &[u8]) -> Result<Vec<Numbered>, DecodeError> {
        JsonLinesDecoder::new(input, &schema()).collect()
    }

    #[test]
    fn reads_objects_line_by_line() {
        let rows = decode(b"{\"id\": 1, \"ts\": \"2026-01-01T00:00:00Z\", \"amount\": 2.5}\n\n{\"id\": 2, \"ts\": \"2026-01-02\"}").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].1,
            vec![Value::Int(1), Value::Timestamp(1_767_225_600_000_000), Value::Float(2.5), Value::Null]
        );
        assert_eq!(rows[1].0, 3, "line numbers count blank lines");
    }

    #[test]
    fn bad_lines_are_named() {
        let error =
            decode(b"{\"id\": 1, \"ts\": \"2026-01-01\"}\n{\"id\": \"one\", \"ts\": \"2026-01-01\"}\n")
                .unwrap_err();
        assert_eq!((error.line, error.column.as_deref()), (2, Some("id")));
        assert_eq!(decode(b"[1, 2]\n").unwrap_err().line, 1);
        assert!(decode(b"{\"id\": 1,\n").unwrap_err().message.contains("not a JSON object"));
        assert!(decode(b"{\"colour\": 1}\n").unwrap_err().message.contains("not declared"));
        assert!(decode(b"{\"note\": \"\xff\"}\n").unwrap_err().message.contains("UTF-8"));
    }

    #[test]
    fn a_key_written_twice_keeps_the_last_value_but_both_must_be_values() {
        let rows = decode(b"{\"note\": \"a\", \"note\": \"b\", \"id\": 1}\n").unwrap();
        assert_eq!(rows[0].1[3], Value::Str("b".into()));
        let error = decode(b"{\"note\": 0.1e400, \"note\": \"\"}\n").unwrap_err();
        assert_eq!(error.column.as_deref(), Some("note"), "{error:?}");
    }
}
