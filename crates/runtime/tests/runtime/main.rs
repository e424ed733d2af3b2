//! The runtime against ONNX Runtime in Python: every model of the zoo (`tests/python/model_zoo.py`,
//! run with the test Python) loads, describes itself and scores as Python's onnxruntime scored it,
//! from the same shared library; bad models, bad inputs and a missing library are clear errors.

#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

mod concurrency;
mod cost;
mod errors;
mod zoo;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use cairn_runtime::{Model, Runtime, RuntimeConfig, SessionOptions, Tensor, TensorData};
use serde_json::Value;

fn runtime() -> Runtime {
    Runtime::init(&RuntimeConfig { library: Some(cairn_testkit::onnxruntime_library().to_owned()) }).unwrap()
}

/// The zoo's models and expected outputs, written once per test process.
fn zoo() -> &'static Path {
    static ZOO: OnceLock<tempfile::TempDir> = OnceLock::new();
    ZOO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/model_zoo.py");
        let output = Command::new(cairn_testkit::python()).arg(script).arg(dir.path()).output().unwrap();
        assert!(
            output.status.success(),
            "model_zoo.py failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        dir
    })
    .path()
}

/// One zoo model: its bytes and what Python's onnxruntime made of its inputs.
struct Case {
    name: String,
    onnx: Vec<u8>,
    expected: Value,
}

impl Case {
    fn read(name: &str) -> Case {
        let onnx = std::fs::read(zoo().join(format!("{name}.onnx"))).unwrap();
        let expected =
            serde_json::from_slice(&std::fs::read(zoo().join(format!("{name}.json"))).unwrap()).unwrap();
        Case { name: name.to_owned(), onnx, expected }
    }

    fn all() -> Vec<Case> {
        let mut names: Vec<String> = std::fs::read_dir(zoo())
            .unwrap()
            .filter_map(|entry| {
                let path = entry.unwrap().path();
                let stem = path.file_stem()?.to_str()?.to_owned();
                (path.extension()? == "json").then_some(stem)
            })
            .collect();
        names.sort();
        names.iter().map(|name| Case::read(name)).collect()
    }

    fn model(&self, options: &SessionOptions) -> Model {
        Model::load(&runtime(), &self.onnx, options).unwrap()
    }

    fn inputs(&self) -> Vec<(String, Tensor)> {
        self.expected["inputs"].as_array().unwrap().iter().map(tensor).collect()
    }
}

/// An Open Inference Protocol JSON tensor.
fn tensor(json: &Value) -> (String, Tensor) {
    let shape = json["shape"].as_array().unwrap().iter().map(|dim| dim.as_u64().unwrap() as usize).collect();
    let values = json["data"].as_array().unwrap().iter();
    let data = match json["datatype"].as_str().unwrap() {
        "FP32" => TensorData::Fp32(values.map(|value| value.as_f64().unwrap() as f32).collect()),
        "FP64" => TensorData::Fp64(values.map(|value| value.as_f64().unwrap()).collect()),
        "INT64" => TensorData::Int64(values.map(|value| value.as_i64().unwrap()).collect()),
        "INT32" => TensorData::Int32(values.map(|value| value.as_i64().unwrap() as i32).collect()),
        "BOOL" => TensorData::Bool(values.map(|value| value.as_bool().unwrap()).collect()),
        "BYTES" => TensorData::Bytes(values.map(|value| value.as_str().unwrap().to_owned()).collect()),
        other => panic!("the zoo wrote a {other} tensor"),
    };
    (json["name"].as_str().unwrap().to_owned(), Tensor { shape, data })
}

/// Rows `[rows, width]` of an FP32 tensor, one `Vec` each.
fn rows(tensor: &Tensor) -> Vec<Vec<f32>> {
    let TensorData::Fp32(values) = &tensor.data else { panic!("not FP32: {:?}", tensor.datatype()) };
    let width = tensor.shape[1..].iter().product::<usize>().max(1);
    values.chunks(width).map(<[f32]>::to_vec).collect()
}
