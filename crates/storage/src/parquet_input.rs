//! Parquet files as input: rows of an uploaded file read as records of a dataset's schema.

use std::fs::File;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float32Type, Float64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch, new_null_array};
use arrow_schema::{DataType, Schema as ArrowSchema, TimeUnit};
use cairn_domain::{Column, ColumnType, Schema};
use cairn_records::parse::from_text;
use cairn_records::{DecodeError, Value};
use parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};

use crate::builders::ColumnBuilder;
use crate::layout::input_schema;
use crate::{cells, data_type};

const ROWS_PER_READ: usize = 65_536;

/// Reads a Parquet file's rows as batches of `schema`'s Arrow types, every column nullable
/// (validation comes after), a row group at a time (the file is never whole in memory). Columns
/// are matched by name; a declared nullable column may be absent, an undeclared one is an
/// error, as for CSV. Each batch comes with the (1-based) number of its first row in the file.
pub struct ParquetBatches {
    reader: ParquetRecordBatchReader,
    columns: Vec<Column>,
    arrow: Arc<ArrowSchema>,
    /// For each schema column, its index in the file's batches.
    positions: Vec<Option<usize>>,
    /// Rows read so far, those of the row groups skipped included.
    row: u64,
    failed: bool,
}

impl ParquetBatches {
    pub fn open(file: File, schema: &Schema) -> Result<Self, DecodeError> {
        Self::open_groups(file, schema, None)
    }

    /// The rows of each of `file`'s row groups (to read them on several threads).
    pub fn row_groups(file: File) -> Result<Vec<usize>, DecodeError> {
        ParquetRecordBatchReaderBuilder::try_new(file)
            .map(|builder| {
                let groups = builder.metadata().row_groups();
                groups.iter().map(|group| usize::try_from(group.num_rows()).unwrap_or_default()).collect()
            })
            .map_err(|error| DecodeError::at(0, format!("not a readable Parquet file: {error}")).in_rows())
    }

    /// The rows of row group `group` only — or its rows `part` —, numbered as in the whole file.
    pub fn open_row_group(
        file: File,
        schema: &Schema,
        group: usize,
        part: Option<Range<usize>>,
    ) -> Result<Self, DecodeError> {
        Self::open_groups(file, schema, Some((group, part)))
    }

    fn open_groups(
        file: File,
        schema: &Schema,
        group: Option<(usize, Option<Range<usize>>)>,
    ) -> Result<Self, DecodeError> {
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
            Some((group, part)) => {
                let groups = builder.metadata().row_groups();
                let before: i64 = groups.iter().take(group).map(|g| g.num_rows()).sum();
                row = u64::try_from(before).unwrap_or_default();
                let rows = groups.get(group).map_or(0, |g| usize::try_from(g.num_rows()).unwrap_or_default());
                let builder = builder.with_row_groups(vec![group]);
                match part {
                    Some(part) => {
                        row += part.start as u64;
                        let selectors = [
                            RowSelector::skip(part.start),
                            RowSelector::select(part.len()),
                            RowSelector::skip(rows.saturating_sub(part.end)),
                        ];
                        let selectors = selectors.into_iter().filter(|selector| selector.row_count > 0);
                        builder.with_row_selection(RowSelection::from(selectors.collect::<Vec<_>>()))
                    }
                    None => builder,
                }
            }
            None => builder,
        };
        let reader = builder.with_batch_size(ROWS_PER_READ).build().map_err(not_parquet)?;
        Ok(Self {
            reader,
            columns: schema.columns.clone(),
            arrow: input_schema(schema),
            positions,
            row,
            failed: false,
        })
    }

    /// A batch of the file as the schema's columns: arrays of the stored type are taken as they
    /// are, others converted cell by cell (rows counted from `first_row`).
    fn conform(&self, batch: &RecordBatch, first_row: u64) -> Result<RecordBatch, DecodeError> {
        let rows = batch.num_rows();
        let mut arrays = Vec::with_capacity(self.columns.len());
        for (column, position) in self.columns.iter().zip(&self.positions) {
            let wanted = data_type(&column.column_type);
            let Some(array) = position.map(|p| batch.column(p)) else {
                arrays.push(new_null_array(&wanted, rows));
                continue;
            };
            match (array.data_type(), &wanted) {
                (DataType::Timestamp(TimeUnit::Microsecond, _), DataType::Timestamp(..)) => {
                    let times = array.as_primitive::<TimestampMicrosecondType>().clone();
                    arrays.push(Arc::new(times.with_timezone("UTC")));
                }
                (found, wanted) if found == wanted => arrays.push(array.clone()),
                _ => {
                    let mut builder = ColumnBuilder::new(&column.column_type);
                    for index in 0..rows {
                        let value = value(array, index, column).map_err(|message| {
                            let row = first_row + index as u64;
                            DecodeError::in_column(row, column.name.as_str(), message).in_rows()
                        })?;
                        builder.push(value.cell());
                    }
                    arrays.push(builder.finish());
                }
            }
        }
        RecordBatch::try_new(self.arrow.clone(), arrays)
            .map_err(|error| DecodeError::at(first_row, format!("unreadable Parquet: {error}")).in_rows())
    }
}

impl Iterator for ParquetBatches {
    type Item = Result<(u64, RecordBatch), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let first_row = self.row + 1;
        let item = match self.reader.next()? {
            Ok(batch) => {
                self.row += batch.num_rows() as u64;
                self.conform(&batch, first_row).map(|conformed| (first_row, conformed))
            }
            Err(error) => Err(DecodeError::at(first_row, format!("unreadable Parquet: {error}")).in_rows()),
        };
        self.failed = item.is_err();
        Some(item)
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
