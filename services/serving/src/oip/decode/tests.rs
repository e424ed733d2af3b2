use cairn_runtime::{Tensor, TensorData};

use crate::oip::{InferRequest, Limits, OipError, RequestedOutput, RequestedOutputs, decode};

fn decoded(body: &[u8], json_len: Option<&str>) -> InferRequest {
    decode(body, json_len, Limits::default()).unwrap()
}

/// The JSON followed by binary data, and the header value that says where the JSON ends.
fn with_binary(json: &str, binary: &[u8]) -> (Vec<u8>, String) {
    ([json.as_bytes(), binary].concat(), json.len().to_string())
}

fn input(name: &str, shape: &[usize], data: TensorData) -> (String, Tensor) {
    (name.to_owned(), Tensor::new(shape.to_vec(), data))
}

fn le_f32(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|value| value.to_le_bytes()).collect()
}

/// tritonclient.http 2.73.0's default `client.infer("m", [x, s])`, byte for byte as it was seen
/// on the wire: binary inputs, no `outputs`, every output asked for as binary.
fn tritonclient_default() -> Vec<u8> {
    let json = br#"{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","parameters":{"binary_data_size":16}},{"name":"s","shape":[2,1],"datatype":"BYTES","parameters":{"binary_data_size":17}}],"parameters":{"binary_data_output":true}}"#;
    assert_eq!(json.len(), 218);
    let mut body = json.to_vec();
    body.extend([
        0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x40, 0x40, 0x00, 0x00, 0x80, 0x40,
    ]);
    body.extend(b"\x05\x00\x00\x00paris\x04\x00\x00\x00lyon");
    assert_eq!(body.len(), 251);
    body
}

#[test]
fn reads_tritonclients_default_request() {
    let request = decoded(&tritonclient_default(), Some("218"));
    assert_eq!(
        request,
        InferRequest {
            id: None,
            inputs: vec![
                input("x", &[2, 2], TensorData::Fp32(vec![1.0, 2.0, 3.0, 4.0])),
                input("s", &[2, 1], TensorData::Bytes(vec!["paris".to_owned(), "lyon".to_owned()])),
            ],
            outputs: RequestedOutputs::All { binary: true },
        }
    );
    // Header values are trimmed; their case and Content-Type are the handler's business.
    assert_eq!(decoded(&tritonclient_default(), Some(" 218 ")), request);
}

#[test]
fn reads_kserves_json_with_model_name_and_nested_data() {
    let body = br#"{"id": "5b1f6f0e-1c2d-4e55-9d0a-6f0a3c1d2e4f", "model_name": "m", "inputs": [
        {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1.0, 2.5], [3.0, 4.0]]},
        {"name": "n", "shape": [2], "datatype": "FP32", "data": [1, 2]}]}"#;
    let request = decoded(body, None);
    assert_eq!(request.id.as_deref(), Some("5b1f6f0e-1c2d-4e55-9d0a-6f0a3c1d2e4f"));
    assert_eq!(
        request.inputs,
        vec![
            input("x", &[2, 2], TensorData::Fp32(vec![1.0, 2.5, 3.0, 4.0])),
            input("n", &[2], TensorData::Fp32(vec![1.0, 2.0])),
        ]
    );
    // KServe never asks for binary outputs unless told to.
    assert_eq!(request.outputs, RequestedOutputs::All { binary: false });
}

#[test]
fn reads_kserves_binary_inputs() {
    let json = r#"{"id":"1","model_name":"m","inputs":[{"name":"x","shape":[1,2],"datatype":"INT64","parameters":{"binary_data_size":16}}]}"#;
    let binary: Vec<u8> = [7i64, -1].iter().flat_map(|value| value.to_le_bytes()).collect();
    let (body, json_len) = with_binary(json, &binary);
    assert_eq!(
        decoded(&body, Some(&json_len)).inputs,
        vec![input("x", &[1, 2], TensorData::Int64(vec![7, -1]))]
    );
}

#[test]
fn reads_every_datatype_from_json() {
    let body = r#"{"inputs":[
        {"name":"b","shape":[2],"datatype":"BOOL","data":[true,false]},
        {"name":"u8","shape":[2],"datatype":"UINT8","data":[0,255]},
        {"name":"u16","shape":[1],"datatype":"UINT16","data":[65535]},
        {"name":"u32","shape":[1],"datatype":"UINT32","data":[4294967295]},
        {"name":"u64","shape":[1],"datatype":"UINT64","data":[18446744073709551615]},
        {"name":"i8","shape":[2],"datatype":"INT8","data":[-128,127]},
        {"name":"i16","shape":[1],"datatype":"INT16","data":[-32768]},
        {"name":"i32","shape":[1],"datatype":"INT32","data":[-2147483648]},
        {"name":"i64","shape":[1],"datatype":"INT64","data":[-9223372036854775808]},
        {"name":"f32","shape":[3],"datatype":"FP32","data":[0.1,-3e38,1.5e-45]},
        {"name":"f64","shape":[2],"datatype":"FP64","data":[1e300,-0.5]},
        {"data":["caf\u00e9","\u00e9t\u00e9 \"x\""],"name":"s","shape":[1,2],"datatype":"BYTES"}]}"#;
    let inputs = decoded(body.as_bytes(), None).inputs;
    let data: Vec<TensorData> = inputs.into_iter().map(|(_, tensor)| tensor.data).collect();
    assert_eq!(
        data,
        vec![
            TensorData::Bool(vec![true, false]),
            TensorData::Uint8(vec![0, 255]),
            TensorData::Uint16(vec![65535]),
            TensorData::Uint32(vec![u32::MAX]),
            TensorData::Uint64(vec![u64::MAX]),
            TensorData::Int8(vec![-128, 127]),
            TensorData::Int16(vec![i16::MIN]),
            TensorData::Int32(vec![i32::MIN]),
            TensorData::Int64(vec![i64::MIN]),
            TensorData::Fp32(vec![0.1, -3e38, 1.5e-45]),
            TensorData::Fp64(vec![1e300, -0.5]),
            TensorData::Bytes(vec!["café".to_owned(), "été \"x\"".to_owned()]),
        ]
    );
}

#[test]
fn reads_bool_and_empty_binary_inputs() {
    let json = r#"{"inputs":[{"name":"b","shape":[3],"datatype":"BOOL","parameters":{"binary_data_size":3}},{"name":"e","shape":[0,4],"datatype":"FP32","parameters":{"binary_data_size":0}},{"name":"s","shape":[0],"datatype":"BYTES","parameters":{"binary_data_size":0}},{"name":"j","shape":[0],"datatype":"INT32","data":[]}]}"#;
    let (body, json_len) = with_binary(json, &[1, 0, 1]);
    assert_eq!(
        decoded(&body, Some(&json_len)).inputs,
        vec![
            input("b", &[3], TensorData::Bool(vec![true, false, true])),
            input("e", &[0, 4], TensorData::Fp32(Vec::new())),
            input("s", &[0], TensorData::Bytes(Vec::new())),
            input("j", &[0], TensorData::Int32(Vec::new())),
        ]
    );
}

#[test]
fn resolves_each_outputs_binary_choice() {
    let outputs = r#""outputs":[{"name":"a"},{"name":"b","parameters":{"binary_data":false}},{"name":"c","parameters":{"binary_data":true}}]"#;
    let inputs = r#""inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]"#;
    let named = |a, b, c| {
        RequestedOutputs::Named(vec![
            RequestedOutput { name: "a".to_owned(), binary: a },
            RequestedOutput { name: "b".to_owned(), binary: b },
            RequestedOutput { name: "c".to_owned(), binary: c },
        ])
    };
    let request = format!(r#"{{{inputs},{outputs},"parameters":{{"binary_data_output":true}}}}"#);
    assert_eq!(decoded(request.as_bytes(), None).outputs, named(true, false, true));
    let request = format!(r#"{{{inputs},{outputs}}}"#);
    assert_eq!(decoded(request.as_bytes(), None).outputs, named(false, false, true));
    // An empty list asks for nothing in particular: every output.
    let request = format!(r#"{{{inputs},"outputs":[],"parameters":{{"binary_data_output":true}}}}"#);
    assert_eq!(decoded(request.as_bytes(), None).outputs, RequestedOutputs::All { binary: true });
}

fn error(body: &[u8], json_len: Option<&str>) -> OipError {
    decode(body, json_len, Limits::default()).unwrap_err()
}

#[track_caller]
fn fails(body: &str, expected: &str) {
    let message = error(body.as_bytes(), None).to_string();
    assert!(message.contains(expected), "{body}\n gave: {message}\n expected: {expected}");
}

#[track_caller]
fn fails_binary(json: &str, binary: &[u8], expected: &str) {
    let (body, json_len) = with_binary(json, binary);
    let message = error(&body, Some(&json_len)).to_string();
    assert!(message.contains(expected), "{json}\n gave: {message}\n expected: {expected}");
}

/// One input's JSON inside a request.
fn one(input: &str) -> String {
    format!(r#"{{"inputs":[{input}]}}"#)
}

#[test]
fn malformed_bodies_and_headers_are_request_errors() {
    let triton = tritonclient_default();
    for (body, json_len, expected) in [
        (
            &b"oops"[..],
            None,
            "the body is not an inference request's JSON: expected value at line 1 column 1",
        ),
        (b"{}", None, "missing field `inputs`"),
        (b"{\"inputs\":[]} {}", None, "trailing characters"),
        (b"{\"inputs\":[{\"name\":\"\xff\"}]}", None, "invalid unicode"),
        (&triton, None, "not an inference request's JSON: trailing characters"),
        (
            &triton,
            Some("abc"),
            "Inference-Header-Content-Length is `abc`, expected the JSON's length in bytes",
        ),
        (&triton, Some("-3"), "Inference-Header-Content-Length is `-3`"),
        (
            &triton,
            Some("0"),
            "Inference-Header-Content-Length is 0 (a raw binary request), which is not supported",
        ),
        (&triton, Some("252"), "Inference-Header-Content-Length is 252, but the body has only 251 bytes"),
        (&triton, Some("217"), "not an inference request's JSON: EOF"),
        (&triton, Some("219"), "not an inference request's JSON"),
    ] {
        let error = error(body, json_len);
        assert!(matches!(error, OipError::Request(_)), "{error:?}");
        assert!(error.to_string().contains(expected), "{error}\n expected: {expected}");
    }
    let long = "9".repeat(100);
    let message = error(&triton, Some(&long)).to_string();
    assert!(message.contains(&format!("`{}…`", "9".repeat(40))), "{message}");
}

#[test]
fn bad_parameters_are_errors() {
    fails(
        r#"{"inputs":[],"parameters":{"binary_data_output":1}}"#,
        "parameters: invalid type: integer `1`, expected a boolean",
    );
    fails(r#"{"inputs":[],"parameters":[true]}"#, "parameters: expected an object");
    fails(r#"{"inputs":[],"id":42}"#, "invalid type: integer `42`, expected a string");
    fails(
        &one(r#"{"name":"x","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":"4"}}"#),
        "input `x`: parameters: invalid type: string \"4\", expected u64",
    );
    fails(
        &one(r#"{"name":"x","shape":[1],"datatype":"FP32","parameters":{"shared_memory_region":"r"}}"#),
        "input `x`: shared memory is not supported",
    );
}

#[test]
fn bad_shapes_and_datatypes_name_the_input() {
    fails(
        &one(r#"{"name":"x","shape":[2,-1],"datatype":"FP32","data":[]}"#),
        "input `x`: shape [2, -1] has dimension -1; dimensions are 0 or more",
    );
    fails(
        &one(r#"{"name":"x","shape":[2,1.5],"datatype":"FP32","data":[]}"#),
        "input `x`: shape: invalid type: floating point `1.5`, expected i64",
    );
    fails(
        &one(r#"{"name":"x","shape":"2","datatype":"FP32","data":[]}"#),
        "input `x`: shape: invalid type: string",
    );
    fails(
        &one(r#"{"name":"x","shape":[9223372036854775807,9223372036854775807],"datatype":"FP32","data":[]}"#),
        "input `x`: shape [9223372036854775807, 9223372036854775807] holds more elements than memory",
    );
    fails(
        &one(r#"{"name":"x","shape":[1],"datatype":"FP8","data":[1]}"#),
        "input `x`: datatype `FP8` is not supported; the supported datatypes are BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP32, FP64, BYTES",
    );
    fails(
        &one(r#"{"name":"x","shape":[1],"datatype":"FP16","data":[1]}"#),
        "input `x`: datatype `FP16` is not supported",
    );
    fails(
        &one(r#"{"name":"x","shape":[1],"datatype":"BF16","data":[1]}"#),
        "input `x`: datatype `BF16` is not supported",
    );
    fails(
        &one(r#"{"name":"x","shape":[1],"datatype":"fp32","data":[1]}"#),
        "input `x`: datatype `fp32` is not supported",
    );
}

#[test]
fn the_element_limit_is_checked_before_reading_data() {
    let body = one(r#"{"name":"x","shape":[1000,1000,1000],"datatype":"FP32","data":[1]}"#);
    assert_eq!(
        error(body.as_bytes(), None).to_string(),
        "input `x`: shape [1000, 1000, 1000] holds 1000000000 elements, past the limit of 16777216 elements in a request"
    );
    // The limit is for the request: two inputs of 3 pass a limit of 6 and fail one of 5.
    let body = r#"{"inputs":[{"name":"a","shape":[3],"datatype":"INT8","data":[1,2,3]},{"name":"b","shape":[3],"datatype":"INT8","data":[1,2,3]}]}"#;
    assert!(decode(body.as_bytes(), None, Limits { max_elements: 6 }).is_ok());
    let message = decode(body.as_bytes(), None, Limits { max_elements: 5 }).unwrap_err().to_string();
    assert!(message.starts_with("input `b`: shape [3] holds 3 elements, past the limit of 5"), "{message}");
}

#[test]
fn repeated_or_incomplete_inputs_are_errors() {
    fails(
        r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]},{"name":"x","shape":[1],"datatype":"FP32","data":[2]}]}"#,
        "input `x`: given more than once",
    );
    fails(
        &one(r#"{"name":"x","shape":[1],"datatype":"FP32"}"#),
        "input `x`: has neither data nor parameters.binary_data_size",
    );
    fails(&one(r#"{"name":"x","shape":[1],"datatype":"FP32","data":null}"#), "input `x`: has neither data");
    fails_binary(
        &one(r#"{"name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{"binary_data_size":4}}"#),
        &le_f32(&[1.0]),
        "input `x`: has both data and binary_data_size",
    );
    fails(&one(r#"{"shape":[1],"datatype":"FP32","data":[1]}"#), "missing field `name`");
    fails(&one(r#"{"name":"x","datatype":"FP32","data":[1]}"#), "missing field `shape`");
}

#[test]
fn json_data_must_fit_the_datatype_and_shape() {
    let data = |datatype: &str, shape: &str, data: &str| {
        one(&format!(r#"{{"name":"x","shape":{shape},"datatype":"{datatype}","data":{data}}}"#))
    };
    fails(&data("FP32", "[2,2]", "[1,2,3]"), "input `x`: shape [2, 2] holds 4 elements, data has 3");
    fails(&data("FP32", "[2,2]", "[[1,2],[3,4],[5]]"), "input `x`: data: more than the shape's 4 elements");
    fails(
        &data("FP32", "[1]", r#"["1"]"#),
        r#"input `x`: data: invalid value: string "1", expected an FP32 number, or an array of them"#,
    );
    fails(
        &data("FP32", "[1]", "[1e39]"),
        "input `x`: data: invalid value: floating point `1e+39`, expected an FP32 number",
    );
    fails(&data("FP64", "[1]", "[1e400]"), "input `x`: data: number out of range");
    fails(&data("FP32", "[1]", "[null]"), "input `x`: data: invalid type: null, expected an FP32 number");
    fails(
        &data("FP32", "[1]", r#"[{"a":1}]"#),
        "input `x`: data: invalid type: map, expected an FP32 number",
    );
    fails(
        &data("INT32", "[1]", "[1.0]"),
        "input `x`: data: invalid value: floating point `1.0`, expected an INT32 (an integer from -2147483648 to 2147483647)",
    );
    fails(
        &data("INT8", "[1]", "[300]"),
        "input `x`: data: invalid value: integer `300`, expected an INT8 (an integer from -128 to 127)",
    );
    fails(&data("UINT8", "[1]", "[-1]"), "input `x`: data: invalid value: integer `-1`, expected a UINT8");
    fails(&data("UINT64", "[1]", "[18446744073709551616]"), "input `x`: data: invalid value: floating point");
    fails(
        &data("INT64", "[1]", "[true]"),
        "input `x`: data: invalid value: boolean `true`, expected an INT64",
    );
    fails(
        &data("BOOL", "[1]", "[1]"),
        "input `x`: data: invalid value: integer `1`, expected a BOOL (true or false)",
    );
    fails(
        &data("BYTES", "[1]", "[1]"),
        "input `x`: data: invalid value: integer `1`, expected a BYTES element (a string)",
    );
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    fails(
        &format!(r#"{{"inputs":[{{"name":"x","shape":[1],"datatype":"FP32","data":{deep}}}]}}"#),
        "recursion limit exceeded",
    );
}

#[test]
fn binary_data_must_add_up() {
    let x = |size: &str| {
        one(&format!(
            r#"{{"name":"x","shape":[2,2],"datatype":"FP32","parameters":{{"binary_data_size":{size}}}}}"#
        ))
    };
    let four = le_f32(&[1.0, 2.0, 3.0, 4.0]);
    let message = error(x("16").as_bytes(), None).to_string();
    assert_eq!(
        message,
        "input `x`: has binary_data_size, but the request has no Inference-Header-Content-Length header"
    );
    fails_binary(
        &x("15"),
        &four[..15],
        "input `x`: binary_data_size is 15, but shape [2, 2] of FP32 takes 16 bytes",
    );
    fails_binary(
        &x("16"),
        &four[..12],
        "input `x`: binary_data_size is 16, but only 12 bytes of binary data are left",
    );
    fails_binary(
        &x("18446744073709551615"),
        &four,
        "input `x`: binary_data_size is 18446744073709551615, but only 16 bytes",
    );
    fails_binary(&x("-1"), &four, "input `x`: parameters: invalid value: integer `-1`, expected u64");
    fails_binary(
        &x("16"),
        &[four.as_slice(), &[0]].concat(),
        "1 bytes follow the JSON and the inputs' binary_data_size; the body must end there",
    );
    // Bytes after JSON-only inputs are as wrong.
    fails_binary(
        &one(r#"{"name":"x","shape":[1],"datatype":"INT8","data":[1]}"#),
        &[1, 2],
        "2 bytes follow the JSON",
    );
    // Binary data follows the inputs' order in the JSON: a short first input leaves the second short.
    fails_binary(
        r#"{"inputs":[{"name":"a","shape":[1],"datatype":"INT32","parameters":{"binary_data_size":4}},{"name":"b","shape":[1],"datatype":"INT64","parameters":{"binary_data_size":8}}]}"#,
        &[0; 10],
        "input `b`: binary_data_size is 8, but only 6 bytes of binary data are left",
    );
    let bools = one(r#"{"name":"b","shape":[2],"datatype":"BOOL","parameters":{"binary_data_size":2}}"#);
    fails_binary(&bools, &[1, 2], "input `b`: BOOL element 1 is the byte 2; BOOL bytes are 0 or 1");
}

#[test]
fn binary_bytes_must_be_length_prefixed_utf8() {
    let s = |shape: &str, size: usize| {
        one(&format!(
            r#"{{"name":"s","shape":{shape},"datatype":"BYTES","parameters":{{"binary_data_size":{size}}}}}"#
        ))
    };
    let two = b"\x02\x00\x00\x00ab\x01\x00\x00\x00c";
    fails_binary(
        &s("[3]", two.len()),
        two,
        "input `s`: binary data holds 2 BYTES elements, shape [3] holds 3",
    );
    fails_binary(
        &s("[1]", two.len()),
        two,
        "input `s`: binary data holds more than the 1 BYTES elements of shape [1]",
    );
    fails_binary(
        &s("[2]", 10),
        &two[..10],
        "input `s`: BYTES element 1 is 1 bytes long, but only 0 are left",
    );
    fails_binary(
        &s("[2]", 8),
        &two[..8],
        "input `s`: BYTES element 1: 2 bytes left, too few for its 4-byte length",
    );
    fails_binary(
        &s("[1]", 8),
        b"\xff\xff\xff\xffabcd",
        "input `s`: BYTES element 0 is 4294967295 bytes long, but only 4 are left",
    );
    fails_binary(
        &s("[1]", 6),
        b"\x02\x00\x00\x00\xc3\x28",
        "input `s`: BYTES element 0 is not UTF-8; the server takes BYTES as text",
    );
}

#[test]
fn requested_outputs_must_be_distinct_and_plain() {
    let with = |outputs: &str| format!(r#"{{"inputs":[],"outputs":{outputs}}}"#);
    fails(&with(r#"[{"name":"p"},{"name":"p"}]"#), "output `p`: requested more than once");
    fails(
        &with(r#"[{"name":"p","parameters":{"classification":2}}]"#),
        "output `p`: the classification extension is not supported; request the output's values",
    );
    fails(
        &with(r#"[{"name":"p","parameters":{"shared_memory_region":"r"}}]"#),
        "output `p`: shared memory is not supported",
    );
    fails(
        &with(r#"[{"name":"p","parameters":{"binary_data":"yes"}}]"#),
        r#"output `p`: parameters: invalid type: string "yes", expected a boolean"#,
    );
    fails(&with(r#"[{"parameters":{}}]"#), "missing field `name`");
    assert!(matches!(
        error(with(r#"[{"name":"p"},{"name":"p"}]"#).as_bytes(), None),
        OipError::Output { name, .. } if name == "p"
    ));
}
