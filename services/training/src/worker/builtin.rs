//! A built-in trainer (cairn-learn) run in the worker: the trial's Parquet files read into
//! frames, the model trained off the async threads, exported to ONNX.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use cairn_api::{BuiltinTrainer, Task};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use super::{Failure, Model};
use crate::frame;

pub struct Trial {
    pub builtin: BuiltinTrainer,
    pub task: Task,
    pub params: BTreeMap<String, Value>,
    pub features: Vec<String>,
    pub label: String,
    pub classes: Vec<Value>,
}

/// Trains on `train` (stopping early on `validation` when the parameters ask for it).
pub fn train(trial: &Trial, train: bytes::Bytes, validation: bytes::Bytes) -> Result<Model, Failure> {
    let rows = read(train)?;
    let frame = frame::features(&rows, &trial.features).map_err(Failure::Trainer)?;
    let target = frame::target(&rows, &trial.label, trial.task, &trial.classes).map_err(Failure::Trainer)?;
    let validation = read(validation)?;
    let checked = if validation.num_rows() > 0 {
        let frame = frame::features(&validation, &trial.features).map_err(Failure::Trainer)?;
        let target =
            frame::target(&validation, &trial.label, trial.task, &trial.classes).map_err(Failure::Trainer)?;
        Some((frame, target))
    } else {
        None
    };
    let trained = cairn_learn::train(
        crate::trainers::kind(trial.builtin),
        &trial.params,
        &frame,
        &target,
        checked.as_ref().map(|(frame, target)| (frame, target)),
    )
    .map_err(|error| Failure::Trainer(error.to_string()))?;
    let loss = trained.history.loss;
    let history: Vec<Value> = trained
        .history
        .iterations
        .iter()
        .map(|iteration| {
            let mut entry =
                json!({"step": iteration.iteration, format!("train_{loss}"): iteration.train_loss});
            if let Some(validation) = iteration.validation_loss {
                entry[format!("validation_{loss}")] = json!(validation);
            }
            entry
        })
        .collect();
    let reported = trained
        .history
        .best_iteration
        .map(|best| json!({"best_iteration": best}).to_string())
        .unwrap_or_default();
    Ok(Model { onnx: trained.model.to_onnx(), history: Value::Array(history).to_string(), reported })
}

fn read(bytes: bytes::Bytes) -> Result<RecordBatch, Failure> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|error| Failure::Infrastructure(format!("reading the trial's data: {error}")))?;
    let schema = builder.schema().clone();
    let reader = builder.build().map_err(|error| Failure::Infrastructure(error.to_string()))?;
    let batches =
        reader.collect::<Result<Vec<_>, _>>().map_err(|error| Failure::Infrastructure(error.to_string()))?;
    arrow_select::concat::concat_batches(&schema, &batches)
        .map_err(|error| Failure::Infrastructure(error.to_string()))
}
