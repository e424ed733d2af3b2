//! An infer request's body into tensors. The JSON is read in two steps: its structure first, each
//! input's `shape`, `parameters` and `data` kept as raw JSON text, then each of those on its own,
//! so that an error names the input it is about and `data` is read straight into a typed vector
//! (whatever the order of the keys: `datatype` may come after `data`).

use std::borrow::Cow;

use cairn_runtime::{DataType, Tensor};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::{InferRequest, Limits, OipError, RequestedOutput, RequestedOutputs, binary, json_data};

#[derive(Deserialize)]
struct RequestJson<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, borrow)]
    parameters: Option<&'a RawValue>,
    #[serde(borrow)]
    inputs: Vec<InputJson<'a>>,
    #[serde(default, borrow)]
    outputs: Option<Vec<OutputJson<'a>>>,
}

#[derive(Deserialize)]
struct InputJson<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    shape: &'a RawValue,
    #[serde(borrow)]
    datatype: Cow<'a, str>,
    #[serde(default, borrow)]
    parameters: Option<&'a RawValue>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct OutputJson<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    parameters: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct RequestParameters {
    binary_data_output: Option<bool>,
}

#[derive(Deserialize, Default)]
struct InputParameters {
    binary_data_size: Option<u64>,
    shared_memory_region: Option<IgnoredAny>,
}

#[derive(Deserialize, Default)]
struct OutputParameters {
    binary_data: Option<bool>,
    classification: Option<IgnoredAny>,
    shared_memory_region: Option<IgnoredAny>,
}

/// Decodes an infer request: `body` is the whole body, `json_len` the raw value of its
/// `Inference-Header-Content-Length` header if it has one (then the JSON is `body[..json_len]`
/// and the binary inputs' bytes follow it, in the order of the inputs). Content-Type plays no part:
/// tritonclient's sync client sends none.
pub(crate) fn decode(body: &[u8], json_len: Option<&str>, limits: Limits) -> Result<InferRequest, OipError> {
    let (json, mut binary) = split(body, json_len)?;
    let request: RequestJson<'_> = serde_json::from_slice(json).map_err(|error| {
        OipError::Request(format!("the body is not an inference request's JSON: {error}"))
    })?;
    let parameters: RequestParameters = read_parameters(request.parameters)
        .map_err(|message| OipError::Request(format!("parameters: {message}")))?;
    let outputs = requested_outputs(request.outputs, parameters.binary_data_output.unwrap_or(false))?;

    let mut inputs: Vec<(String, Tensor)> = Vec::with_capacity(request.inputs.len());
    let mut elements = 0;
    for input in &request.inputs {
        let name = input.name.as_ref();
        if inputs.iter().any(|(seen, _)| seen == name) {
            return Err(OipError::input(name, "given more than once"));
        }
        let tensor = tensor(input, &mut binary, json_len.is_some(), &mut elements, limits)
            .map_err(|message| OipError::input(name, message))?;
        inputs.push((name.to_owned(), tensor));
    }
    if !binary.is_empty() {
        return Err(OipError::Request(format!(
            "{} bytes follow the JSON and the inputs' binary_data_size; the body must end there",
            binary.len()
        )));
    }
    Ok(InferRequest { id: request.id, inputs, outputs })
}

/// One input's tensor. Its binary data, if it has some, is taken from the front of `binary`;
/// its elements are added to `elements_total`, the request's so far.
fn tensor(
    input: &InputJson<'_>,
    binary: &mut &[u8],
    has_header: bool,
    elements_total: &mut usize,
    limits: Limits,
) -> Result<Tensor, String> {
    let datatype = datatype(&input.datatype)?;
    let shape = shape(input.shape)?;
    let elements = Tensor::shape_len(&shape)
        .ok_or_else(|| format!("shape {shape:?} holds more elements than memory"))?;
    *elements_total = elements_total
        .checked_add(elements)
        .filter(|&total| total <= limits.max_elements)
        .ok_or_else(|| {
            format!(
                "shape {shape:?} holds {elements} elements, past the limit of {} elements in a request",
                limits.max_elements
            )
        })?;
    let parameters: InputParameters =
        read_parameters(input.parameters).map_err(|message| format!("parameters: {message}"))?;
    if parameters.shared_memory_region.is_some() {
        return Err("shared memory is not supported; send data or binary data".to_owned());
    }
    let data = match (input.data, parameters.binary_data_size) {
        (Some(_), Some(_)) => return Err("has both data and binary_data_size".to_owned()),
        (None, None) => return Err("has neither data nor parameters.binary_data_size".to_owned()),
        (Some(data), None) => json_data::parse(data, datatype, &shape, elements)?,
        (None, Some(_)) if !has_header => {
            return Err(
                "has binary_data_size, but the request has no Inference-Header-Content-Length header"
                    .to_owned(),
            );
        }
        (None, Some(size)) => {
            let Some((bytes, rest)) =
                usize::try_from(size).ok().and_then(|size| binary.split_at_checked(size))
            else {
                return Err(format!(
                    "binary_data_size is {size}, but only {} bytes of binary data are left",
                    binary.len()
                ));
            };
            *binary = rest;
            binary::read(bytes, datatype, &shape, elements)?
        }
    };
    Ok(Tensor::new(shape, data))
}

/// The JSON and the binary data after it.
fn split<'b>(body: &'b [u8], json_len: Option<&str>) -> Result<(&'b [u8], &'b [u8]), OipError> {
    let Some(value) = json_len else { return Ok((body, &[])) };
    let len: usize = value.trim().parse().map_err(|_| {
        OipError::Request(format!(
            "Inference-Header-Content-Length is `{}`, expected the JSON's length in bytes",
            shorten(value)
        ))
    })?;
    if len == 0 {
        return Err(OipError::Request(
            "Inference-Header-Content-Length is 0 (a raw binary request), which is not supported; \
             send the JSON with binary_data_size on the input"
                .to_owned(),
        ));
    }
    body.split_at_checked(len).ok_or_else(|| {
        OipError::Request(format!(
            "Inference-Header-Content-Length is {len}, but the body has only {} bytes",
            body.len()
        ))
    })
}

fn requested_outputs(
    outputs: Option<Vec<OutputJson<'_>>>,
    binary_default: bool,
) -> Result<RequestedOutputs, OipError> {
    let Some(outputs) = outputs.filter(|outputs| !outputs.is_empty()) else {
        return Ok(RequestedOutputs::All { binary: binary_default });
    };
    let mut requested: Vec<RequestedOutput> = Vec::with_capacity(outputs.len());
    for output in outputs {
        let name = output.name.as_ref();
        if requested.iter().any(|seen| seen.name == name) {
            return Err(OipError::output(name, "requested more than once"));
        }
        let parameters: OutputParameters = read_parameters(output.parameters)
            .map_err(|message| OipError::output(name, format!("parameters: {message}")))?;
        if parameters.classification.is_some() {
            return Err(OipError::output(
                name,
                "the classification extension is not supported; request the output's values",
            ));
        }
        if parameters.shared_memory_region.is_some() {
            return Err(OipError::output(name, "shared memory is not supported"));
        }
        let binary = parameters.binary_data.unwrap_or(binary_default);
        requested.push(RequestedOutput { name: output.name.into_owned(), binary });
    }
    Ok(RequestedOutputs::Named(requested))
}

fn datatype(name: &str) -> Result<DataType, String> {
    match DataType::from_name(name) {
        Some(DataType::Fp16) | None => {
            let supported: Vec<&str> = DataType::ALL
                .iter()
                .filter(|&&datatype| datatype != DataType::Fp16)
                .map(|datatype| datatype.as_str())
                .collect();
            Err(format!(
                "datatype `{}` is not supported; the supported datatypes are {}",
                shorten(name),
                supported.join(", ")
            ))
        }
        Some(datatype) => Ok(datatype),
    }
}

fn shape(raw: &RawValue) -> Result<Vec<usize>, String> {
    let dims: Vec<i64> = parse(Some(raw)).map_err(|message| format!("shape: {message}"))?;
    dims.iter()
        .map(|&dim| {
            usize::try_from(dim)
                .map_err(|_| format!("shape {dims:?} has dimension {dim}; dimensions are 0 or more"))
        })
        .collect()
}

/// `parameters`, which must be an object: serde would take a struct from an array too.
fn read_parameters<'a, T: Deserialize<'a> + Default>(raw: Option<&'a RawValue>) -> Result<T, String> {
    match raw {
        Some(raw) if !raw.get().starts_with('{') => Err("expected an object".to_owned()),
        raw => parse(raw),
    }
}

/// A part of the JSON kept raw, read into `T` (absent or `null`: `T`'s default). The message
/// leaves out serde_json's position, which would count within the part, not the body.
fn parse<'a, T: Deserialize<'a> + Default>(raw: Option<&'a RawValue>) -> Result<T, String> {
    match raw {
        None => Ok(T::default()),
        Some(raw) => serde_json::from_str(raw.get()).map_err(|error| without_position(&error)),
    }
}

pub(super) fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// A client's string quoted in an error, cut short: a header or a datatype can be anything.
fn shorten(text: &str) -> Cow<'_, str> {
    const MAX_CHARS: usize = 40;
    match text.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => Cow::Owned(format!("{}…", &text[..at])),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests;
