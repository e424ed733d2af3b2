//! Predictions by feature name (`POST /v1/endpoints/{name}/predict`, and the same request over
//! NATS): records — or entity keys whose features come from the online store — turned into the
//! answering version's inputs through its [`Layout`], run, and its outputs turned back into a
//! JSON object per row. Transport-neutral: the handlers decode a [`PredictRequest`] and map the
//! error.

use std::sync::Arc;
use std::time::Instant;

use cairn_api::{PredictRequest, PredictResponse};
use cairn_runtime::{DataType, Layout, Output, Tensor, TensorData};
use serde_json::{Map, Value};

use crate::State;
use crate::infer::{self, InferError};
use crate::log::Logged;
use crate::models::Loaded;

type Record = Map<String, Value>;

/// Answers `request` on `endpoint`; `key` is the transport's routing key, when the request's
/// body names none.
pub async fn predict(
    state: &State,
    endpoint: &str,
    request: PredictRequest,
    key: Option<&[u8]>,
) -> Result<PredictResponse, InferError> {
    let started = Instant::now();
    let (rows, by_entity) = match (request.records, request.entities) {
        (Some(records), None) => (records.into_vec(), false),
        (None, Some(entities)) => (entities.into_vec(), true),
        (Some(_), Some(_)) => return Err(input("give `records` or `entities`, not both")),
        (None, None) => return Err(input("give `records` (features by name) or `entities` (entity keys)")),
    };
    if rows.is_empty() {
        return Err(input("no rows: `records` or `entities` is empty"));
    }
    if rows.len() > state.max_rows {
        return Err(InferError::TooManyRows { rows: rows.len(), max: state.max_rows });
    }
    let version = request.version.map(|version| version.to_string());
    let key = request.routing_key.as_deref().map(str::as_bytes).or(key);
    let chosen = infer::choose(&state.endpoints, endpoint, version.as_deref(), key)?;
    let (records, missing) =
        if by_entity { state.features.lookup(&chosen.answer, &rows).await? } else { (rows, Vec::new()) };
    let inputs = inputs_of(&chosen.answer, &records).map_err(InferError::Input)?;
    let copy = chosen.shadow.and_then(|shadow| match inputs_of(&shadow, &records) {
        Ok(inputs) => Some((shadow, inputs)),
        Err(error) => {
            tracing::info!(endpoint, %error, "the shadow version cannot take these records");
            None
        }
    });
    let inference = infer::run(chosen.answer, inputs, state.max_rows).await?;
    let request_id = request.id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let response = PredictResponse {
        request_id: request_id.clone(),
        endpoint: endpoint.to_owned(),
        model: inference.version.model.clone(),
        version: inference.version.version,
        predictions: predictions(&inference.outputs, records.len()),
        missing,
    };
    if let Some((shadow, inputs)) = copy {
        let id = request_id.clone();
        infer::shadow(Arc::clone(&state.log), endpoint.to_owned(), id, shadow, inputs, state.max_rows);
    }
    state.log.record(Logged::answer(endpoint.to_owned(), request_id, inference, started, false));
    Ok(response)
}

fn input(message: impl Into<String>) -> InferError {
    InferError::Input(message.into())
}

/// The inputs of `version` for `records`, or why the records do not fit it.
fn inputs_of(version: &Loaded, records: &[Record]) -> Result<Vec<(String, Tensor)>, String> {
    let layout: &Layout = version.layout.as_ref().map_err(|error| {
        format!("version {} of `{}` cannot take records: {error}", version.version, version.model)
    })?;
    let columns = layout
        .features()
        .into_iter()
        .map(|(name, datatype)| column(records, name, datatype))
        .collect::<Result<Vec<_>, _>>()?;
    layout.tensors(records.len(), columns).map_err(|error| error.to_string())
}

/// Feature `name` of every record, as `datatype`: a number for numeric types (null is missing:
/// NaN, for floating-point features only), a string for `BYTES`, true/false for `BOOL`.
fn column(records: &[Record], name: &str, datatype: DataType) -> Result<TensorData, String> {
    fn each<T: Clone>(
        records: &[Record],
        name: &str,
        datatype: DataType,
        missing: Option<T>,
        convert: impl Fn(&Value) -> Option<T>,
    ) -> Result<Vec<T>, String> {
        records
            .iter()
            .enumerate()
            .map(|(row, record)| {
                let value =
                    record.get(name).ok_or_else(|| format!("record {row} has no feature `{name}`"))?;
                let converted = match value {
                    Value::Null => missing.clone(),
                    value => convert(value),
                };
                converted.ok_or_else(|| {
                    format!("feature `{name}` of record {row}: expected {}, got {value}", expected(datatype))
                })
            })
            .collect()
    }
    fn int<T: TryFrom<i64>>(value: &Value) -> Option<T> {
        value.as_i64().and_then(|value| T::try_from(value).ok())
    }
    fn uint<T: TryFrom<u64>>(value: &Value) -> Option<T> {
        value.as_u64().and_then(|value| T::try_from(value).ok())
    }
    Ok(match datatype {
        #[expect(clippy::cast_possible_truncation, reason = "features are FP32 when the model takes FP32")]
        DataType::Fp32 => TensorData::Fp32(each(records, name, datatype, Some(f32::NAN), |value| {
            value.as_f64().map(|value| value as f32)
        })?),
        DataType::Fp64 => TensorData::Fp64(each(records, name, datatype, Some(f64::NAN), Value::as_f64)?),
        DataType::Int64 => TensorData::Int64(each(records, name, datatype, None, int)?),
        DataType::Int32 => TensorData::Int32(each(records, name, datatype, None, int)?),
        DataType::Int16 => TensorData::Int16(each(records, name, datatype, None, int)?),
        DataType::Int8 => TensorData::Int8(each(records, name, datatype, None, int)?),
        DataType::Uint64 => TensorData::Uint64(each(records, name, datatype, None, uint)?),
        DataType::Uint32 => TensorData::Uint32(each(records, name, datatype, None, uint)?),
        DataType::Uint16 => TensorData::Uint16(each(records, name, datatype, None, uint)?),
        DataType::Uint8 => TensorData::Uint8(each(records, name, datatype, None, uint)?),
        DataType::Bool => TensorData::Bool(each(records, name, datatype, None, Value::as_bool)?),
        DataType::Bytes => {
            TensorData::Bytes(each(records, name, datatype, None, |value| value.as_str().map(str::to_owned))?)
        }
        DataType::Fp16 => {
            return Err(format!("feature `{name}`: the model takes FP16, which records cannot fill"));
        }
    })
}

fn expected(datatype: DataType) -> &'static str {
    match datatype {
        DataType::Fp16 | DataType::Fp32 | DataType::Fp64 => "a number or null",
        DataType::Bool => "true or false",
        DataType::Bytes => "a string",
        _ => "an integer in range",
    }
}

/// A JSON object per row: every output by name — one value, a list of the row's values, or
/// `{label: score}` for a classifier's scores.
fn predictions(outputs: &[Output], rows: usize) -> Vec<Record> {
    let mut predictions = vec![Record::new(); rows];
    for output in outputs {
        let tensor = &output.tensor;
        let per_row =
            if tensor.shape.first() == Some(&rows) && rows > 0 { tensor.data.len() / rows } else { 0 };
        for (row, prediction) in predictions.iter_mut().enumerate() {
            let value = if per_row == 0 {
                // Not one value per row (a scalar, a summary): every row gets all of it.
                Value::Array((0..tensor.data.len()).map(|index| element(&tensor.data, index)).collect())
            } else {
                let range = row * per_row..(row + 1) * per_row;
                match &output.classes {
                    Some(classes) if classes.len() == per_row => Value::Object(
                        range
                            .enumerate()
                            .map(|(column, index)| (classes.label(column), element(&tensor.data, index)))
                            .collect(),
                    ),
                    _ if per_row == 1 => element(&tensor.data, range.start),
                    _ => Value::Array(range.map(|index| element(&tensor.data, index)).collect()),
                }
            };
            prediction.insert(output.name.clone(), value);
        }
    }
    predictions
}

/// One element as JSON; a non-finite float is null.
fn element(data: &TensorData, index: usize) -> Value {
    fn float(value: f64) -> Value {
        serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
    }
    match data {
        TensorData::Bool(values) => Value::Bool(values[index]),
        TensorData::Uint8(values) => values[index].into(),
        TensorData::Uint16(values) => values[index].into(),
        TensorData::Uint32(values) => values[index].into(),
        TensorData::Uint64(values) => values[index].into(),
        TensorData::Int8(values) => values[index].into(),
        TensorData::Int16(values) => values[index].into(),
        TensorData::Int32(values) => values[index].into(),
        TensorData::Int64(values) => values[index].into(),
        TensorData::Fp32(values) => float(f64::from(values[index])),
        TensorData::Fp64(values) => float(values[index]),
        TensorData::Bytes(values) => Value::String(values[index].clone()),
    }
}

#[cfg(test)]
mod tests {
    use cairn_runtime::ClassLabels;
    use serde_json::json;

    use super::*;

    fn records(value: Value) -> Vec<Record> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn features_convert_by_type_and_null_is_missing_only_for_floats() {
        let rows = records(json!([{"x": 1.5, "n": 3, "s": "a"}, {"x": null, "n": 4, "s": "b"}]));
        let TensorData::Fp32(x) = column(&rows, "x", DataType::Fp32).unwrap() else { panic!() };
        assert_eq!(x[0], 1.5);
        assert!(x[1].is_nan());
        assert_eq!(column(&rows, "n", DataType::Int64).unwrap(), TensorData::Int64(vec![3, 4]));
        let refused = column(&records(json!([{"n": null}])), "n", DataType::Int64).unwrap_err();
        assert!(refused.contains("feature `n` of record 0: expected an integer"), "{refused}");
        let wrong = column(&rows, "s", DataType::Fp64).unwrap_err();
        assert!(wrong.contains("expected a number or null, got \"a\""), "{wrong}");
        let absent = column(&rows, "y", DataType::Fp32).unwrap_err();
        assert_eq!(absent, "record 0 has no feature `y`");
        assert!(column(&records(json!([{"n": 300}])), "n", DataType::Int8).is_err());
    }

    #[test]
    fn outputs_become_one_object_per_row() {
        let outputs = vec![
            Output {
                name: "label".to_owned(),
                tensor: Tensor::new(vec![2], TensorData::Int64(vec![0, 1])),
                classes: None,
            },
            Output {
                name: "probabilities".to_owned(),
                tensor: Tensor::new(vec![2, 2], TensorData::Fp32(vec![0.75, 0.25, 0.5, 0.5])),
                classes: Some(ClassLabels::Int64(vec![0, 1].into())),
            },
            Output {
                name: "scores".to_owned(),
                tensor: Tensor::new(vec![2, 2], TensorData::Fp64(vec![1.0, f64::NAN, 3.0, 4.0])),
                classes: None,
            },
        ];
        let rows = predictions(&outputs, 2);
        assert_eq!(
            Value::Array(rows.into_iter().map(Value::Object).collect()),
            json!([
                {"label": 0, "probabilities": {"0": 0.75, "1": 0.25}, "scores": [1.0, null]},
                {"label": 1, "probabilities": {"0": 0.5, "1": 0.5}, "scores": [3.0, 4.0]},
            ])
        );
    }
}
