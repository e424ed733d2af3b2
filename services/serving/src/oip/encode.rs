//! An infer response into its body: the JSON (written by serde_json straight from the tensors'
//! slices, no tree of values in between), then the binary outputs' bytes in the order of the
//! JSON's `outputs`, which is how tritonclient and KServe find each one's offset.

use cairn_runtime::TensorData;
use serde::{Serialize, Serializer};

use super::{Encoded, InferResponse, OipError, binary};

#[derive(Serialize)]
struct ResponseJson<'a> {
    model_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    outputs: Vec<OutputJson<'a>>,
}

#[derive(Serialize)]
struct OutputJson<'a> {
    name: &'a str,
    datatype: &'static str,
    shape: &'a [usize],
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<BinaryParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Data<'a>>,
}

#[derive(Serialize)]
struct BinaryParameters {
    binary_data_size: usize,
}

/// A tensor's elements as a flat JSON array.
struct Data<'a>(&'a TensorData);

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            TensorData::Bool(values) => values.serialize(serializer),
            TensorData::Uint8(values) => values.serialize(serializer),
            TensorData::Uint16(values) => values.serialize(serializer),
            TensorData::Uint32(values) => values.serialize(serializer),
            TensorData::Uint64(values) => values.serialize(serializer),
            TensorData::Int8(values) => values.serialize(serializer),
            TensorData::Int16(values) => values.serialize(serializer),
            TensorData::Int32(values) => values.serialize(serializer),
            TensorData::Int64(values) => values.serialize(serializer),
            TensorData::Fp32(values) => values.serialize(serializer),
            TensorData::Fp64(values) => values.serialize(serializer),
            TensorData::Bytes(values) => values.serialize(serializer),
        }
    }
}

/// Encodes a response. A JSON output holding NaN or an infinity is [`OipError::NonFinite`]
/// (JSON has no such numbers, and serde_json would write `null` in their place); a BYTES binary
/// output with an element of 4 GiB or more is [`OipError::TooLong`].
pub(crate) fn encode(response: &InferResponse<'_>) -> Result<Encoded, OipError> {
    let mut outputs = Vec::with_capacity(response.outputs.len());
    let mut binary_len = 0usize;
    let mut json_elements = 0usize;
    for output in &response.outputs {
        let data = &output.tensor.data;
        let (parameters, json_data) = if output.binary {
            let size =
                binary::size(data).ok_or_else(|| OipError::TooLong { name: output.name.to_owned() })?;
            binary_len = binary_len.saturating_add(size);
            (Some(BinaryParameters { binary_data_size: size }), None)
        } else {
            if !finite(data) {
                return Err(OipError::NonFinite { name: output.name.to_owned() });
            }
            json_elements = json_elements.saturating_add(data.len());
            (None, Some(Data(data)))
        };
        outputs.push(OutputJson {
            name: output.name,
            datatype: data.datatype().as_str(),
            shape: &output.tensor.shape,
            parameters,
            data: json_data,
        });
    }
    let json = ResponseJson {
        model_name: response.model_name,
        model_version: response.model_version,
        id: response.id,
        outputs,
    };
    // A guess that saves regrowing: a float takes about a dozen characters.
    let mut body = Vec::with_capacity(
        256usize.saturating_add(json_elements.saturating_mul(12)).saturating_add(binary_len),
    );
    super::write_json(&mut body, &json);
    if !response.outputs.iter().any(|output| output.binary) {
        return Ok(Encoded { body, json_len: None });
    }
    let json_len = body.len();
    for output in response.outputs.iter().filter(|output| output.binary) {
        binary::write(&output.tensor.data, &mut body);
    }
    Ok(Encoded { body, json_len: Some(json_len) })
}

fn finite(data: &TensorData) -> bool {
    match data {
        TensorData::Fp32(values) => values.iter().all(|value| value.is_finite()),
        TensorData::Fp64(values) => values.iter().all(|value| value.is_finite()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use cairn_runtime::{Tensor, TensorData};

    use crate::oip::{Encoded, InferResponse, OipError, ResponseOutput, encode};

    fn response<'a>(outputs: &'a [(&'a str, Tensor, bool)]) -> InferResponse<'a> {
        InferResponse {
            model_name: "iris",
            model_version: Some("3"),
            id: Some("42"),
            outputs: outputs
                .iter()
                .map(|(name, tensor, binary)| ResponseOutput { name, tensor, binary: *binary })
                .collect(),
        }
    }

    fn label() -> Tensor {
        Tensor::new(vec![2], TensorData::Int64(vec![1, 0]))
    }

    fn probabilities() -> Tensor {
        Tensor::new(vec![2, 2], TensorData::Fp32(vec![0.25, 0.75, 1.0, 0.1]))
    }

    #[test]
    fn writes_json_outputs_flat_in_the_requested_order() {
        let outputs = [("probabilities", probabilities(), false), ("label", label(), false)];
        let Encoded { body, json_len } = encode(&response(&outputs)).unwrap();
        assert_eq!(json_len, None);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"model_name":"iris","model_version":"3","id":"42","outputs":[{"name":"probabilities","datatype":"FP32","shape":[2,2],"data":[0.25,0.75,1.0,0.1]},{"name":"label","datatype":"INT64","shape":[2],"data":[1,0]}]}"#
        );
    }

    #[test]
    fn leaves_out_a_missing_version_and_id() {
        let tensor = Tensor::new(vec![2], TensorData::Bytes(vec!["a\"b".to_owned(), "é".to_owned()]));
        let response = InferResponse {
            model_name: "m",
            model_version: None,
            id: None,
            outputs: vec![ResponseOutput { name: "s", tensor: &tensor, binary: false }],
        };
        assert_eq!(
            String::from_utf8(encode(&response).unwrap().body).unwrap(),
            r#"{"model_name":"m","outputs":[{"name":"s","datatype":"BYTES","shape":[2],"data":["a\"b","é"]}]}"#
        );
    }

    #[test]
    fn puts_binary_outputs_after_the_json_in_outputs_order() {
        let strings = Tensor::new(vec![2], TensorData::Bytes(vec!["paris".to_owned(), String::new()]));
        let flags = Tensor::new(vec![3], TensorData::Bool(vec![true, false, true]));
        let outputs = [
            ("probabilities", probabilities(), true),
            ("label", label(), false),
            ("city", strings, true),
            ("flags", flags, true),
        ];
        let Encoded { body, json_len } = encode(&response(&outputs)).unwrap();
        let json_len = json_len.unwrap();
        assert_eq!(
            std::str::from_utf8(&body[..json_len]).unwrap(),
            r#"{"model_name":"iris","model_version":"3","id":"42","outputs":[{"name":"probabilities","datatype":"FP32","shape":[2,2],"parameters":{"binary_data_size":16}},{"name":"label","datatype":"INT64","shape":[2],"data":[1,0]},{"name":"city","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":13}},{"name":"flags","datatype":"BOOL","shape":[3],"parameters":{"binary_data_size":3}}]}"#
        );
        let probabilities: Vec<u8> = [0.25f32, 0.75, 1.0, 0.1].iter().flat_map(|v| v.to_le_bytes()).collect();
        let expected = [&probabilities[..], b"\x05\x00\x00\x00paris\x00\x00\x00\x00", &[1, 0, 1]].concat();
        assert_eq!(&body[json_len..], expected.as_slice());
    }

    #[test]
    fn an_empty_binary_output_still_sets_the_header() {
        let outputs = [("none", Tensor::new(vec![0, 3], TensorData::Fp32(Vec::new())), true)];
        let Encoded { body, json_len } = encode(&response(&outputs)).unwrap();
        assert_eq!(json_len, Some(body.len()));
        assert!(std::str::from_utf8(&body).unwrap().contains(r#""parameters":{"binary_data_size":0}"#));
    }

    #[test]
    fn refuses_non_finite_json_values_but_sends_them_as_binary() {
        // What the guard is for: serde_json would write NaN and infinities as null.
        assert_eq!(serde_json::to_string(&[f32::NAN, f32::INFINITY]).unwrap(), "[null,null]");
        for value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let outputs = [
                ("label", label(), false),
                ("p", Tensor::new(vec![2], TensorData::Fp32(vec![0.5, value])), false),
            ];
            let error = encode(&response(&outputs)).unwrap_err();
            assert_eq!(error, OipError::NonFinite { name: "p".to_owned() });
            assert_eq!(error.to_string(), "output `p` has non-finite values; request it as binary_data");
        }
        let outputs = [("p", Tensor::new(vec![1], TensorData::Fp64(vec![f64::NAN])), false)];
        assert!(matches!(encode(&response(&outputs)), Err(OipError::NonFinite { .. })));
        let outputs = [("p", Tensor::new(vec![1], TensorData::Fp64(vec![f64::NEG_INFINITY])), true)];
        let Encoded { body, json_len } = encode(&response(&outputs)).unwrap();
        assert_eq!(&body[json_len.unwrap()..], f64::NEG_INFINITY.to_le_bytes());
    }
}
