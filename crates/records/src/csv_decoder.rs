use std::io::Read;

use cairn_domain::{Column, Schema};

use crate::parse::cell_from_text;
use crate::{Cell, DecodeError, Numbered, Record, Value};

/// The columns a CSV header names, checked against a schema: matched by name, in any order; a
/// declared nullable column may be absent (its values are null), an undeclared header is an
/// error.
#[derive(Debug, Clone)]
pub struct CsvHeader {
    columns: Vec<Column>,
    /// For each schema column, its field index in the file.
    positions: Vec<Option<usize>>,
    fields: usize,
}

impl CsvHeader {
    /// Reads a header from its own bytes (as `Splitter::first_record` returns it).
    pub fn parse(bytes: &[u8], schema: &Schema) -> Result<Self, DecodeError> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(bytes);
        let mut header = csv::ByteRecord::new();
        reader
            .read_byte_record(&mut header)
            .map_err(|error| DecodeError::at(1, format!("malformed header: {error}")))?;
        Self::from_fields(&header, schema)
    }

    fn from_fields(header: &csv::ByteRecord, schema: &Schema) -> Result<Self, DecodeError> {
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
        Ok(Self { columns: schema.columns.clone(), positions, fields: names.len() })
    }
}

/// Reads CSV with a header row as records of `schema`, one at a time — or a chunk of such a
/// file after its header (`chunk`), so that several threads can decode one file.
pub struct CsvDecoder<R: Read> {
    reader: csv::Reader<R>,
    header: CsvHeader,
    /// Lines before the reader's first one.
    lines_before: u64,
    row: csv::ByteRecord,
    failed: bool,
}

impl<R: Read> CsvDecoder<R> {
    pub fn new(input: R, schema: &Schema) -> Result<Self, DecodeError> {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(input);
        let fields = reader
            .byte_headers()
            .map_err(|error| DecodeError::at(1, format!("malformed header: {error}")))?;
        let header = CsvHeader::from_fields(fields, schema)?;
        Ok(Self { reader, header, lines_before: 0, row: csv::ByteRecord::new(), failed: false })
    }

    /// Decodes records that start on line `first_line` of a file with `header`.
    pub fn chunk(input: R, header: &CsvHeader, first_line: u64) -> Self {
        let reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input);
        Self {
            reader,
            header: header.clone(),
            lines_before: first_line.saturating_sub(1),
            row: csv::ByteRecord::new(),
            failed: false,
        }
    }
}

/// Where a decoder puts the cells of a row, each column's in schema order.
pub trait CellSink {
    fn cell(&mut self, column: usize, cell: Option<Cell<'_>>);
}

impl CellSink for Record {
    fn cell(&mut self, _column: usize, cell: Option<Cell<'_>>) {
        self.push(cell.map_or(Value::Null, Cell::to_value));
    }
}

impl<R: Read> Iterator for CsvDecoder<R> {
    type Item = Result<Numbered, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut record = Vec::with_capacity(self.header.columns.len());
        Some(self.next_into(&mut record)?.map(|line| (line, record)))
    }
}

impl<R: Read> CsvDecoder<R> {
    /// Decodes the next record into `sink`, cell by cell without a copy of its text; returns
    /// the line it started on. After an error `sink` may hold part of a row, and the decoder
    /// stops.
    pub fn next_into(&mut self, sink: &mut impl CellSink) -> Option<Result<u64, DecodeError>> {
        if self.failed {
            return None;
        }
        let item = match self.reader.read_byte_record(&mut self.row) {
            Ok(false) => return None,
            Ok(true) => self.decode(sink),
            Err(error) => {
                let line = self.lines_before + error.position().map_or(0, csv::Position::line);
                Err(DecodeError::at(line, format!("malformed CSV: {error}")))
            }
        };
        self.failed = item.is_err();
        Some(item)
    }

    fn decode(&self, sink: &mut impl CellSink) -> Result<u64, DecodeError> {
        let line = self.lines_before + self.row.position().map_or(0, csv::Position::line);
        let header = &self.header;
        if self.row.len() != header.fields {
            let message =
                format!("malformed CSV: {} fields where the header has {}", self.row.len(), header.fields);
            return Err(DecodeError::at(line, message));
        }
        // Checked once a record: each field is then a slice of it (a field cut inside a
        // character, or a record that is not UTF-8, is checked on its own to name the column).
        let whole = std::str::from_utf8(self.row.as_slice()).ok();
        for (index, (column, position)) in header.columns.iter().zip(&header.positions).enumerate() {
            let Some((field, range)) = position.and_then(|p| Some((self.row.get(p)?, self.row.range(p)?)))
            else {
                sink.cell(index, None);
                continue;
            };
            let name = column.name.as_str();
            let text = match whole.and_then(|whole| whole.get(range)) {
                Some(text) => text,
                None => std::str::from_utf8(field)
                    .map_err(|_| DecodeError::in_column(line, name, "value is not valid UTF-8"))?,
            };
            let cell = cell_from_text(text, column)
                .map_err(|message| DecodeError::in_column(line, name, message))?;
            sink.cell(index, cell);
        }
        Ok(line)
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
        // A character cut between two fields: the record reads as UTF-8, neither field does.
        let error = decode(b"ts,note,id\n2026-01-01,\xc3,\xa9\n").unwrap_err();
        assert_eq!(
            (error.column.as_deref(), error.message.as_str()),
            (Some("id"), "value is not valid UTF-8")
        );

        assert!(decode(b"id,ts,colour\n").unwrap_err().message.contains("not declared"));
        assert!(decode(b"id,note\n").unwrap_err().message.contains("missing"));
        assert!(decode(b"id,id,ts\n").unwrap_err().message.contains("twice"));
    }

    #[test]
    fn chunks_decode_like_the_whole_file_with_the_same_lines() {
        let mut csv = String::from("note,id,ts\n");
        for i in 0..5000 {
            csv.push_str(&format!("\"line {i}\nand more\",{i},2026-01-01\n"));
        }
        let whole = decode(csv.as_bytes()).unwrap();
        let mut splitter = crate::Splitter::new(csv.as_bytes(), true);
        let header = CsvHeader::parse(&splitter.first_record().unwrap().unwrap().bytes, &schema()).unwrap();
        let mut chunked = Vec::new();
        while let Some(chunk) = splitter.next_chunk().unwrap() {
            // Split each chunk again at an arbitrary record boundary, as a smaller chunk size would.
            let middle = chunk.bytes.len() / 2;
            let cut =
                middle + chunk.bytes[middle..].windows(2).position(|w| w == b"\"\n").map_or(0, |p| p + 1);
            let cut = cut.min(chunk.bytes.len());
            let lines_before_cut = chunk.bytes[..cut].iter().filter(|b| **b == b'\n').count() as u64;
            let first = CsvDecoder::chunk(&chunk.bytes[..cut], &header, chunk.first_line);
            let second = CsvDecoder::chunk(&chunk.bytes[cut..], &header, chunk.first_line + lines_before_cut);
            chunked.extend(first.chain(second).map(Result::unwrap));
        }
        assert_eq!(chunked, whole);
        assert_eq!(chunked[4999].0, 2 + 2 * 4999, "a record's line counts the newlines in quotes");

        let error = CsvDecoder::chunk(&b"\"a\nb\",7,2026-01-01\n\"c\",8\n"[..], &header, 40).nth(1).unwrap();
        assert_eq!(error.unwrap_err().to_string(), "line 42: malformed CSV: 2 fields where the header has 3");
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        assert_eq!(decode(b"\xef\xbb\xbfid,ts\n1,2026-01-01\n").unwrap().len(), 1);
    }
}
