//! A model's signature: the inputs it takes and the outputs it gives, as the runtime exchanges
//! them (so the serving layer can describe a model and check requests before running it).

use std::sync::Arc;

use ort::value::{Outlet, TensorElementType, ValueType};

use crate::{DataType, RuntimeError};

#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
}

/// One input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub name: String,
    pub kind: PortKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PortKind {
    /// A tensor; `None` marks a dimension the model leaves open (the batch, usually).
    Tensor { datatype: DataType, shape: Vec<Option<usize>> },
    /// A sequence of maps from class label (`INT64` or `BYTES`) to a float score, one map per
    /// row: a classifier's ZipMap output. [`crate::Model::run`] returns it as an `FP32` tensor
    /// `[rows, classes]` whose columns follow `classes`: the ZipMap's class labels in the
    /// model's order, when the model names them (else the order of the first row's map keys).
    SequenceOfMaps { key: DataType, classes: Option<ClassLabels> },
}

/// The class labels of a classifier's output, in the order of its score columns.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassLabels {
    Int64(Arc<[i64]>),
    Bytes(Arc<[String]>),
}

impl ClassLabels {
    pub fn len(&self) -> usize {
        match self {
            Self::Int64(labels) => labels.len(),
            Self::Bytes(labels) => labels.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn datatype(&self) -> DataType {
        match self {
            Self::Int64(_) => DataType::Int64,
            Self::Bytes(_) => DataType::Bytes,
        }
    }

    /// The label of score column `index`, as text (`1`, `fraud`).
    pub fn label(&self, index: usize) -> String {
        match self {
            Self::Int64(labels) => labels[index].to_string(),
            Self::Bytes(labels) => labels[index].clone(),
        }
    }
}

impl Signature {
    pub fn input(&self, name: &str) -> Option<&Port> {
        self.inputs.iter().find(|port| port.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&Port> {
        self.outputs.iter().find(|port| port.name == name)
    }
}

/// The signature of a session's inputs and outputs; `classes` gives a ZipMap output's labels.
pub(crate) fn signature(
    inputs: &[Outlet],
    outputs: &[Outlet],
    classes: impl Fn(&str) -> Option<ClassLabels>,
) -> Result<Signature, RuntimeError> {
    let inputs = inputs
        .iter()
        .map(|outlet| match outlet.dtype() {
            ValueType::Tensor { ty, shape, .. } => tensor_port("input", outlet.name(), *ty, shape),
            other => Err(unsupported("input", outlet.name(), other.to_string())),
        })
        .collect::<Result<_, _>>()?;
    let outputs = outputs
        .iter()
        .map(|outlet| match outlet.dtype() {
            ValueType::Tensor { ty, shape, .. } => tensor_port("output", outlet.name(), *ty, shape),
            ValueType::Sequence(element) => match element.as_ref() {
                ValueType::Map {
                    key: key @ (TensorElementType::Int64 | TensorElementType::String),
                    value: TensorElementType::Float32,
                } => {
                    let key =
                        if *key == TensorElementType::Int64 { DataType::Int64 } else { DataType::Bytes };
                    let classes = classes(outlet.name()).filter(|classes| classes.datatype() == key);
                    Ok(Port {
                        name: outlet.name().to_owned(),
                        kind: PortKind::SequenceOfMaps { key, classes },
                    })
                }
                _ => Err(unsupported("output", outlet.name(), outlet.dtype().to_string())),
            },
            other => Err(unsupported("output", outlet.name(), other.to_string())),
        })
        .collect::<Result<_, _>>()?;
    Ok(Signature { inputs, outputs })
}

fn tensor_port(
    port: &'static str,
    name: &str,
    element: TensorElementType,
    shape: &[i64],
) -> Result<Port, RuntimeError> {
    let datatype = match datatype(element) {
        Some(DataType::Fp16) | None => return Err(unsupported(port, name, format!("a tensor of {element}"))),
        Some(datatype) => datatype,
    };
    let shape = shape.iter().map(|&dim| usize::try_from(dim).ok()).collect();
    Ok(Port { name: name.to_owned(), kind: PortKind::Tensor { datatype, shape } })
}

pub(crate) fn datatype(element: TensorElementType) -> Option<DataType> {
    Some(match element {
        TensorElementType::Bool => DataType::Bool,
        TensorElementType::Uint8 => DataType::Uint8,
        TensorElementType::Uint16 => DataType::Uint16,
        TensorElementType::Uint32 => DataType::Uint32,
        TensorElementType::Uint64 => DataType::Uint64,
        TensorElementType::Int8 => DataType::Int8,
        TensorElementType::Int16 => DataType::Int16,
        TensorElementType::Int32 => DataType::Int32,
        TensorElementType::Int64 => DataType::Int64,
        TensorElementType::Float16 => DataType::Fp16,
        TensorElementType::Float32 => DataType::Fp32,
        TensorElementType::Float64 => DataType::Fp64,
        TensorElementType::String => DataType::Bytes,
        _ => return None,
    })
}

fn unsupported(port: &'static str, name: &str, what: String) -> RuntimeError {
    RuntimeError::Unsupported { port, name: name.to_owned(), what }
}
