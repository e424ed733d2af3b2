//! Prediction drift: the distribution of what a model version answers — the positive class's
//! probability, or the regressor's value — in a window, against what it answers on its own
//! training data. The reference is made by running the version (downloaded from the registry,
//! its SHA-256 checked) over its training rows through the model runtime serving uses, so the
//! two sides are scored by the same code. Judged apart from the features (Evidently reports
//! prediction drift on its own too): it does not count towards the window's share.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType as ArrowType, Field, Schema};
use cairn_api::{DatasetVersion, ModelVersion};
use cairn_client::Client;
use cairn_drift::{Kind, NumericReference, Reference};
use cairn_runtime::{Layout, LayoutError, Model, Output, Runtime, SessionOptions, TensorData, columnar};
use sha2::{Digest as _, Sha256};

use crate::columns::Columns;

/// Training rows scored for the reference, at most.
const REFERENCE_ROWS: usize = 200_000;
/// Rows a run scores at once.
const CHUNK: usize = 8_192;

/// The scores of a run's outputs on `rows` rows, as [`crate::window::scores`] reads them from
/// the log: a two-column output's second column (the positive class), else a one-value-a-row
/// numeric output.
pub fn scores(outputs: &[Output], rows: usize) -> Option<Vec<f64>> {
    let numbers = |data: &TensorData| -> Option<Vec<f64>> {
        Some(match data {
            TensorData::Fp32(values) => values.iter().map(|value| f64::from(*value)).collect(),
            TensorData::Fp64(values) => values.clone(),
            _ => return None,
        })
    };
    let mut sorted: Vec<&Output> = outputs.iter().collect();
    sorted.sort_by_key(|output| output.name.as_str());
    let pair = sorted.iter().find(|output| output.tensor.shape.len() == 2 && output.tensor.shape[1] == 2);
    if let Some(values) = pair.and_then(|output| numbers(&output.tensor.data)) {
        return Some(values.chunks_exact(2).map(|pair| pair[1]).collect());
    }
    sorted
        .iter()
        .filter(|output| matches!(output.tensor.shape.as_slice(), [n] | [n, 1] if *n == rows))
        .find_map(|output| numbers(&output.tensor.data))
}

/// The reference of `version`'s predictions on `data`, whose columns `features` (with their
/// kinds) the model takes; `Err` says why there is none.
pub async fn reference(
    runtime: Option<&Runtime>,
    registry: &Client,
    columns: &Columns,
    version: &ModelVersion,
    data: &DatasetVersion,
    features: &[(String, Kind)],
) -> Result<Reference, String> {
    let runtime = runtime
        .ok_or("ONNX Runtime is not loaded (runtime.onnxruntime): predictions are not judged")?
        .clone();
    let file = version.model_file.as_ref().ok_or("the version holds no ONNX file")?;
    let bytes = registry.artifact(&file.path).await.map_err(|error| format!("its model file: {error}"))?;
    let digest: String = Sha256::digest(&bytes).iter().map(|byte| format!("{byte:02x}")).collect();
    if digest != file.sha256 {
        return Err(format!("its model file's SHA-256 is {digest}, not the registered {}", file.sha256));
    }
    let mut fields = Vec::with_capacity(features.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(features.len());
    for (name, kind) in features {
        let failed = |error: crate::error::MonitorError| format!("column `{name}`: {error}");
        match kind {
            Kind::Numeric => {
                let mut values = columns.numbers(data, name).await.map_err(failed)?;
                values.truncate(REFERENCE_ROWS);
                fields.push(Field::new(name, ArrowType::Float64, true));
                arrays.push(Arc::new(Float64Array::from(values)));
            }
            Kind::Categorical => {
                let mut values = columns.texts(data, name).await.map_err(failed)?;
                values.truncate(REFERENCE_ROWS);
                fields.push(Field::new(name, ArrowType::Utf8, true));
                arrays.push(Arc::new(StringArray::from(values)));
            }
        }
    }
    let batch =
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|error| error.to_string())?;
    let names: Vec<String> = features.iter().map(|(name, _)| name.clone()).collect();
    tokio::task::spawn_blocking(move || {
        let options = SessionOptions { intra_threads: 0, sessions: 1, ..SessionOptions::default() };
        let model = Model::load(&runtime, &bytes, &options).map_err(|error| error.to_string())?;
        let layout = match Layout::new(model.signature(), None) {
            Err(LayoutError::Unnamed { .. }) => Layout::new(model.signature(), Some(&names)),
            layout => layout,
        }
        .map_err(|error| error.to_string())?;
        let mut all = Vec::with_capacity(batch.num_rows());
        let mut offset = 0;
        while offset < batch.num_rows() {
            let rows = CHUNK.min(batch.num_rows() - offset);
            let inputs =
                columnar::inputs(&layout, &batch.slice(offset, rows)).map_err(|error| error.to_string())?;
            let outputs = model.run(&inputs).map_err(|error| error.to_string())?;
            all.extend(scores(&outputs, rows).ok_or("its outputs hold no probability or value per row")?);
            offset += rows;
        }
        NumericReference::from_values(&all).map(Reference::Numeric).map_err(|error| error.to_string())
    })
    .await
    .map_err(|error| error.to_string())?
}
