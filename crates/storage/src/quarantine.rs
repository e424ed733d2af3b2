use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_array::cast::AsArray as _;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use cairn_domain::{BatchId, Name};
use cairn_records::{Record, Violation};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::writer::{HashedFile, close_staged};
use crate::{StagedFile, StorageError};

const ROWS_PER_GROUP: usize = 64 * 1024;

/// A quarantined record as read back: its line, its text and the rules it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub line: u64,
    /// A JSON object of the values, or the raw input when it did not decode.
    pub record: String,
    pub violations: Vec<Violation>,
}

/// Reads the first `limit` records of a quarantine file (as `QuarantineWriter` wrote it).
pub(crate) fn read_quarantined(batch: &RecordBatch, into: &mut Vec<Quarantined>) -> Result<(), StorageError> {
    let column = |name: &str| {
        batch.column_by_name(name).ok_or_else(|| {
            StorageError::Arrow(arrow_schema::ArrowError::SchemaError(format!("no column `{name}`")))
        })
    };
    let lines = column("line")?.as_primitive_opt::<Int64Type>();
    let records = column("record")?.as_string_opt::<i32>();
    let violations = column("violations")?.as_string_opt::<i32>();
    let (Some(lines), Some(records), Some(violations)) = (lines, records, violations) else {
        return Err(StorageError::Arrow(arrow_schema::ArrowError::SchemaError(
            "not a quarantine file".into(),
        )));
    };
    for row in 0..batch.num_rows() {
        into.push(Quarantined {
            line: u64::try_from(lines.value(row)).unwrap_or_default(),
            record: records.value(row).to_owned(),
            violations: serde_json::from_str(violations.value(row)).unwrap_or_default(),
        });
    }
    Ok(())
}

/// Writes the records a batch rejected, each with its line and the rules it broke, to one
/// Parquet file: `line` (int64), `record` (the values as a JSON object), `violations` (JSON
/// array of `{column, rule, value}`).
pub struct QuarantineWriter {
    columns: Vec<String>,
    schema: Arc<ArrowSchema>,
    staged: StagedFile,
    writer: Option<ArrowWriter<HashedFile>>,
    lines: Int64Builder,
    records: StringBuilder,
    violations: StringBuilder,
    buffered: usize,
}

impl QuarantineWriter {
    /// `shard` tells apart the quarantine files of one batch (one per thread of a parallel batch).
    pub fn new(
        staging: &Path,
        dataset: &Name,
        columns: Vec<String>,
        batch: BatchId,
        shard: u32,
    ) -> Result<Self, StorageError> {
        std::fs::create_dir_all(staging)
            .map_err(|source| StorageError::Staging { path: staging.display().to_string(), source })?;
        let schema = Arc::new(ArrowSchema::new(vec![
            Field::new("line", DataType::Int64, false),
            Field::new("record", DataType::Utf8, false),
            Field::new("violations", DataType::Utf8, false),
        ]));
        let local = staging.join(format!("quarantine-{batch}-{shard}.parquet"));
        let object = format!("datasets/{dataset}/quarantine/batch={batch}/part-{shard:05}.parquet");
        Ok(Self {
            columns,
            schema,
            staged: StagedFile {
                local,
                object,
                rows: 0,
                min_event_micros: 0,
                max_event_micros: 0,
                written: None,
            },
            writer: None,
            lines: Int64Builder::new(),
            records: StringBuilder::new(),
            violations: StringBuilder::new(),
            buffered: 0,
        })
    }

    pub fn push(&mut self, line: u64, record: &Record, violations: &[Violation]) -> Result<(), StorageError> {
        let object: serde_json::Map<String, serde_json::Value> = self
            .columns
            .iter()
            .zip(record)
            .map(|(name, value)| {
                let json = if value.is_null() { serde_json::Value::Null } else { value.to_string().into() };
                (name.clone(), json)
            })
            .collect();
        self.push_raw(line, &serde_json::Value::Object(object).to_string(), violations)
    }

    /// Quarantines input that did not even decode, as the text it arrived as.
    pub fn push_raw(&mut self, line: u64, raw: &str, violations: &[Violation]) -> Result<(), StorageError> {
        self.lines.append_value(i64::try_from(line).unwrap_or(i64::MAX));
        self.records.append_value(raw);
        self.violations.append_value(serde_json::to_string(violations).unwrap_or_default());
        self.buffered += 1;
        self.staged.rows += 1;
        if self.buffered >= ROWS_PER_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StorageError> {
        if self.buffered == 0 {
            return Ok(());
        }
        if self.writer.is_none() {
            let file = HashedFile::create(&self.staged.local)?;
            let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
            self.writer = Some(ArrowWriter::try_new(file, self.schema.clone(), Some(properties))?);
        }
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.lines.finish()),
            Arc::new(self.records.finish()),
            Arc::new(self.violations.finish()),
        ];
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        if let Some(writer) = &mut self.writer {
            writer.write(&batch)?;
            writer.flush()?;
        }
        self.buffered = 0;
        Ok(())
    }

    /// The staged file, or `None` when nothing was quarantined.
    pub fn finish(mut self) -> Result<Option<StagedFile>, StorageError> {
        self.flush()?;
        match self.writer.take() {
            Some(writer) => Ok(Some(close_staged(writer, self.staged)?)),
            None => Ok(None),
        }
    }
}
