//! A run's inputs: checked against the signature, then handed to ONNX Runtime without copying
//! (numeric tensors are views of the caller's vectors; strings are copied, as ONNX Runtime
//! keeps its own).

use ort::session::SessionInputValue;
use ort::value::TensorRef;

use crate::signature::{PortKind, Signature};
use crate::{InputProblem, RuntimeError, Tensor, TensorData};

/// The given tensors in the signature's input order, each checked against its port.
pub(super) fn check<'a, S: AsRef<str>>(
    signature: &Signature,
    inputs: &'a [(S, Tensor)],
) -> Result<Vec<&'a Tensor>, RuntimeError> {
    let mut ordered: Vec<Option<&Tensor>> = vec![None; signature.inputs.len()];
    for (name, tensor) in inputs {
        let name = name.as_ref();
        let problem = |problem| RuntimeError::Input { name: name.to_owned(), problem };
        let Some(index) = signature.inputs.iter().position(|port| port.name == name) else {
            let inputs = signature.inputs.iter().map(|port| port.name.clone()).collect();
            return Err(problem(InputProblem::Unknown { inputs }));
        };
        if ordered[index].is_some() {
            return Err(problem(InputProblem::Repeated));
        }
        fits(&signature.inputs[index].kind, tensor).map_err(problem)?;
        ordered[index] = Some(tensor);
    }
    ordered
        .into_iter()
        .zip(&signature.inputs)
        .map(|(tensor, port)| {
            tensor.ok_or_else(|| RuntimeError::Input {
                name: port.name.clone(),
                problem: InputProblem::Missing,
            })
        })
        .collect()
}

fn fits(kind: &PortKind, tensor: &Tensor) -> Result<(), InputProblem> {
    // Inputs are tensors: the signature refuses models with other inputs.
    let PortKind::Tensor { datatype, shape } = kind else { return Ok(()) };
    if tensor.datatype() != *datatype {
        return Err(InputProblem::DataType { expected: *datatype, got: tensor.datatype() });
    }
    if tensor.shape.len() != shape.len() {
        return Err(InputProblem::Rank { expected: shape.len(), got: tensor.shape.len() });
    }
    for (axis, (&got, &expected)) in tensor.shape.iter().zip(shape).enumerate() {
        if let Some(expected) = expected.filter(|&expected| expected != got) {
            return Err(InputProblem::Dim { axis, expected, got });
        }
    }
    if Tensor::shape_len(&tensor.shape) != Some(tensor.data.len()) {
        return Err(InputProblem::Length { shape: tensor.shape.clone(), got: tensor.data.len() });
    }
    Ok(())
}

/// The checked tensors as ONNX Runtime values, named by their ports.
pub(super) fn values<'a>(
    signature: &'a Signature,
    ordered: &[&'a Tensor],
) -> Result<Vec<(&'a str, SessionInputValue<'a>)>, RuntimeError> {
    signature
        .inputs
        .iter()
        .zip(ordered)
        .map(|(port, tensor)| {
            let value = value(tensor).map_err(|error| RuntimeError::Input {
                name: port.name.clone(),
                problem: InputProblem::Rejected(error.to_string()),
            })?;
            Ok((port.name.as_str(), value))
        })
        .collect()
}

fn value(tensor: &Tensor) -> ort::Result<SessionInputValue<'_>> {
    let shape = tensor.shape.as_slice();
    macro_rules! view {
        ($values:expr) => {
            TensorRef::from_array_view((shape, $values.as_slice())).map(SessionInputValue::from)
        };
    }
    match &tensor.data {
        TensorData::Bool(values) => view!(values),
        TensorData::Uint8(values) => view!(values),
        TensorData::Uint16(values) => view!(values),
        TensorData::Uint32(values) => view!(values),
        TensorData::Uint64(values) => view!(values),
        TensorData::Int8(values) => view!(values),
        TensorData::Int16(values) => view!(values),
        TensorData::Int32(values) => view!(values),
        TensorData::Int64(values) => view!(values),
        TensorData::Fp32(values) => view!(values),
        TensorData::Fp64(values) => view!(values),
        TensorData::Bytes(values) => {
            ort::value::Tensor::from_string_array((shape, values.as_slice())).map(SessionInputValue::from)
        }
    }
}
