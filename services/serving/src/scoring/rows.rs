//! The rows of a scoring job: batches of a dataset version's rows scored by a model version — each
//! batch split across the model's sessions, which run at once — and written with their
//! predictions to one Parquet file, in the platform's column types.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, new_null_array};
use arrow_cast::cast;
use arrow_schema::{DataType as ArrowType, SchemaRef};
use arrow_select::concat::concat;
use cairn_domain::{Column, ColumnType, Name, Schema};
use cairn_runtime::{Layout, columnar};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::models::Loaded;

/// Prediction columns are named `predicted_<output>` (`predicted_<output>_<class>` for a
/// classifier's scores), so they never take the name of a column of the rows.
const PREFIX: &str = "predicted_";

/// Rows fewer than this are scored by one session: splitting them costs more than it saves.
const MIN_ROWS_PER_SESSION: usize = 4096;

/// Scores batches of rows of `input`'s schema into a Parquet file.
pub struct Scorer {
    model: Arc<Loaded>,
    layout: Layout,
    input: Schema,
    input_arrow: SchemaRef,
    path: PathBuf,
    /// The output's schema and writer, known once the first batch has shown the outputs.
    output: Option<(Schema, SchemaRef, ArrowWriter<File>)>,
    rows: u64,
}

impl Scorer {
    /// A scorer that will write to `path`, or why the model cannot score rows of `input`.
    pub fn new(model: Arc<Loaded>, input: Schema, path: &Path) -> Result<Self, String> {
        let layout = layout(&model, &input)?;
        let input_arrow = cairn_storage::arrow_schema(&input);
        Ok(Self { model, layout, input, input_arrow, path: path.to_owned(), output: None, rows: 0 })
    }

    /// Scores one batch and writes it with its predictions; blocks while the model runs.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), String> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let rows = self.conform(batch)?;
        let predictions = score(&self.model, &self.layout, &rows)?;
        if self.output.is_none() {
            self.output = Some(self.open(&predictions)?);
        }
        let Some((_, arrow, writer)) = &mut self.output else { return Err("no output file".into()) };
        let mut columns = rows.columns().to_vec();
        for ((_, column), field) in predictions.iter().zip(arrow.fields().iter().skip(columns.len())) {
            columns.push(cast(column, field.data_type()).map_err(|error| error.to_string())?);
        }
        let scored = RecordBatch::try_new(Arc::clone(arrow), columns).map_err(|error| error.to_string())?;
        writer.write(&scored).map_err(|error| error.to_string())?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Closes the file: the output's schema and its rows. `None` when there were no rows.
    pub fn finish(self) -> Result<Option<(Schema, u64)>, String> {
        let Some((schema, _, writer)) = self.output else { return Ok(None) };
        writer.close().map_err(|error| error.to_string())?;
        Ok(Some((schema, self.rows)))
    }

    /// The batch in the input schema's columns and types: a column an older file lacks is null.
    fn conform(&self, batch: &RecordBatch) -> Result<RecordBatch, String> {
        let columns = self
            .input_arrow
            .fields()
            .iter()
            .map(|field| match batch.column_by_name(field.name()) {
                Some(column) if column.data_type() == field.data_type() => Ok(Arc::clone(column)),
                Some(column) => cast(column, field.data_type()).map_err(|error| error.to_string()),
                None => Ok(new_null_array(field.data_type(), batch.num_rows())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new(Arc::clone(&self.input_arrow), columns).map_err(|error| error.to_string())
    }

    /// The output's schema — the input's columns, then a column per prediction — and its writer.
    fn open(
        &self,
        predictions: &[(String, ArrayRef)],
    ) -> Result<(Schema, SchemaRef, ArrowWriter<File>), String> {
        let mut schema = self.input.clone();
        for (name, column) in predictions {
            let name = column_name(name)?;
            if schema.columns.iter().any(|column| column.name == name) {
                return Err(format!("two outputs of the model become column `{name}`"));
            }
            let column_type = column_type(column.data_type()).ok_or_else(|| {
                format!("output `{name}` is {}, which a dataset cannot hold", column.data_type())
            })?;
            schema.columns.push(Column { name, column_type, nullable: true, rules: Default::default() });
        }
        let arrow = cairn_storage::arrow_schema(&schema);
        let properties =
            WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())).build();
        let file = File::create(&self.path).map_err(|error| format!("{}: {error}", self.path.display()))?;
        let writer = ArrowWriter::try_new(file, Arc::clone(&arrow), Some(properties))
            .map_err(|error| error.to_string())?;
        Ok((schema, arrow, writer))
    }
}

/// The model's outputs for the rows as columns, the rows split across its sessions.
fn score(model: &Loaded, layout: &Layout, rows: &RecordBatch) -> Result<Vec<(String, ArrayRef)>, String> {
    let count = rows.num_rows();
    let sessions = model.runtime.sessions().max(1);
    let chunk = count.div_ceil(sessions).max(MIN_ROWS_PER_SESSION);
    let parts: Vec<RecordBatch> =
        (0..count).step_by(chunk).map(|start| rows.slice(start, chunk.min(count - start))).collect();
    let run = |part: &RecordBatch| -> Result<Vec<(String, ArrayRef)>, String> {
        let inputs = columnar::inputs(layout, part).map_err(|error| error.to_string())?;
        model.check_missing(&inputs)?;
        let outputs = model.runtime.run(&inputs).map_err(|error| error.to_string())?;
        columnar::output_columns(&outputs, part.num_rows()).map_err(|error| error.to_string())
    };
    if let [part] = parts.as_slice() {
        return run(part);
    }
    let scored = std::thread::scope(|scope| {
        let running: Vec<_> = parts.iter().map(|part| scope.spawn(|| run(part))).collect();
        running
            .into_iter()
            .map(|thread| thread.join().unwrap_or_else(|_| Err("the model's run panicked".to_owned())))
            .collect::<Result<Vec<_>, _>>()
    })?;
    let names: Vec<String> = scored[0].iter().map(|(name, _)| name.clone()).collect();
    names
        .into_iter()
        .enumerate()
        .map(|(index, name)| {
            let pieces: Vec<&dyn Array> = scored.iter().map(|part| part[index].1.as_ref()).collect();
            concat(&pieces).map(|column| (name, column)).map_err(|error| error.to_string())
        })
        .collect()
}

/// How the model takes rows of `input`, or why it cannot: its features must be columns of the rows.
pub fn layout(model: &Loaded, input: &Schema) -> Result<Layout, String> {
    let layout = model.layout.clone().map_err(|error| {
        format!("version {} of `{}` cannot score rows: {error}", model.version, model.model)
    })?;
    let absent: Vec<String> = layout
        .features()
        .into_iter()
        .filter(|(name, _)| !input.columns.iter().any(|column| column.name.as_str() == *name))
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    if !absent.is_empty() {
        return Err(format!(
            "the rows have no column {}, which version {} of `{}` takes",
            absent.join(", "),
            model.version,
            model.model
        ));
    }
    Ok(layout)
}

/// `predicted_` and the output's name as a column name: lower case, anything else than letters,
/// digits, `_` and `-` as `_`.
fn column_name(output: &str) -> Result<Name, String> {
    let cleaned: String = output
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' { c } else { '_' })
        .collect();
    Name::parse(format!("{PREFIX}{cleaned}")).map_err(|error| format!("output `{output}`: {error}"))
}

/// The platform's type for a prediction column.
fn column_type(data_type: &ArrowType) -> Option<ColumnType> {
    Some(match data_type {
        ArrowType::Boolean => ColumnType::Bool,
        ArrowType::Int32 => ColumnType::Int32,
        ArrowType::Int64 => ColumnType::Int64,
        ArrowType::Float32 => ColumnType::Float32,
        ArrowType::Float64 => ColumnType::Float64,
        ArrowType::Utf8 => ColumnType::String,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_name_columns_the_platform_accepts() {
        assert_eq!(column_name("probabilities_1").unwrap().as_str(), "predicted_probabilities_1");
        assert_eq!(column_name("Output Label:0").unwrap().as_str(), "predicted_output_label_0");
        assert!(column_name(&"x".repeat(80)).is_err());
        assert_eq!(column_type(&ArrowType::Float32), Some(ColumnType::Float32));
        assert_eq!(column_type(&ArrowType::UInt8), None);
    }
}
