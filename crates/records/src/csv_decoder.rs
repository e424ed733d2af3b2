use std::io::Read;

use cairn_domain::{Column, Schema};

use crate::parse::from_text;
use crate::{DecodeError, Numbered, Value};

/// Reads CSV with a header row as records of `schema`, one at a time.
///
/// Columns are matched by header name, in any order; a declared nullable column may be absent
/// (its values are null), a header the schema does not declare is an error.
pub struct CsvDecoder<R: Read> {
    reader: csv::Reader<R>,
    columns: Vec<Column>,
    /// For each schema column, its field index in the file.
    positions: Vec<Option<usize>>,
    row: csv::ByteRecord,
    failed: bool,
}

impl<R: Read> CsvDecoder<R> {
    pub fn new(input: R, schema: &Schema) -> Result<Self, DecodeError> {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(input);
        let header = reader
            .byte_headers()
            .map_err(|error| DecodeError::at(1, format!("malformed header: {error}")))?;
        let mut names = Vec::with_capacity(header.len());
        for field in header {
            let name =
                std::str::from_utf8(field).map_err(|_| DecodeError::at(1, "header is not valid UTF-8"))?;
            let name = name.trim().trim_start_matches('\u{feff}').to_owned();
            if names.contains(&name) {
                return Err(DecodeError::in_column(1, &name, "column appears twice in the header"));
            }
            if !schema.columns.iter().any(|column| column.name.as_str() == name) {
                return Err(DecodeError::in_column(
                    1,
                    &name,
                    "column is not declared in the dataset's schema",
                ));
            }
            names.push(name);
        }
        let positions: Vec<Option<usize>> = schema
            .columns
            .iter()
            .map(|column| names.iter().position(|name| name == column.name.as_str()))
            .collect();
        if let Some(missing) = schema.columns.iter().zip(&positions).find(|(c, p)| p.is_none() && !c.nullable)
        {
            return Err(DecodeError::in_column(1, missing.0.name.as_str(), "non-nullable column is missing"));
        }
        Ok(Self {
            reader,
            columns: schema.columns.clone(),
            positions,
            row: csv::ByteRecord::new(),
            failed: false,
        })
    }
}

impl<R: Read> Iterator for CsvDecoder<R> {
    type Item = Result<Numbered, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = match self.reader.read_byte_record(&mut self.row) {
            Ok(false) => return None,
            Ok(true) => self.decode(),
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                let message = match error.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("malformed CSV: {len} fields where the header has {expected_len}")
                    }
                    _ => format!("malformed CSV: {error}"),
                };
                Err(DecodeError::at(line, message))
            }
        };
        self.failed = item.is_err();
        Some(item)
    }
}

impl<R: Read> CsvDecoder<R> {
    fn decode(&self) -> Result<Numbered, DecodeError> {
        let line = self.row.position().map_or(0, csv::Position::line);
        let mut record = Vec::with_capacity(self.columns.len());
        for (column, position) in self.columns.iter().zip(&self.positions) {
            let Some(field) = position.and_then(|p| self.row.get(p)) else {
                record.push(Value::Null);
                continue;
            };
            let name = column.name.as_str();
            let text = std::str::from_utf8(field)
                .map_err(|_| DecodeError::in_column(line, name, "value is not valid UTF-8"))?;
            record.push(
                from_text(text, column).map_err(|message| DecodeError::in_column(line, name, message))?,
            );
        }
        Ok((line, record))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn schema() -> Schema {
        serde_json::from_value(serde_json::json!({
            "columns": [
                {"name": "id", "type": "int64", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "amount", "type": "float64"},
                {"name": "note", "type": "string"}
            ],
            "event_timestamp": "ts",
            "entity_keys": ["id"]
        }))
        .unwrap()
    }

    fn decode(csv: &[u8]) -> Result<Vec<Numbered>, DecodeError> {
        CsvDecoder::new(csv, &schema())?.collect()
    }

    #[test]
    fn reads_columns_by_name_in_any_order() {
        let rows = decode(b"ts,id,note\n2026-01-01,7,\"a, b\"\n2026-01-02,8,\n").unwrap();
        assert_eq!(rows.len(), 2);
        let (line, record) = &rows[0];
        assert_eq!(*line, 2);
        assert_eq!(record[0], Value::Int(7));
        assert_eq!(record[2], Value::Null, "absent nullable column");
        assert_eq!(record[3], Value::Str("a, b".into()));
        assert_eq!(rows[1].1[3], Value::Null, "empty field");
    }

    #[test]
    fn structural_problems_name_line_and_column() {
        let error = decode(b"id,ts\n1,2026-01-01\n2,2026-01-01,extra\n").unwrap_err();
        assert_eq!(error.line, 3);
        assert!(error.message.contains("3 fields where the header has 2"), "{error}");

        let error = decode(b"id,ts\n1,2026-01-01\nx,2026-01-01\n").unwrap_err();
        assert_eq!(error.to_string(), "line 3, column `id`: `x` is not a int64");

        let error = decode(b"id,ts,note\n1,2026-01-01,\xff\xfe\n").unwrap_err();
        assert_eq!((error.line, error.column.as_deref()), (2, Some("note")));

        assert!(decode(b"id,ts,colour\n").unwrap_err().message.contains("not declared"));
        assert!(decode(b"id,note\n").unwrap_err().message.contains("missing"));
        assert!(decode(b"id,id,ts\n").unwrap_err().message.contains("twice"));
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        assert_eq!(decode(b"\xef\xbb\xbfid,ts\n1,2026-01-01\n").unwrap().len(), 1);
    }
}
