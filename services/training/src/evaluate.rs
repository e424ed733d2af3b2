//! The platform's own measurement of a model: its predictions for stored rows, made through the
//! runtime serving uses (so a model is judged by what it will answer in production), and the
//! metrics of those predictions against the labels, computed by the crate monitoring uses too.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use cairn_api::Task;
use cairn_metrics::Direction;
use cairn_runtime::{Layout, LayoutError, Model, SessionOptions, TensorData, columnar};
use serde_json::Value;

use crate::frame;

/// Rows scored in one run of the model: bounds memory whatever the holdout's size.
const CHUNK: usize = 64 * 1024;

fn task_of(task: Task) -> cairn_metrics::Task {
    match task {
        Task::Binary => cairn_metrics::Task::Binary,
        Task::Multiclass => cairn_metrics::Task::Multiclass,
        Task::Regression => cairn_metrics::Task::Regression,
    }
}

/// The metric names a spec may use for `task`.
pub fn metric_names(task: Task) -> &'static [&'static str] {
    cairn_metrics::names(task_of(task))
}

/// Whether a larger value of `metric` is better.
pub fn higher_is_better(metric: &str) -> bool {
    cairn_metrics::direction(metric) != Some(Direction::Lower)
}

/// How the platform's measurements load a model: one session whose runs use every core, since a
/// holdout is scored as a few large batches (serving loads for latency instead: one thread a run).
pub fn session_options() -> SessionOptions {
    SessionOptions { intra_threads: 0, sessions: 1, ..SessionOptions::default() }
}

/// What a search optimises when the spec does not say.
pub fn default_objective(task: Task) -> &'static str {
    match task {
        Task::Binary => "roc_auc",
        Task::Multiclass => "log_loss",
        Task::Regression => "rmse",
    }
}

/// A model's answers for some rows, as the metrics take them.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    /// Row-major `[rows × classes]`, columns in the run's class order.
    Probabilities {
        classes: usize,
        values: Vec<f64>,
    },
    Values(Vec<f64>),
}

/// Runs `model` over `rows`, whose columns hold the features by name (`features` orders a model
/// that takes them as one matrix, as the trainer was given them).
pub fn predict(
    model: &Model,
    rows: &RecordBatch,
    features: &[String],
    task: Task,
    classes: &[Value],
) -> Result<Predictions, String> {
    // A model of one input per feature names its features itself; one matrix input takes them
    // in the order the trainer was given them.
    let layout = layout(model, features)?;
    let mut probabilities = Vec::new();
    let mut values = Vec::new();
    let mut offset = 0;
    while offset < rows.num_rows() {
        let length = CHUNK.min(rows.num_rows() - offset);
        let chunk = rows.slice(offset, length);
        let inputs = columnar::inputs(&layout, &chunk).map_err(|error| error.to_string())?;
        let outputs = model.run(&inputs).map_err(|error| error.to_string())?;
        match task {
            Task::Regression => values.extend(regression_output(&outputs, length)?),
            Task::Binary | Task::Multiclass => probabilities.extend(class_output(&outputs, length, classes)?),
        }
        offset += length;
    }
    Ok(match task {
        Task::Regression => Predictions::Values(values),
        Task::Binary | Task::Multiclass => {
            Predictions::Probabilities { classes: classes.len(), values: probabilities }
        }
    })
}

/// How named features fill `model`'s inputs: a model of one input per feature names its features
/// itself; one matrix input takes them in the order the trainer was given them.
fn layout(model: &Model, features: &[String]) -> Result<Layout, String> {
    match Layout::new(model.signature(), None) {
        Err(LayoutError::Unnamed { .. }) => Layout::new(model.signature(), Some(features)),
        layout => layout,
    }
    .map_err(|error| error.to_string())
}

/// The p99 latency, in milliseconds, of predicting one row at a time (as a request brings it)
/// over up to `count` of `rows`, after a few runs to warm the model up.
pub fn one_row_p99_ms(
    model: &Model,
    rows: &RecordBatch,
    features: &[String],
    count: usize,
) -> Result<f64, String> {
    const WARM_UP: usize = 20;
    let layout = layout(model, features)?;
    let count = count.min(rows.num_rows());
    if count == 0 {
        return Err("no rows to time".into());
    }
    let inputs = (0..count)
        .map(|row| columnar::inputs(&layout, &rows.slice(row, 1)).map_err(|error| error.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut times = Vec::with_capacity(count);
    for (index, row) in inputs.iter().cycle().take(count + WARM_UP).enumerate() {
        let started = std::time::Instant::now();
        model.run(row).map_err(|error| error.to_string())?;
        if index >= WARM_UP {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    let at = ((times.len() as f64) * 0.99).ceil() as usize;
    Ok(times[at.clamp(1, times.len()) - 1])
}

/// The metric per group of `column`'s values (groups under `min_rows` rows left out) and the
/// widest gap between groups: the gap (none with fewer than two groups) and every group's
/// metrics, for the report.
pub fn slice_gap(
    rows: &RecordBatch,
    (label, task, classes): (&str, Task, &[Value]),
    predictions: &Predictions,
    (column, metric, min_rows): (&str, &str, usize),
) -> Result<(Option<cairn_metrics::Gap>, Value), String> {
    let groups = rows.column_by_name(column).ok_or_else(|| format!("no column `{column}` in the holdout"))?;
    let groups =
        arrow_cast::cast(groups, &arrow_schema::DataType::Utf8).map_err(|error| error.to_string())?;
    let groups = arrow_array::cast::AsArray::as_string::<i32>(&groups);
    let keys: Vec<&str> = (0..arrow_array::Array::len(groups))
        .map(|row| if arrow_array::Array::is_valid(groups, row) { groups.value(row) } else { "(missing)" })
        .collect();
    let truth = rows.column_by_name(label).ok_or_else(|| format!("no label column `{label}`"))?;
    let truth = frame::truth(truth.as_ref(), task, classes)?;
    let error = |error: cairn_metrics::MetricsError| error.to_string();
    let json = |value: Result<Value, serde_json::Error>| value.map_err(|error| error.to_string());
    Ok(match (truth, predictions) {
        (frame::Truth::Values(truth), Predictions::Values(predicted)) => {
            let slices =
                cairn_metrics::regression_slices(&keys, &truth, predicted, min_rows).map_err(error)?;
            (slices.max_gap(metric), json(serde_json::to_value(&slices))?)
        }
        (frame::Truth::Codes(codes), Predictions::Probabilities { classes: 2, values }) => {
            let labels: Vec<bool> = codes.iter().map(|&code| code == 1).collect();
            let positive: Vec<f64> = values.chunks_exact(2).map(|row| row[1]).collect();
            let slices = cairn_metrics::binary_slices(&keys, &labels, &positive, min_rows).map_err(error)?;
            (slices.max_gap(metric), json(serde_json::to_value(&slices))?)
        }
        (frame::Truth::Codes(codes), Predictions::Probabilities { classes: count, values }) => {
            let slices =
                cairn_metrics::multiclass_slices(&keys, &codes, values, *count, min_rows).map_err(error)?;
            (slices.max_gap(metric), json(serde_json::to_value(&slices))?)
        }
        _ => return Err("predictions that do not fit the labels".into()),
    })
}

/// Rows permutation importance is measured on: enough to rank features, bounded whatever the
/// holdout's size (each feature costs a scoring of them).
const IMPORTANCE_ROWS: usize = 20_000;

/// Permutation importance: how much `metric` worsens on the holdout when one feature's values
/// are shuffled among the rows (seeded, the same shuffle every time), feature by feature, most
/// important first.
pub fn permutation_importance(
    model: &Model,
    rows: &RecordBatch,
    (features, label, task, classes): (&[String], &str, Task, &[Value]),
    metric: &str,
) -> Result<Vec<(String, f64)>, String> {
    let sample = rows.slice(0, rows.num_rows().min(IMPORTANCE_ROWS));
    let score = |batch: &RecordBatch| -> Result<Option<f64>, String> {
        let predictions = predict(model, batch, features, task, classes)?;
        Ok(measure(batch, label, task, classes, &predictions)?.metrics.get(metric).copied())
    };
    let Some(baseline) = score(&sample)? else { return Ok(Vec::new()) };
    let mut shuffle: Vec<u32> = (0..sample.num_rows() as u32).collect();
    let mut random = crate::random::SplitMix::new(0x5eed);
    for i in (1..shuffle.len()).rev() {
        shuffle.swap(i, random.below(i + 1));
    }
    let shuffle = arrow_array::UInt32Array::from(shuffle);
    let sign = if higher_is_better(metric) { 1.0 } else { -1.0 };
    let mut importance = Vec::with_capacity(features.len());
    for feature in features {
        let Some(index) = sample.schema().index_of(feature).ok() else { continue };
        let mut columns = sample.columns().to_vec();
        columns[index] = arrow_select::take::take(columns[index].as_ref(), &shuffle, None)
            .map_err(|error| error.to_string())?;
        let shuffled = RecordBatch::try_new(sample.schema(), columns).map_err(|error| error.to_string())?;
        if let Some(value) = score(&shuffled)? {
            importance.push((feature.clone(), sign * (baseline - value)));
        }
    }
    importance.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(importance)
}

/// Whether `model` takes its features as the columns of one matrix input, whose order must then
/// be recorded with it (`cairn.feature_names`) for records to fill it by name.
pub fn takes_matrix(model: &Model) -> bool {
    matches!(Layout::new(model.signature(), None), Err(LayoutError::Unnamed { .. }))
}

fn floats(data: &TensorData) -> Option<Vec<f64>> {
    match data {
        TensorData::Fp32(values) => Some(values.iter().map(|&value| f64::from(value)).collect()),
        TensorData::Fp64(values) => Some(values.clone()),
        _ => None,
    }
}

/// The first floating-point output with one value per row.
fn regression_output(outputs: &[cairn_runtime::Output], rows: usize) -> Result<Vec<f64>, String> {
    outputs
        .iter()
        .filter(|output| output.tensor.shape.iter().product::<usize>() == rows)
        .find_map(|output| floats(&output.tensor.data))
        .ok_or_else(|| "the model gives no floating-point output with one value per row".into())
}

/// The class probabilities, in the run's class order: a classifier's score columns by their
/// labels (a ZipMap output names them), or the first `[rows × classes]` floating-point output,
/// whose columns follow the sorted classes as every exporter writes them.
fn class_output(
    outputs: &[cairn_runtime::Output],
    rows: usize,
    classes: &[Value],
) -> Result<Vec<f64>, String> {
    let count = classes.len();
    for output in outputs {
        let Some(values) = floats(&output.tensor.data) else { continue };
        if values.len() != rows * count {
            continue;
        }
        let Some(labels) = &output.classes else { return Ok(values) };
        let wanted: Vec<String> = classes.iter().map(frame::text).collect();
        let order: Option<Vec<usize>> = wanted
            .iter()
            .map(|label| (0..labels.len()).find(|&column| labels.label(column) == *label))
            .collect();
        let order = order.ok_or_else(|| {
            format!("the model's classes ({} of them) are not the run's {wanted:?}", labels.len())
        })?;
        let values = &values;
        let order = &order;
        return Ok((0..rows)
            .flat_map(|row| order.iter().map(move |&column| values[row * count + column]))
            .collect());
    }
    Err(format!("the model gives no [rows × {count}] probabilities for the run's {count} classes"))
}

/// The measured metrics and the material behind them (confusion, calibration or residuals).
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub metrics: BTreeMap<String, f64>,
    pub report: Value,
}

/// Measures `predictions` against the label column of `rows`.
pub fn measure(
    rows: &RecordBatch,
    label: &str,
    task: Task,
    classes: &[Value],
    predictions: &Predictions,
) -> Result<Measured, String> {
    let column = rows.column_by_name(label).ok_or_else(|| format!("no label column `{label}`"))?;
    let to_map = |value: Value| -> BTreeMap<String, f64> {
        value
            .as_object()
            .map(|metrics| {
                metrics.iter().filter_map(|(name, value)| Some((name.clone(), value.as_f64()?))).collect()
            })
            .unwrap_or_default()
    };
    let json = |value: Result<Value, serde_json::Error>| value.map_err(|error| error.to_string());
    match (task, predictions) {
        (Task::Regression, Predictions::Values(predicted)) => {
            let frame::Truth::Values(truth) = frame::truth(column.as_ref(), task, classes)? else {
                return Err("regression labels".into());
            };
            let evaluation =
                cairn_metrics::evaluate_regression(&truth, predicted).map_err(|error| error.to_string())?;
            Ok(Measured {
                metrics: to_map(json(serde_json::to_value(evaluation.metrics))?),
                report: json(serde_json::to_value(&evaluation.residuals))?,
            })
        }
        (Task::Binary, Predictions::Probabilities { classes: 2, values }) => {
            let frame::Truth::Codes(codes) = frame::truth(column.as_ref(), task, classes)? else {
                return Err("class labels".into());
            };
            let labels: Vec<bool> = codes.iter().map(|&code| code == 1).collect();
            let positive: Vec<f64> = values.chunks_exact(2).map(|row| row[1]).collect();
            let evaluation =
                cairn_metrics::evaluate_binary(&labels, &positive).map_err(|error| error.to_string())?;
            Ok(Measured {
                metrics: to_map(json(serde_json::to_value(evaluation.metrics))?),
                report: serde_json::json!({"confusion": evaluation.confusion, "calibration": evaluation.calibration}),
            })
        }
        (Task::Multiclass, Predictions::Probabilities { classes: count, values }) => {
            let frame::Truth::Codes(codes) = frame::truth(column.as_ref(), task, classes)? else {
                return Err("class labels".into());
            };
            let evaluation = cairn_metrics::evaluate_multiclass(&codes, values, *count)
                .map_err(|error| error.to_string())?;
            Ok(Measured {
                metrics: to_map(json(serde_json::to_value(evaluation.metrics))?),
                report: serde_json::json!({"confusion": evaluation.confusion, "calibration": evaluation.calibration}),
            })
        }
        _ => Err(format!("predictions that do not fit a {} task", task.as_str())),
    }
}
