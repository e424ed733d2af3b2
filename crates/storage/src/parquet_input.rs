//! Parquet files as input: rows of an uploaded file read as records of a dataset's schema.

use std::fs::File;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use cairn_domain::{Column, ColumnType, Schema};
use cairn_records::parse::from_text;
use cairn_records::{DecodeError, Numbered, Record, Value};
use parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};

use crate::cells;

const ROWS_PER_READ: usize = 8192;

/// Reads a Parquet file's rows as records of `schema`, a row group at a time (the file is
/// never whole in memory). Columns are matched by name; a declared nullable column may be
/// absent, an undeclared one is an error, as for CSV.
pub struct ParquetRecords {
    reader: ParquetRecordBatchReader,
    columns: Vec<Column>,
    /// For each schema column, its index in the file's batches.
    positions: Vec<Option<usize>>,
    batch: Option<RecordBatch>,
    next_in_batch: usize,
    row: u64,
    failed: bool,
}

impl ParquetRecords {
    pub fn open(file: File, schema: &Schema) -> Result<Self, DecodeError> {
        Self::open_groups(file, schema, None)
    }

    /// How many row groups `file` has (to read them on several threads).
    pub fn row_groups(file: File) -> Result<usize, DecodeError> {
        ParquetRecordBatchReaderBuilder::try_new(file)
            .map(|builder| builder.metadata().num_row_groups())
            .map_err(|error| DecodeError::at(0, format!("not a readable Parquet file: {error}")).in_rows())
    }

    /// The rows of row group `group` only, numbered as in the whole file.
    pub fn open_row_group(file: File, schema: &Schema, group: usize) -> Result<Self, DecodeError> {
        Self::open_groups(file, schema, Some(group))
    }

    fn open_groups(file: File, schema: &Schema, group: Option<usize>) -> Result<Self, DecodeError> {
        let not_parquet = |error: parquet::errors::ParquetError| {
            DecodeError::at(0, format!("not a readable Parquet file: {error}")).in_rows()
        };
        // Types from the Parquet schema alone: a writer's Arrow hints (dictionaries, views) are
        // not needed to read values.
        let options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
        let builder =
            ParquetRecordBatchReaderBuilder::try_new_with_options(file, options).map_err(not_parquet)?;
        let file_schema = builder.schema().clone();
        for field in file_schema.fields() {
            if !schema.columns.iter().any(|c| c.name.as_str() == field.name()) {
                return Err(DecodeError::in_column(
                    0,
                    field.name(),
                    "column is not declared in the dataset's schema",
                )
                .in_rows());
            }
        }
        let positions: Vec<Option<usize>> =
            schema.columns.iter().map(|c| file_schema.index_of(c.name.as_str()).ok()).collect();
        if let Some((missing, _)) =
            schema.columns.iter().zip(&positions).find(|(c, p)| p.is_none() && !c.nullable)
        {
            return Err(
                DecodeError::in_column(0, missing.name.as_str(), "non-nullable column is missing").in_rows()
            );
        }
        let mut row = 0;
        let builder = match group {
            Some(group) => {
                let groups = builder.metadata().row_groups();
                let before: i64 = groups.iter().take(group).map(|g| g.num_rows()).sum();
                row = u64::try_from(before).unwrap_or_default();
                builder.with_row_groups(vec![group])
            }
            None => builder,
        };
        let reader = builder.with_batch_size(ROWS_PER_READ).build().map_err(not_parquet)?;
        Ok(Self {
            reader,
            columns: schema.columns.clone(),
            positions,
            batch: None,
            next_in_batch: 0,
            row,
            failed: false,
        })
    }

    fn record(&self, batch: &RecordBatch, index: usize) -> Result<Record, DecodeError> {
        let row = self.row;
        self.columns
            .iter()
            .zip(&self.positions)
            .map(|(column, position)| match position {
                None => Ok(Value::Null),
                Some(p) => value(batch.column(*p), index, column)
                    .map_err(|message| DecodeError::in_column(row, column.name.as_str(), message).in_rows()),
            })
            .collect()
    }
}

impl Iterator for ParquetRecords {
    type Item = Result<Numbered, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            if let Some(batch) = &self.batch
                && self.next_in_batch < batch.num_rows()
            {
                let index = self.next_in_batch;
                self.next_in_batch += 1;
                self.row += 1;
                let item = self.record(batch, index).map(|record| (self.row, record));
                self.failed = item.is_err();
                return Some(item);
            }
            match self.reader.next()? {
                Ok(batch) => {
                    self.batch = Some(batch);
                    self.next_in_batch = 0;
                }
                Err(error) => {
                    self.failed = true;
                    return Some(Err(
                        DecodeError::at(self.row + 1, format!("unreadable Parquet: {error}")).in_rows()
                    ));
                }
            }
        }
    }
}

/// One cell as a value of `column`'s type. Integers widen, floats widen, any timestamp unit
/// becomes microseconds, dates become midnight UTC, strings parse as for CSV.
fn value(array: &ArrayRef, index: usize, column: &Column) -> Result<Value, String> {
    if array.is_null(index) {
        return Ok(Value::Null);
    }
    let wanted = &column.column_type;
    let mismatch = || format!("a Parquet {} column cannot hold {} values", array.data_type(), wanted.name());
    let int = || cells::int_at(array, index);
    let text = || cells::str_at(array, index).map(str::to_owned);
    match wanted {
        ColumnType::Bool => match array.data_type() {
            DataType::Boolean => Ok(Value::Bool(array.as_boolean().value(index))),
            _ => Err(mismatch()),
        },
        ColumnType::Int32 => {
            let v = int().ok_or_else(mismatch)?;
            i32::try_from(v)
                .map(|v| Value::Int(v.into()))
                .map_err(|_| format!("{v} is out of range for int32"))
        }
        ColumnType::Int64 => int().map(Value::Int).ok_or_else(mismatch),
        ColumnType::Float32 | ColumnType::Float64 => match array.data_type() {
            DataType::Float32 => Ok(Value::Float(array.as_primitive::<Float32Type>().value(index).into())),
            DataType::Float64 => Ok(Value::Float(array.as_primitive::<Float64Type>().value(index))),
            _ => int().map(|v| Value::Float(v as f64)).ok_or_else(mismatch),
        },
        ColumnType::String | ColumnType::Categorical { .. } => text().map(Value::Str).ok_or_else(mismatch),
        ColumnType::Timestamp => match array.data_type() {
            DataType::Timestamp(..) => cells::micros_at(array, index)
                .map(Value::Timestamp)
                .ok_or_else(|| "timestamp out of range".to_owned()),
            DataType::Date32 => Ok(Value::Timestamp(
                i64::from(array.as_primitive::<Date32Type>().value(index)) * 86_400_000_000,
            )),
            _ => match text() {
                Some(text) => from_text(&text, column),
                None => Err(mismatch()),
            },
        },
    }
}
