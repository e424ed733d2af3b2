use std::collections::HashMap;
use std::io::BufRead;

use cairn_domain::{Column, Schema};

use crate::parse::{from_json, shorten};
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
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|error| DecodeError::at(line, format!("not a JSON object: {error}")))?;
        let mut record = vec![Value::Null; self.columns.len()];
        for (key, value) in &object {
            let Some(&at) = self.index.get(key) else {
                let key = shorten(key);
                return Err(DecodeError::in_column(
                    line,
                    &key,
                    "column is not declared in the dataset's schema",
                ));
            };
            let column = &self.columns[at];
            record[at] = from_json(value, column)
                .map_err(|message| DecodeError::in_column(line, column.name.as_str(), message))?;
        }
        Ok(record)
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
}
