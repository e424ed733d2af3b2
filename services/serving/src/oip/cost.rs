//! What the codec costs per request: decode + encode of a one-row, 30-feature FP32 request and
//! its classifier response (a label and two probabilities), as KServe sends it (JSON both ways)
//! and as tritonclient does (binary both ways). A measurement, not a check:
//! `cargo test -p cairn-serving --release oip::cost -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::Instant;

use cairn_runtime::{Tensor, TensorData};

use super::{InferResponse, Limits, ResponseOutput, decode, encode};

const ROUNDS: u32 = 200_000;

fn features() -> Vec<f32> {
    (0..30).map(|index| index as f32 * 0.37 - 4.1).collect()
}

fn json_request() -> Vec<u8> {
    let data: Vec<String> = features().iter().map(|value| f64::from(*value).to_string()).collect();
    format!(
        r#"{{"id":"5b1f6f0e-1c2d-4e55-9d0a-6f0a3c1d2e4f","model_name":"forest","inputs":[{{"name":"input","shape":[1,30],"datatype":"FP32","data":[{}]}}]}}"#,
        data.join(",")
    )
    .into_bytes()
}

fn binary_request() -> (Vec<u8>, String) {
    let json = r#"{"inputs":[{"name":"input","shape":[1,30],"datatype":"FP32","parameters":{"binary_data_size":120}}],"parameters":{"binary_data_output":true}}"#;
    let mut body = json.as_bytes().to_vec();
    body.extend(features().iter().flat_map(|value| value.to_le_bytes()));
    (body, json.len().to_string())
}

/// Nanoseconds per round of `round`.
fn time(mut round: impl FnMut()) -> f64 {
    for _ in 0..ROUNDS / 10 {
        round();
    }
    let start = Instant::now();
    for _ in 0..ROUNDS {
        round();
    }
    start.elapsed().as_nanos() as f64 / f64::from(ROUNDS)
}

#[test]
#[ignore = "a measurement, not a check; run it with --release --ignored --nocapture"]
fn decode_and_encode_one_row() {
    let label = Tensor::new(vec![1], TensorData::Int64(vec![1]));
    let probabilities = Tensor::new(vec![1, 2], TensorData::Fp32(vec![0.31, 0.69]));
    let json = json_request();
    let (binary, json_len) = binary_request();
    for (form, body, header) in [("JSON", &json, None), ("binary", &binary, Some(json_len.as_str()))] {
        let outputs = |binary| {
            vec![
                ResponseOutput { name: "label", tensor: &label, binary },
                ResponseOutput { name: "probabilities", tensor: &probabilities, binary },
            ]
        };
        let response = InferResponse {
            model_name: "forest",
            model_version: Some("3"),
            id: None,
            outputs: outputs(header.is_some()),
        };
        let decoding = time(|| {
            black_box(decode(black_box(body), header, Limits::default()).unwrap());
        });
        let encoding = time(|| {
            black_box(encode(black_box(&response)).unwrap());
        });
        let both = time(|| {
            let request = decode(black_box(body), header, Limits::default()).unwrap();
            let response = InferResponse {
                model_name: "forest",
                model_version: Some("3"),
                id: request.id.as_deref(),
                outputs: outputs(header.is_some()),
            };
            black_box(encode(&response).unwrap());
        });
        println!(
            "{form}: decode {decoding:.0} ns, encode {encoding:.0} ns, both {both:.0} ns per request ({} request bytes)",
            body.len()
        );
    }
}
