//! A run's outputs as owned tensors. ZipMap outputs (a sequence with one map per row from class
//! label to score) become an `FP32` tensor `[rows, classes]` with the columns in the order of the
//! model's class labels, which is how every consumer wants scores and what Python's onnxruntime
//! users get from `zipmap=False` exports.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use ort::value::{DynMapValueType, DynValue, TensorElementType, ValueType};

use super::Output;
use crate::signature::{PortKind, Signature};
use crate::{ClassLabels, DataType, RuntimeError, Tensor, TensorData};

pub(super) fn convert(
    signature: &Signature,
    outputs: Vec<(String, DynValue)>,
) -> Result<Vec<Output>, RuntimeError> {
    outputs
        .into_iter()
        .map(|(name, value)| {
            let fail = |message: String| RuntimeError::Output { name: name.clone(), message };
            let port = signature.output(&name).ok_or_else(|| fail("not in the model's signature".into()))?;
            let (tensor, classes) = match &port.kind {
                PortKind::Tensor { .. } => (tensor(&value).map_err(fail)?, None),
                PortKind::SequenceOfMaps { key: DataType::Int64, classes } => {
                    let labels = match classes {
                        Some(ClassLabels::Int64(labels)) => Some(labels.clone()),
                        _ => None,
                    };
                    let (tensor, labels) = maps::<i64>(&value, labels).map_err(fail)?;
                    (tensor, Some(ClassLabels::Int64(labels)))
                }
                PortKind::SequenceOfMaps { classes, .. } => {
                    let labels = match classes {
                        Some(ClassLabels::Bytes(labels)) => Some(labels.clone()),
                        _ => None,
                    };
                    let (tensor, labels) = maps::<String>(&value, labels).map_err(fail)?;
                    (tensor, Some(ClassLabels::Bytes(labels)))
                }
            };
            Ok(Output { name, tensor, classes })
        })
        .collect()
}

fn tensor(value: &DynValue) -> Result<Tensor, String> {
    let ValueType::Tensor { ty, .. } = value.dtype() else {
        return Err(format!("expected a tensor, got {}", value.dtype()));
    };
    macro_rules! copy {
        ($type:ty, $variant:ident) => {{
            let (shape, values) = value.try_extract_tensor::<$type>().map_err(|error| error.to_string())?;
            (shape, TensorData::$variant(values.to_vec()))
        }};
    }
    let (shape, data) = match ty {
        TensorElementType::Bool => copy!(bool, Bool),
        TensorElementType::Uint8 => copy!(u8, Uint8),
        TensorElementType::Uint16 => copy!(u16, Uint16),
        TensorElementType::Uint32 => copy!(u32, Uint32),
        TensorElementType::Uint64 => copy!(u64, Uint64),
        TensorElementType::Int8 => copy!(i8, Int8),
        TensorElementType::Int16 => copy!(i16, Int16),
        TensorElementType::Int32 => copy!(i32, Int32),
        TensorElementType::Int64 => copy!(i64, Int64),
        TensorElementType::Float32 => copy!(f32, Fp32),
        TensorElementType::Float64 => copy!(f64, Fp64),
        TensorElementType::String => {
            let (shape, values) = value.try_extract_strings().map_err(|error| error.to_string())?;
            (shape, TensorData::Bytes(values))
        }
        other => return Err(format!("a tensor of {other}, which the runtime does not support")),
    };
    let shape = shape
        .iter()
        .map(|&dim| usize::try_from(dim).map_err(|_| format!("negative dimension {dim}")))
        .collect::<Result<_, _>>()?;
    Ok(Tensor { shape, data })
}

/// One map per row → `[rows, classes]`, columns in `labels`' order (the first map's when the
/// model names none). Every row must hold exactly the labels.
fn maps<K>(value: &DynValue, labels: Option<Arc<[K]>>) -> Result<(Tensor, Arc<[K]>), String>
where
    K: ort::value::IntoTensorElementType + Clone + Hash + Eq + std::fmt::Debug,
{
    let rows = value.try_extract_sequence::<DynMapValueType>().map_err(|error| error.to_string())?;
    let rows = rows
        .iter()
        .map(|map| map.try_extract_key_values::<K, f32>().map_err(|error| error.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let labels = match labels {
        Some(labels) => labels,
        None => rows.first().map(|row| row.iter().map(|(key, _)| key.clone()).collect()).unwrap_or_default(),
    };
    let column: HashMap<&K, usize> = labels.iter().enumerate().map(|(index, label)| (label, index)).collect();
    let width = labels.len();
    let mut scores = vec![f32::NAN; rows.len() * width];
    for (index, row) in rows.iter().enumerate() {
        if row.len() != width {
            return Err(format!("row {index} has {} classes, the model declares {width}", row.len()));
        }
        for (key, score) in row {
            let Some(&column) = column.get(key) else {
                return Err(format!("row {index} has class {key:?}, which the model does not declare"));
            };
            scores[index * width + column] = *score;
        }
    }
    Ok((Tensor { shape: vec![rows.len(), width], data: TensorData::Fp32(scores) }, labels))
}
