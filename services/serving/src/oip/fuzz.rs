//! The decoder's fuzz target, bounded for CI (proptest's 256 cases a property): arbitrary bytes
//! and headers, structured random JSON requests, and damaged binary requests never panic it, and
//! what it accepts is consistent; random tensors written as requests (JSON, nested or flat, and
//! binary, by an encoder written here apart from the codec) decode to themselves, and responses
//! encoded by the codec read back (as tritonclient reads them) to the tensors they were made of.

use cairn_runtime::{DataType, Tensor, TensorData};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{
    Encoded, InferRequest, InferResponse, Limits, RequestedOutput, RequestedOutputs, ResponseOutput, decode,
    encode,
};

/// A small limit, so that random shapes run into it too.
const LIMITS: Limits = Limits { max_elements: 4096 };

/// What an accepted request must satisfy.
fn consistent(request: &InferRequest) {
    for (index, (name, tensor)) in request.inputs.iter().enumerate() {
        assert_eq!(Tensor::shape_len(&tensor.shape), Some(tensor.data.len()), "input {name}");
        assert!(request.inputs[..index].iter().all(|(seen, _)| seen != name), "input {name} repeated");
    }
    let total: usize = request.inputs.iter().map(|(_, tensor)| tensor.data.len()).sum();
    assert!(total <= LIMITS.max_elements);
}

fn decode_any(body: &[u8], json_len: Option<&str>) {
    if let Ok(request) = decode(body, json_len, LIMITS) {
        consistent(&request);
    }
}

// --- random tensors and the test's own request encoder ---

fn data(datatype: DataType, len: usize) -> BoxedStrategy<TensorData> {
    let finite32 = any::<f32>().prop_filter("JSON has no NaN", |value| value.is_finite());
    let finite64 = any::<f64>().prop_filter("JSON has no NaN", |value| value.is_finite());
    match datatype {
        DataType::Bool => vec(any::<bool>(), len).prop_map(TensorData::Bool).boxed(),
        DataType::Uint8 => vec(any::<u8>(), len).prop_map(TensorData::Uint8).boxed(),
        DataType::Uint16 => vec(any::<u16>(), len).prop_map(TensorData::Uint16).boxed(),
        DataType::Uint32 => vec(any::<u32>(), len).prop_map(TensorData::Uint32).boxed(),
        DataType::Uint64 => vec(any::<u64>(), len).prop_map(TensorData::Uint64).boxed(),
        DataType::Int8 => vec(any::<i8>(), len).prop_map(TensorData::Int8).boxed(),
        DataType::Int16 => vec(any::<i16>(), len).prop_map(TensorData::Int16).boxed(),
        DataType::Int32 => vec(any::<i32>(), len).prop_map(TensorData::Int32).boxed(),
        DataType::Int64 => vec(any::<i64>(), len).prop_map(TensorData::Int64).boxed(),
        DataType::Fp32 => vec(finite32, len).prop_map(TensorData::Fp32).boxed(),
        DataType::Fp64 => vec(finite64, len).prop_map(TensorData::Fp64).boxed(),
        DataType::Bytes | DataType::Fp16 => vec("\\PC{0,6}", len).prop_map(TensorData::Bytes).boxed(),
    }
}

fn tensor() -> impl Strategy<Value = Tensor> {
    let datatypes: Vec<DataType> =
        DataType::ALL.into_iter().filter(|&datatype| datatype != DataType::Fp16).collect();
    (vec(0usize..4, 0..4), prop::sample::select(datatypes)).prop_flat_map(|(shape, datatype)| {
        let len = shape.iter().product();
        data(datatype, len).prop_map(move |data| Tensor::new(shape.clone(), data))
    })
}

fn json_values(data: &TensorData) -> Vec<Value> {
    match data {
        TensorData::Bool(values) => values.iter().map(|&value| json!(value)).collect(),
        TensorData::Uint8(values) => values.iter().map(|&value| json!(value)).collect(),
        TensorData::Uint16(values) => values.iter().map(|&value| json!(value)).collect(),
        TensorData::Uint32(values) => values.iter().map(|&value| json!(value)).collect(),
        TensorData::Uint64(values) => values.iter().map(|&value| json!(value)).collect(),
        TensorData::Int8(values) => values.iter().map(|&value| json!(value)).collect(),
        TensorData::Int16(values) => values.iter().map(|&value| json!(value)).collect(),
        TensorData::Int32(values) => values.iter().map(|&value| json!(value)).collect(),
        TensorData::Int64(values) => values.iter().map(|&value| json!(value)).collect(),
        // As Python clients send an FP32: the float32 value as a double, written exactly.
        TensorData::Fp32(values) => values.iter().map(|&value| json!(f64::from(value))).collect(),
        TensorData::Fp64(values) => values.iter().map(|&value| json!(value)).collect(),
        TensorData::Bytes(values) => values.iter().map(|value| json!(value)).collect(),
    }
}

/// Flat values nested to the shape, as KServe sends a list of lists.
fn nested(mut values: Vec<Value>, shape: &[usize]) -> Value {
    match shape {
        [_, inner @ ..] if !inner.is_empty() && !values.is_empty() => {
            let size: usize = inner.iter().product();
            let mut rows = Vec::new();
            while !values.is_empty() {
                let rest = values.split_off(size);
                rows.push(nested(values, inner));
                values = rest;
            }
            Value::Array(rows)
        }
        _ => Value::Array(values),
    }
}

fn binary_data(data: &TensorData) -> Vec<u8> {
    fn le<const N: usize, T: Copy>(values: &[T], bytes: fn(T) -> [u8; N]) -> Vec<u8> {
        values.iter().flat_map(|&value| bytes(value)).collect()
    }
    match data {
        TensorData::Bool(values) => values.iter().map(|&value| u8::from(value)).collect(),
        TensorData::Uint8(values) => values.clone(),
        TensorData::Uint16(values) => le(values, u16::to_le_bytes),
        TensorData::Uint32(values) => le(values, u32::to_le_bytes),
        TensorData::Uint64(values) => le(values, u64::to_le_bytes),
        TensorData::Int8(values) => le(values, i8::to_le_bytes),
        TensorData::Int16(values) => le(values, i16::to_le_bytes),
        TensorData::Int32(values) => le(values, i32::to_le_bytes),
        TensorData::Int64(values) => le(values, i64::to_le_bytes),
        TensorData::Fp32(values) => le(values, f32::to_le_bytes),
        TensorData::Fp64(values) => le(values, f64::to_le_bytes),
        TensorData::Bytes(values) => values
            .iter()
            .flat_map(|value| [&(value.len() as u32).to_le_bytes()[..], value.as_bytes()].concat())
            .collect(),
    }
}

/// How the test writes one input.
#[derive(Debug, Clone, Copy)]
enum Form {
    Flat,
    Nested,
    Binary,
}

/// A request body and its header value: binary inputs' bytes after the JSON in input order.
fn request_body(
    id: Option<&str>,
    inputs: &[(String, Tensor, Form)],
    outputs: Option<&[(String, Option<bool>)]>,
    binary_data_output: Option<bool>,
) -> (Vec<u8>, Option<String>) {
    let mut binary = Vec::new();
    let inputs: Vec<Value> = inputs
        .iter()
        .map(|(name, tensor, form)| {
            let mut input =
                json!({"name": name, "shape": tensor.shape, "datatype": tensor.datatype().as_str()});
            match form {
                Form::Flat => input["data"] = Value::Array(json_values(&tensor.data)),
                Form::Nested => input["data"] = nested(json_values(&tensor.data), &tensor.shape),
                Form::Binary => {
                    let bytes = binary_data(&tensor.data);
                    input["parameters"] = json!({"binary_data_size": bytes.len()});
                    binary.extend(bytes);
                }
            }
            input
        })
        .collect();
    let mut request = json!({"model_name": "m", "inputs": inputs});
    if let Some(id) = id {
        request["id"] = json!(id);
    }
    if let Some(binary_data_output) = binary_data_output {
        request["parameters"] = json!({"binary_data_output": binary_data_output, "other": [1]});
    }
    if let Some(outputs) = outputs {
        let outputs: Vec<Value> = outputs
            .iter()
            .map(|(name, binary)| match binary {
                Some(binary) => json!({"name": name, "parameters": {"binary_data": binary}}),
                None => json!({"name": name}),
            })
            .collect();
        request["outputs"] = Value::Array(outputs);
    }
    let mut body = serde_json::to_vec(&request).unwrap();
    if binary.is_empty() && inputs.iter().all(|input| input.get("parameters").is_none()) {
        return (body, None);
    }
    let json_len = body.len().to_string();
    body.extend(binary);
    (body, Some(json_len))
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![Just(Form::Flat), Just(Form::Nested), Just(Form::Binary)]
}

fn named<T: std::fmt::Debug>(items: Vec<T>, prefix: &str) -> Vec<(String, T)> {
    items.into_iter().enumerate().map(|(index, item)| (format!("{prefix}{index}"), item)).collect()
}

// --- structured random JSON: mostly well formed, so that most cases get past the structure ---

fn scalar_json() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        (-3i64..300).prop_map(|value| value.to_string()),
        any::<i64>().prop_map(|value| value.to_string()),
        any::<u64>().prop_map(|value| value.to_string()),
        any::<f64>().prop_filter("finite", |value| value.is_finite()).prop_map(|value| format!("{value:?}")),
        Just("1e39".to_owned()),
        Just("1e400".to_owned()),
        Just("-0".to_owned()),
        "\\PC{0,4}".prop_map(|text| serde_json::to_string(&text).unwrap()),
    ]
}

fn any_json() -> impl Strategy<Value = String> {
    scalar_json().prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(|items| format!("[{}]", items.join(","))),
            vec(("[a-z_]{1,6}", inner), 0..3).prop_map(|members| {
                let members: Vec<String> =
                    members.iter().map(|(key, value)| format!("{key:?}:{value}")).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// `"key":value`, present with probability `present`.
fn member(
    present: f64,
    key: &'static str,
    value: impl Strategy<Value = String>,
) -> impl Strategy<Value = Option<String>> {
    proptest::option::weighted(present, value.prop_map(move |value| format!("\"{key}\":{value}")))
}

fn object(members: Vec<Option<String>>) -> String {
    format!("{{{}}}", members.into_iter().flatten().collect::<Vec<_>>().join(","))
}

fn name_json() -> impl Strategy<Value = String> {
    prop_oneof![20 => prop::sample::select(vec!["\"a\"", "\"b\"", "\"c\""]).prop_map(str::to_owned), 1 => any_json()]
}

/// An element of `datatype`'s kind, mostly.
fn element_json(datatype: &str) -> BoxedStrategy<String> {
    let typed = match datatype {
        "\"BOOL\"" => any::<bool>().prop_map(|value| value.to_string()).boxed(),
        "\"BYTES\"" => "\\PC{0,4}".prop_map(|text| serde_json::to_string(&text).unwrap()).boxed(),
        "\"FP32\"" | "\"FP64\"" | "\"FP16\"" => prop_oneof![
            (-1e6f64..1e6).prop_map(|value| format!("{value:?}")),
            (-5i64..5).prop_map(|value| value.to_string()),
        ]
        .boxed(),
        _ => (-200i64..70_000).prop_map(|value| value.to_string()).boxed(),
    };
    prop_oneof![30 => typed, 1 => scalar_json()].boxed()
}

/// Items nested to `dims` when they fill it, else flat.
fn nested_text(items: &[String], dims: &[usize]) -> String {
    match dims {
        [_, inner @ ..] if !inner.is_empty() && !items.is_empty() && inner.iter().product::<usize>() > 0 => {
            let rows: Vec<String> =
                items.chunks(inner.iter().product()).map(|row| nested_text(row, inner)).collect();
            format!("[{}]", rows.join(","))
        }
        _ => format!("[{}]", items.join(",")),
    }
}

fn input_json() -> impl Strategy<Value = String> {
    let mut datatypes: Vec<String> = DataType::ALL.iter().map(|datatype| format!("\"{datatype}\"")).collect();
    datatypes.extend(["\"BF16\"".to_owned(), "\"fp32\"".to_owned(), "7".to_owned()]);
    let dim = prop_oneof![20 => 0i64..4, 1 => Just(-1i64), 1 => Just(i64::MAX), 1 => Just(1 << 40)];
    (prop::sample::select(datatypes), vec(dim, 0..4)).prop_flat_map(|(datatype, dims)| {
        let sizes: Vec<usize> = dims.iter().map(|&dim| usize::try_from(dim).unwrap_or(0).min(4)).collect();
        let len: usize = sizes.iter().product();
        let element = element_json(&datatype);
        let data = prop_oneof![
            6 => (vec(element.clone(), len), any::<bool>()).prop_map(move |(items, nest)| {
                if nest { nested_text(&items, &sizes) } else { format!("[{}]", items.join(",")) }
            }),
            2 => vec(element, 0..6).prop_map(|items| format!("[{}]", items.join(","))),
            1 => any_json(),
        ];
        let size = prop_oneof![
            8 => (0..=len * 8).prop_map(|size| size.to_string()),
            1 => scalar_json(),
        ];
        let parameters = prop_oneof![
            8 => member(0.9, "binary_data_size", size).prop_map(|member| object(vec![member])),
            1 => any_json(),
        ];
        let shape = prop_oneof![20 => Just(format!("{dims:?}")), 1 => any_json()];
        (
            member(0.98, "name", name_json()),
            member(0.98, "shape", shape),
            member(0.98, "datatype", Just(datatype)),
            member(0.7, "data", data),
            member(0.35, "parameters", parameters),
        )
            .prop_map(|(name, shape, datatype, data, parameters)| {
                object(vec![name, shape, datatype, data, parameters])
            })
    })
}

fn output_json() -> impl Strategy<Value = String> {
    let binary = prop_oneof![4 => Just("true".to_owned()), 4 => Just("false".to_owned()), 1 => any_json()];
    let parameters = prop_oneof![
        8 => (member(0.8, "binary_data", binary), member(0.05, "classification", scalar_json()))
            .prop_map(|(binary, classification)| object(vec![binary, classification])),
        1 => any_json(),
    ];
    (member(0.98, "name", name_json()), member(0.6, "parameters", parameters))
        .prop_map(|(name, parameters)| object(vec![name, parameters]))
}

fn request_json() -> impl Strategy<Value = String> {
    let id = prop_oneof![8 => "[a-z0-9-]{0,8}".prop_map(|id| format!("\"{id}\"")), 1 => scalar_json()];
    let binary_data_output =
        prop_oneof![8 => any::<bool>().prop_map(|value| value.to_string()), 1 => scalar_json()];
    let parameters = prop_oneof![
        8 => member(0.8, "binary_data_output", binary_data_output).prop_map(|member| object(vec![member])),
        1 => any_json(),
    ];
    (
        member(0.5, "id", id),
        member(0.5, "model_name", Just("\"m\"".to_owned())),
        member(0.4, "parameters", parameters),
        member(0.98, "inputs", vec(input_json(), 0..4).prop_map(|inputs| format!("[{}]", inputs.join(",")))),
        member(
            0.5,
            "outputs",
            vec(output_json(), 0..3).prop_map(|outputs| format!("[{}]", outputs.join(","))),
        ),
    )
        .prop_map(|(id, model, parameters, inputs, outputs)| {
            object(vec![id, model, parameters, inputs, outputs])
        })
}

/// The header value to send with a JSON of `len` bytes: absent, right, off by a little, or junk.
fn header(len: usize) -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        6 => Just(Some(len.to_string())),
        1 => (-3i64..4).prop_map(move |delta| Some((len as i64 + delta).to_string())),
        1 => "\\PC{0,12}".prop_map(Some),
    ]
}

// --- reading a response as tritonclient does ---

#[derive(serde::Deserialize)]
struct ResponseJson {
    model_name: String,
    id: Option<String>,
    outputs: Vec<OutputJson>,
}

#[derive(serde::Deserialize)]
struct OutputJson {
    name: String,
    datatype: String,
    shape: Vec<usize>,
    parameters: Option<Parameters>,
    data: Option<Box<serde_json::value::RawValue>>,
}

#[derive(serde::Deserialize)]
struct Parameters {
    binary_data_size: usize,
}

/// An output's JSON data, read as its type; an FP32 from its own text, to compare it exactly
/// (not through a double).
fn json_data(datatype: DataType, text: &str) -> TensorData {
    fn parsed<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
        serde_json::from_str(text).unwrap()
    }
    match datatype {
        DataType::Bool => TensorData::Bool(parsed(text)),
        DataType::Uint8 => TensorData::Uint8(parsed(text)),
        DataType::Uint16 => TensorData::Uint16(parsed(text)),
        DataType::Uint32 => TensorData::Uint32(parsed(text)),
        DataType::Uint64 => TensorData::Uint64(parsed(text)),
        DataType::Int8 => TensorData::Int8(parsed(text)),
        DataType::Int16 => TensorData::Int16(parsed(text)),
        DataType::Int32 => TensorData::Int32(parsed(text)),
        DataType::Int64 => TensorData::Int64(parsed(text)),
        DataType::Fp32 => {
            let inner = text.trim_start_matches('[').trim_end_matches(']');
            TensorData::Fp32(
                inner.split(',').filter(|item| !item.is_empty()).map(|item| item.parse().unwrap()).collect(),
            )
        }
        DataType::Fp64 => TensorData::Fp64(parsed(text)),
        DataType::Bytes | DataType::Fp16 => TensorData::Bytes(parsed(text)),
    }
}

fn read_response(encoded: &Encoded) -> (ResponseJson, Vec<(String, Tensor)>) {
    let json_len = encoded.json_len.unwrap_or(encoded.body.len());
    let response: ResponseJson = serde_json::from_slice(&encoded.body[..json_len]).unwrap();
    let mut binary = &encoded.body[json_len..];
    let mut outputs = Vec::new();
    for output in &response.outputs {
        let datatype = DataType::from_name(&output.datatype).unwrap();
        let data = match (&output.parameters, &output.data) {
            (Some(parameters), None) => {
                let (bytes, rest) = binary.split_at(parameters.binary_data_size);
                binary = rest;
                let elements = Tensor::shape_len(&output.shape).unwrap();
                super::binary::read(bytes, datatype, &output.shape, elements).unwrap()
            }
            (None, Some(data)) => json_data(datatype, data.get()),
            _ => panic!("output {} has both or neither of data and binary_data_size", output.name),
        };
        outputs.push((output.name.clone(), Tensor::new(output.shape.clone(), data)));
    }
    assert!(binary.is_empty());
    (response, outputs)
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in vec(any::<u8>(), 0..300), json_len in proptest::option::of("\\PC{0,8}|[0-9]{1,3}")) {
        decode_any(&body, json_len.as_deref());
    }

    #[test]
    fn structured_json_never_panics(
        (json, json_len) in request_json().prop_flat_map(|json| { let len = json.len(); (Just(json), header(len)) }),
        tail in vec(any::<u8>(), 0..40),
    ) {
        decode_any(json.as_bytes(), None);
        decode_any(&[json.as_bytes(), &tail].concat(), json_len.as_deref());
    }

    #[test]
    fn damaged_binary_requests_never_panic(
        tensors in vec((tensor(), Just(Form::Binary)), 1..4),
        damage in vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        shift in -3i64..4,
    ) {
        let inputs: Vec<(String, Tensor, Form)> =
            named(tensors, "in").into_iter().map(|(name, (tensor, form))| (name, tensor, form)).collect();
        let (mut body, json_len) = request_body(None, &inputs, None, Some(true));
        let json_len = json_len.unwrap();
        let start: usize = json_len.parse().unwrap();
        if body.len() > start {
            for (at, byte) in &damage {
                let at = start + at.index(body.len() - start);
                body[at] = *byte;
            }
        }
        decode_any(&body, Some(&json_len));
        let shifted = (start as i64 + shift).to_string();
        decode_any(&body, Some(&shifted));
        body.truncate(cut.index(body.len() + 1));
        decode_any(&body, Some(&json_len));
    }

    #[test]
    fn requests_decode_to_the_tensors_written(
        tensors in vec((tensor(), form()), 0..5),
        outputs in proptest::option::of(vec(proptest::option::of(any::<bool>()), 0..4)),
        binary_data_output in proptest::option::of(any::<bool>()),
        id in proptest::option::of("\\PC{0,8}"),
    ) {
        let inputs: Vec<(String, Tensor, Form)> =
            named(tensors, "in").into_iter().map(|(name, (tensor, form))| (name, tensor, form)).collect();
        let outputs = outputs.map(|outputs| named(outputs, "out"));
        let (body, json_len) = request_body(id.as_deref(), &inputs, outputs.as_deref(), binary_data_output);
        let request = decode(&body, json_len.as_deref(), Limits::default()).unwrap();
        let default = binary_data_output.unwrap_or(false);
        let expected_outputs = match outputs.filter(|outputs| !outputs.is_empty()) {
            None => RequestedOutputs::All { binary: default },
            Some(outputs) => RequestedOutputs::Named(
                outputs
                    .into_iter()
                    .map(|(name, binary)| RequestedOutput { name, binary: binary.unwrap_or(default) })
                    .collect(),
            ),
        };
        let expected = InferRequest {
            id,
            inputs: inputs.into_iter().map(|(name, tensor, _)| (name, tensor)).collect(),
            outputs: expected_outputs,
        };
        prop_assert_eq!(request, expected);
    }

    #[test]
    fn responses_read_back_to_the_tensors_encoded(
        tensors in vec((tensor(), any::<bool>()), 0..5),
        id in proptest::option::of("\\PC{0,8}"),
    ) {
        let outputs = named(tensors, "out");
        let response = InferResponse {
            model_name: "m",
            model_version: Some("1"),
            id: id.as_deref(),
            outputs: outputs
                .iter()
                .map(|(name, (tensor, binary))| ResponseOutput { name, tensor, binary: *binary })
                .collect(),
        };
        let encoded = encode(&response).unwrap();
        prop_assert_eq!(encoded.json_len.is_some(), outputs.iter().any(|(_, (_, binary))| *binary));
        let (json, read) = read_response(&encoded);
        prop_assert_eq!(json.model_name, "m");
        prop_assert_eq!(json.id, id);
        let expected: Vec<(String, Tensor)> = outputs.into_iter().map(|(name, (tensor, _))| (name, tensor)).collect();
        prop_assert_eq!(read, expected);
    }
}
