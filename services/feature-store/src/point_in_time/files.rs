//! Parquet files in and out of the join: columns read with their row groups spread over the
//! cores (only some rows, when asked), a file written.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{RecordBatch, UInt32Array};
use arrow_schema::{Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::{JoinError, on_cores};

fn file_error(path: &Path, error: impl std::fmt::Display) -> JoinError {
    JoinError::File { path: path.display().to_string(), message: error.to_string() }
}

/// Rows read from Parquet per batch.
const READ_BATCH_ROWS: usize = 64 * 1024;

/// Reads the columns `columns` (every one when `None`; in the files' order either way) of the
/// Parquet files `paths`, which share a schema, their row groups spread over the machine's cores;
/// the batches in file and row group order.
pub fn read_parquet(
    paths: &[PathBuf],
    columns: Option<&[&str]>,
) -> Result<(SchemaRef, Vec<RecordBatch>), JoinError> {
    read_units(paths, columns, None)
}

/// A row group of one file, and the number of its first row among all the files' rows.
struct Unit<'a> {
    path: &'a Path,
    group: usize,
    mask: ProjectionMask,
    first_row: u64,
    rows: u64,
    /// The file lacks some of the columns: they are filled with nulls.
    fill: bool,
}

fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, JoinError> {
    let file = File::open(path).map_err(|e| file_error(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| file_error(path, e))
}

/// Like [`read_parquet`]; with `keep` (sorted, distinct row numbers across all the files), only
/// those rows, and row groups without one of them are not decoded at all.
pub(super) fn read_units(
    paths: &[PathBuf],
    columns: Option<&[&str]>,
    keep: Option<&[u32]>,
) -> Result<(SchemaRef, Vec<RecordBatch>), JoinError> {
    let mut units: Vec<Unit<'_>> = Vec::new();
    let builders = paths.iter().map(|path| open(path)).collect::<Result<Vec<_>, _>>()?;
    let schema = target_schema(paths, &builders, columns)?;
    let mut first_row = 0u64;
    for (path, builder) in paths.iter().zip(&builders) {
        // The wanted columns this file has (a file written before a column was added lacks
        // it: its rows read as null there), in the file's order, as Parquet hands them over.
        let file_schema = builder.schema();
        let mut indices: Vec<usize> =
            schema.fields().iter().filter_map(|field| file_schema.index_of(field.name()).ok()).collect();
        indices.sort_unstable();
        indices.dedup();
        for index in &indices {
            let field = file_schema.field(*index);
            let wanted = schema.field_with_name(field.name())?;
            if wanted.data_type() != field.data_type() {
                return Err(file_error(
                    path,
                    format!("column `{}` has another type than in the first file", field.name()),
                ));
            }
        }
        let fill = indices.len() != schema.fields().len()
            || indices
                .iter()
                .zip(schema.fields())
                .any(|(index, field)| file_schema.field(*index).name() != field.name());
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
        for (group, metadata) in builder.metadata().row_groups().iter().enumerate() {
            let rows = u64::try_from(metadata.num_rows()).unwrap_or_default();
            units.push(Unit { path: path.as_path(), group, mask: mask.clone(), first_row, rows, fill });
            first_row += rows;
        }
    }
    drop(builders);
    let read_unit = |unit: &Unit<'_>| -> Result<Vec<RecordBatch>, JoinError> {
        // The row numbers to keep within this unit, counted from its first row.
        let wanted: Option<Vec<u32>> = keep.map(|keep| {
            let from = keep.partition_point(|row| u64::from(*row) < unit.first_row);
            let to = keep.partition_point(|row| u64::from(*row) < unit.first_row + unit.rows);
            keep[from..to].iter().map(|row| (u64::from(*row) - unit.first_row) as u32).collect()
        });
        if wanted.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let reader = open(unit.path)?
            .with_row_groups(vec![unit.group])
            .with_projection(unit.mask.clone())
            .with_batch_size(READ_BATCH_ROWS)
            .build()
            .map_err(|e| file_error(unit.path, e))?;
        let mut batches = Vec::new();
        let mut offset = 0u32;
        for batch in reader {
            let mut batch = batch.map_err(|e| file_error(unit.path, e))?;
            if unit.fill {
                batch = filled(&schema, &batch)?;
            }
            let len = batch.num_rows() as u32;
            match &wanted {
                None => batches.push(batch),
                Some(wanted) => batches.extend(pick(&batch, offset, wanted)?),
            }
            offset += len;
        }
        Ok(batches)
    };
    let mut batches = Vec::new();
    for read in on_cores(units.len(), |i| read_unit(&units[i]))? {
        batches.extend(read?);
    }
    Ok((schema, batches))
}

/// The names of the columns any of `paths` holds (their footers only).
pub fn columns_of(paths: &[PathBuf]) -> Result<std::collections::HashSet<String>, JoinError> {
    let mut names = std::collections::HashSet::new();
    for path in paths {
        names.extend(open(path)?.schema().fields().iter().map(|field| field.name().clone()));
    }
    Ok(names)
}

/// The schema of what `read_units` returns: every column (`None`) of the first file, or the
/// columns asked for in the order of the first file that has them — the first file's first, then
/// those only later files have. A column no file has is an error.
fn target_schema(
    paths: &[PathBuf],
    builders: &[ParquetRecordBatchReaderBuilder<File>],
    columns: Option<&[&str]>,
) -> Result<SchemaRef, JoinError> {
    let Some(first) = builders.first() else {
        return Err(JoinError::File { path: String::new(), message: "no file to read".into() });
    };
    let Some(columns) = columns else { return Ok(first.schema().clone()) };
    let mut found: Vec<(usize, usize, Field)> = Vec::with_capacity(columns.len());
    for column in columns {
        if found.iter().any(|(_, _, field)| field.name() == column) {
            continue;
        }
        let holder = builders.iter().enumerate().find_map(|(file, builder)| {
            builder
                .schema()
                .index_of(column)
                .ok()
                .map(|index| (file, index, builder.schema().field(index).clone()))
        });
        match holder {
            Some(holder) => found.push(holder),
            None => {
                let path = paths.first().map(|path| path.display().to_string()).unwrap_or_default();
                return Err(JoinError::MissingColumn(path, (*column).to_owned()));
            }
        }
    }
    found.sort_by_key(|(file, index, _)| (*file, *index));
    let fields: Vec<Field> = found
        .into_iter()
        .map(|(_, _, field)| {
            // Null where a file lacks it.
            let everywhere = builders.iter().all(|builder| builder.schema().index_of(field.name()).is_ok());
            if everywhere { field } else { field.with_nullable(true) }
        })
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// `batch` (some of `schema`'s columns) with all of them, in order: nulls where it had none.
fn filled(schema: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch, JoinError> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => column.clone(),
            None => arrow_array::new_null_array(field.data_type(), batch.num_rows()),
        })
        .collect();
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// The rows of `batch` among `rows` (sorted row numbers, `batch` starting at row `offset`), if
/// any.
pub(super) fn pick(batch: &RecordBatch, offset: u32, rows: &[u32]) -> Result<Option<RecordBatch>, JoinError> {
    let from = rows.partition_point(|row| *row < offset);
    let to = rows.partition_point(|row| *row < offset + batch.num_rows() as u32);
    if from == to {
        return Ok(None);
    }
    let local: UInt32Array = rows[from..to].iter().map(|row| row - offset).collect();
    Ok(Some(arrow_select::take::take_record_batch(batch, &local)?))
}

/// Writes `batch` to a Parquet file at `path` (Snappy, row groups of up to a million rows).
pub fn write_parquet(batch: &RecordBatch, path: &Path) -> Result<(), JoinError> {
    let file = File::create(path).map_err(|e| file_error(path, e))?;
    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer =
        ArrowWriter::try_new(file, batch.schema(), Some(properties)).map_err(|e| file_error(path, e))?;
    writer.write(batch).map_err(|e| file_error(path, e))?;
    writer.close().map_err(|e| file_error(path, e))?;
    Ok(())
}
