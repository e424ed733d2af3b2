use std::io::Read;

use cairn_domain::{Column, Schema};

use crate::parse::from_text;
use crate::{DecodeError, Numbered, Record, Value};

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

    /// An error unless a record on `line` has as many fields as the header.
    fn check_fields(&self, fields: usize, line: u64) -> Result<(), DecodeError> {
        if fields == self.fields {
            return Ok(());
        }
        let message = format!("malformed CSV: {fields} fields where the header has {}", self.fields);
        Err(DecodeError::at(line, message))
    }

    /// Puts the cells of the record on `line` into `sink` in schema order; `field(p)` is the
    /// text of its field `p`, or none when that is not UTF-8.
    fn put_cells<'t>(
        &self,
        line: u64,
        sink: &mut impl CellSink,
        field: impl Fn(usize) -> Option<&'t str>,
    ) -> Result<(), DecodeError> {
        for (index, (column, position)) in self.columns.iter().zip(&self.positions).enumerate() {
            let Some(position) = *position else {
                sink.null(index);
                continue;
            };
            let name = column.name.as_str();
            let text = field(position)
                .ok_or_else(|| DecodeError::in_column(line, name, "value is not valid UTF-8"))?;
            sink.text(index, text, column).map_err(|message| DecodeError::in_column(line, name, message))?;
        }
        Ok(())
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

/// Where a decoder puts the fields of a row, each column's in schema order.
pub trait CellSink {
    /// The field of schema column `index` (`column`), parsed as its type ([`from_text`]); an
    /// error says why it is not one.
    fn text(&mut self, index: usize, text: &str, column: &Column) -> Result<(), String>;

    /// A null for schema column `index`, which the file does not have.
    fn null(&mut self, index: usize);
}

impl CellSink for Record {
    fn text(&mut self, _index: usize, text: &str, column: &Column) -> Result<(), String> {
        self.push(from_text(text, column)?);
        Ok(())
    }

    fn null(&mut self, _index: usize) {
        self.push(Value::Null);
    }
}

impl<R: Read> Iterator for CsvDecoder<R> {
    type Item = Result<Numbered, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}

impl<R: Read> CsvRecords for CsvDecoder<R> {
    /// Cell by cell without a copy of its text.
    fn next_into(&mut self, sink: &mut impl CellSink) -> Option<Result<u64, DecodeError>> {
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
}

impl<R: Read> CsvDecoder<R> {
    fn decode(&self, sink: &mut impl CellSink) -> Result<u64, DecodeError> {
        let line = self.lines_before + self.row.position().map_or(0, csv::Position::line);
        self.header.check_fields(self.row.len(), line)?;
        // Checked once a record: each field is then a slice of it (a field cut inside a
        // character, or a record that is not UTF-8, is checked on its own to name the column).
        let whole = std::str::from_utf8(self.row.as_slice()).ok();
        self.header.put_cells(line, sink, |p| {
            let range = self.row.range(p)?;
            whole.and_then(|whole| whole.get(range)).or_else(|| std::str::from_utf8(self.row.get(p)?).ok())
        })?;
        Ok(line)
    }
}

/// A chunk of whole CSV records that holds no quote, only newlines (or CRLF) to end records, and
/// only UTF-8 — what most files are. Its fields are the text between commas, found with
/// `memchr` rather than the general reader's byte-at-a-time state machine, which takes every
/// other chunk.
struct PlainChunk<'a> {
    text: &'a str,
    /// Every comma and newline of `text`, found in one pass.
    delimiters: Delimiters<'a>,
    at: usize,
    /// The line of the next record.
    line: u64,
    header: &'a CsvHeader,
    /// The field bounds of the current record.
    fields: Vec<(usize, usize)>,
    failed: bool,
}

impl<'a> PlainChunk<'a> {
    /// None when `bytes` need the general reader.
    fn new(bytes: &'a [u8], header: &'a CsvHeader, first_line: u64) -> Option<Self> {
        if memchr::memchr(b'"', bytes).is_some()
            || memchr::memchr_iter(b'\r', bytes).any(|at| bytes.get(at + 1) != Some(&b'\n'))
        {
            return None;
        }
        let text = std::str::from_utf8(bytes).ok()?;
        let delimiters = Delimiters { bytes, word: 0, found: 0 };
        Some(Self { text, delimiters, at: 0, line: first_line, header, fields: Vec::new(), failed: false })
    }

    /// As [`CsvDecoder::next_into`]: blank lines are skipped, as the general reader skips them.
    fn next_into(&mut self, sink: &mut impl CellSink) -> Option<Result<u64, DecodeError>> {
        let bytes = self.text.as_bytes();
        while !self.failed && self.at < bytes.len() {
            self.fields.clear();
            let mut start = self.at;
            let end = loop {
                match self.delimiters.next() {
                    Some(comma) if bytes[comma] == b',' => {
                        self.fields.push((start, comma));
                        start = comma + 1;
                    }
                    Some(newline) => break newline,
                    None => break bytes.len(),
                }
            };
            let record = (self.at, end - usize::from(end > self.at && bytes[end - 1] == b'\r'));
            self.fields.push((start, record.1.max(start)));
            self.at = end + 1;
            let line = self.line;
            self.line += 1;
            if record.0 == record.1 {
                continue;
            }
            let (text, fields) = (self.text, &self.fields);
            let decoded = self
                .header
                .check_fields(fields.len(), line)
                .and_then(|()| self.header.put_cells(line, sink, |p| text.get(fields[p].0..fields[p].1)));
            self.failed = decoded.is_err();
            return Some(decoded.map(|()| line));
        }
        None
    }
}

/// Where the commas and newlines of a text are, in order: eight bytes at a time, every match in
/// a word found at once with bit arithmetic, which beats searching for each one (as `memchr`
/// does) when they come every few bytes, as in CSV.
struct Delimiters<'a> {
    bytes: &'a [u8],
    /// Where the next word starts.
    word: usize,
    /// The delimiters of the last word not yet given: the high bit of each such byte.
    found: u64,
}

impl Iterator for Delimiters<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.found == 0 {
            let word = match self.bytes.get(self.word..self.word + 8) {
                Some(word) => u64::from_le_bytes(word.try_into().ok()?),
                None => {
                    // The last few bytes, padded with zero bytes (no delimiter).
                    let rest = self.bytes.get(self.word..).filter(|rest| !rest.is_empty())?;
                    let mut word = [0; 8];
                    word[..rest.len()].copy_from_slice(rest);
                    u64::from_le_bytes(word)
                }
            };
            self.found = zero_bytes(word ^ repeated(b',')) | zero_bytes(word ^ repeated(b'\n'));
            self.word += 8;
        }
        let byte = self.found.trailing_zeros() as usize / 8;
        self.found &= self.found - 1;
        Some(self.word - 8 + byte)
    }
}

/// `byte` in each of a word's eight bytes.
const fn repeated(byte: u8) -> u64 {
    u64::from_le_bytes([byte; 8])
}

/// The high bit of every zero byte of `word`, and no other bit: the low seven bits of a byte
/// plus 0x7f carry into its high bit exactly when one is set, and never into the next byte.
#[inline]
fn zero_bytes(word: u64) -> u64 {
    const LOW: u64 = repeated(0x7f);
    !(((word & LOW) + LOW) | word | LOW)
}

/// Decodes a chunk of whole records (as [`crate::Splitter`] cuts them): as a [`PlainChunk`]
/// when it is one, with the general reader otherwise.
pub struct ChunkDecoder<'a>(Decoder<'a>);

enum Decoder<'a> {
    Plain(PlainChunk<'a>),
    General(CsvDecoder<&'a [u8]>),
}

impl<'a> ChunkDecoder<'a> {
    pub fn new(bytes: &'a [u8], header: &'a CsvHeader, first_line: u64) -> Self {
        Self(match PlainChunk::new(bytes, header, first_line) {
            Some(plain) => Decoder::Plain(plain),
            None => Decoder::General(CsvDecoder::chunk(bytes, header, first_line)),
        })
    }

    /// Whether the chunk is decoded on the quick path (a [`PlainChunk`]), for tests that must
    /// know which path they exercised.
    pub fn is_quick(&self) -> bool {
        matches!(self.0, Decoder::Plain(_))
    }
}

/// What decodes CSV records into a [`CellSink`] one at a time.
pub trait CsvRecords {
    /// Decodes the next record into `sink`; returns the line it started on. After an error
    /// `sink` may hold part of a row, and the decoder stops.
    fn next_into(&mut self, sink: &mut impl CellSink) -> Option<Result<u64, DecodeError>>;

    /// The next record as values, with its line.
    fn next_record(&mut self) -> Option<Result<Numbered, DecodeError>> {
        let mut record = Vec::new();
        Some(self.next_into(&mut record)?.map(|line| (line, record)))
    }
}

impl CsvRecords for ChunkDecoder<'_> {
    fn next_into(&mut self, sink: &mut impl CellSink) -> Option<Result<u64, DecodeError>> {
        match &mut self.0 {
            Decoder::Plain(plain) => plain.next_into(sink),
            Decoder::General(general) => general.next_into(sink),
        }
    }
}

impl Iterator for ChunkDecoder<'_> {
    type Item = Result<Numbered, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
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
    fn chunks_without_quotes_or_lone_carriage_returns_take_the_quick_path() {
        let header = CsvHeader::parse(b"id,ts,note", &schema()).unwrap();
        let quick = |bytes: &[u8]| matches!(ChunkDecoder::new(bytes, &header, 2).0, Decoder::Plain(_));
        assert!(quick(b"1,2026-01-01,a\r\n\n2,2026-01-02,\xc3\xa9\n"));
        assert!(!quick(b"1,2026-01-01,\"a\"\n"), "a quote");
        assert!(!quick(b"1,2026-01-01,a\r2,2026-01-01,b\n"), "a lone carriage return ends a record");
        assert!(!quick(b"1,2026-01-01,\xff\n"), "not UTF-8: the general reader names the column");
        let rows: Vec<_> = ChunkDecoder::new(b"1,2026-01-01,a\r\n\n2,2026-01-02,\n", &header, 2)
            .map(Result::unwrap)
            .collect();
        assert_eq!((rows[0].0, rows[1].0), (2, 4), "a blank line is skipped and counted");
        assert_eq!(rows[1].1[2], Value::Null);
    }

    proptest::proptest! {
        #[test]
        fn delimiters_are_found_where_they_are(bytes in proptest::collection::vec(
            proptest::sample::select(vec![b',', b'\n', b'a', 0, 0x80, 0xac, 0x8a, 0xff, b'\r']), 0..40,
        )) {
            let found: Vec<usize> = Delimiters { bytes: &bytes, word: 0, found: 0 }.collect();
            let expected: Vec<usize> = memchr::memchr2_iter(b',', b'\n', &bytes).collect();
            proptest::prop_assert_eq!(found, expected);
        }
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        assert_eq!(decode(b"\xef\xbb\xbfid,ts\n1,2026-01-01\n").unwrap().len(), 1);
    }
}
