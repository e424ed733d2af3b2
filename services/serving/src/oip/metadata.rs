//! The bodies of the protocol's metadata and health endpoints, and of its errors. KServe's
//! client reads `live` and `ready` from the health bodies, so they are never empty.

use cairn_runtime::{Port, PortKind, Signature};
use serde::Serialize;

/// `GET /v2/health/live` when live.
pub(crate) const LIVE: &[u8] = br#"{"live":true}"#;
/// `GET /v2/health/ready` when ready.
pub(crate) const READY: &[u8] = br#"{"ready":true}"#;

/// The binary tensor data extension, under the name Triton announces it by.
const EXTENSIONS: [&str; 1] = ["binary_tensor_data"];

/// What Triton reports for an ONNX model; clients show it, none branch on it.
const PLATFORM: &str = "onnxruntime_onnx";

#[derive(Serialize)]
struct ServerMetadata<'a> {
    name: &'a str,
    version: &'a str,
    extensions: [&'static str; 1],
}

#[derive(Serialize)]
struct ModelMetadata<'a> {
    name: &'a str,
    versions: Vec<&'a str>,
    platform: &'static str,
    inputs: Vec<PortJson<'a>>,
    outputs: Vec<PortJson<'a>>,
}

#[derive(Serialize)]
struct PortJson<'a> {
    name: &'a str,
    datatype: &'static str,
    shape: Vec<i64>,
}

#[derive(Serialize)]
struct ModelReady<'a> {
    name: &'a str,
    ready: bool,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

/// `GET /v2`.
pub(crate) fn server_metadata(name: &str, version: &str) -> Vec<u8> {
    json(&ServerMetadata { name, version, extensions: EXTENSIONS })
}

/// `GET /v2/models/{name}[/versions/{v}]`: versions as strings, open dimensions as -1, a ZipMap
/// output as the `FP32 [-1, classes]` tensor the runtime turns it into.
pub(crate) fn model_metadata(name: &str, versions: &[impl AsRef<str>], signature: &Signature) -> Vec<u8> {
    json(&ModelMetadata {
        name,
        versions: versions.iter().map(AsRef::as_ref).collect(),
        platform: PLATFORM,
        inputs: signature.inputs.iter().map(port).collect(),
        outputs: signature.outputs.iter().map(port).collect(),
    })
}

/// `GET /v2/models/{name}[/versions/{v}]/ready` when ready.
pub(crate) fn model_ready(name: &str) -> Vec<u8> {
    json(&ModelReady { name, ready: true })
}

/// Any error: clients read the message from `error` (KServe's only when the content type is
/// exactly `application/json`).
pub(crate) fn error_body(message: &str) -> Vec<u8> {
    json(&ErrorBody { error: message })
}

fn port(port: &Port) -> PortJson<'_> {
    let dim = |dim: Option<usize>| dim.and_then(|dim| i64::try_from(dim).ok()).unwrap_or(-1);
    let (datatype, shape) = match &port.kind {
        PortKind::Tensor { datatype, shape } => (*datatype, shape.iter().copied().map(dim).collect()),
        PortKind::SequenceOfMaps { classes, .. } => {
            (cairn_runtime::DataType::Fp32, vec![-1, dim(classes.as_ref().map(|classes| classes.len()))])
        }
    };
    PortJson { name: &port.name, datatype: datatype.as_str(), shape }
}

fn json(value: &impl Serialize) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    super::write_json(&mut out, value);
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cairn_runtime::{ClassLabels, DataType, Port, PortKind, Signature};

    use crate::oip::{LIVE, READY, error_body, model_metadata, model_ready, server_metadata};

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn server_metadata_announces_binary_data() {
        assert_eq!(
            text(&server_metadata("cairn", "0.1.0")),
            r#"{"name":"cairn","version":"0.1.0","extensions":["binary_tensor_data"]}"#
        );
    }

    #[test]
    fn model_metadata_has_open_dimensions_as_minus_one_and_zipmaps_as_fp32() {
        let tensor = |name: &str, datatype, shape: Vec<Option<usize>>| Port {
            name: name.to_owned(),
            kind: PortKind::Tensor { datatype, shape },
        };
        let signature = Signature {
            inputs: vec![tensor("input", DataType::Fp32, vec![None, Some(4)])],
            outputs: vec![
                tensor("label", DataType::Int64, vec![None]),
                Port {
                    name: "probabilities".to_owned(),
                    kind: PortKind::SequenceOfMaps {
                        key: DataType::Int64,
                        classes: Some(ClassLabels::Int64(Arc::from([0, 1, 2]))),
                    },
                },
                Port {
                    name: "unlabelled".to_owned(),
                    kind: PortKind::SequenceOfMaps { key: DataType::Bytes, classes: None },
                },
            ],
        };
        assert_eq!(
            text(&model_metadata("iris", &["3"], &signature)),
            r#"{"name":"iris","versions":["3"],"platform":"onnxruntime_onnx","inputs":[{"name":"input","datatype":"FP32","shape":[-1,4]}],"outputs":[{"name":"label","datatype":"INT64","shape":[-1]},{"name":"probabilities","datatype":"FP32","shape":[-1,3]},{"name":"unlabelled","datatype":"FP32","shape":[-1,-1]}]}"#
        );
    }

    #[test]
    fn health_ready_and_error_bodies() {
        assert_eq!(text(LIVE), r#"{"live":true}"#);
        assert_eq!(text(READY), r#"{"ready":true}"#);
        assert_eq!(text(&model_ready("iris")), r#"{"name":"iris","ready":true}"#);
        assert_eq!(text(&error_body("model \"x\" not found")), r#"{"error":"model \"x\" not found"}"#);
    }
}
