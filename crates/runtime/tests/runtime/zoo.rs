use cairn_runtime::{ClassLabels, DataType, PortKind, SessionOptions, TensorData};
use serde_json::Value;

use crate::{Case, tensor};

/// The largest difference allowed between a float Rust computed and the one Python computed.
const TOLERANCE: f64 = 1e-5;

#[test]
fn every_zoo_model_describes_itself_and_scores_as_onnxruntime_in_python() {
    let cases = Case::all();
    assert!(cases.len() >= 10, "the zoo wrote only {} models", cases.len());
    let mut problems = Vec::new();
    let mut label_kinds = Vec::new();
    for case in &cases {
        let model = case.model(&SessionOptions::default());
        problems.extend(signature_problems(case, model.signature()));
        let outputs = match model.run(&case.inputs()) {
            Ok(outputs) => outputs,
            Err(error) => {
                problems.push(format!("{}: {error}", case.name));
                continue;
            }
        };
        let expected = case.expected["outputs"].as_array().unwrap();
        let names: Vec<&str> = outputs.iter().map(|output| output.name.as_str()).collect();
        let expected_names: Vec<&str> =
            expected.iter().map(|output| output["name"].as_str().unwrap()).collect();
        if names != expected_names {
            problems.push(format!("{}: outputs {names:?}, Python gave {expected_names:?}", case.name));
            continue;
        }
        for (output, json) in outputs.iter().zip(expected) {
            let at = format!("{} output {}", case.name, output.name);
            let (_, wanted) = tensor(json);
            if (output.tensor.datatype(), &output.tensor.shape) != (wanted.datatype(), &wanted.shape) {
                problems.push(format!(
                    "{at}: {} {:?}, Python gave {} {:?}",
                    output.tensor.datatype(),
                    output.tensor.shape,
                    wanted.datatype(),
                    wanted.shape
                ));
                continue;
            }
            if let Some(difference) = difference(&output.tensor.data, &wanted.data) {
                problems.push(format!("{at}: {difference}"));
            }
            let classes = json.get("classes").map(labels);
            if output.classes != classes {
                problems.push(format!("{at}: classes {:?}, Python gave {classes:?}", output.classes));
            }
            label_kinds.extend(output.classes.as_ref().map(ClassLabels::datatype));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    // The zoo has ZipMap outputs keyed by integers and by strings: both paths were taken.
    assert!(
        label_kinds.contains(&DataType::Int64) && label_kinds.contains(&DataType::Bytes),
        "{label_kinds:?}"
    );
}

/// What differs between the model's signature and the tensors Python fed and got.
fn signature_problems(case: &Case, signature: &cairn_runtime::Signature) -> Vec<String> {
    let mut problems = Vec::new();
    let inputs = case.expected["inputs"].as_array().unwrap();
    let outputs = case.expected["outputs"].as_array().unwrap();
    if signature.inputs.len() != inputs.len() || signature.outputs.len() != outputs.len() {
        problems.push(format!(
            "{}: signature {signature:?} against {} inputs and {} outputs",
            case.name,
            inputs.len(),
            outputs.len()
        ));
    }
    let ports = inputs.iter().map(|json| (json, true)).chain(outputs.iter().map(|json| (json, false)));
    for (json, is_input) in ports {
        let (name, tensor) = tensor(json);
        let port = if is_input { signature.input(&name) } else { signature.output(&name) };
        let fits = match port.map(|port| &port.kind) {
            // An output's fixed dimensions are only what the exporter declared: LightGBM's
            // converter declares its label [1] and returns [rows]. Python's onnxruntime reports the
            // same; the runtime returns what the model computed.
            Some(PortKind::Tensor { datatype, shape }) => {
                *datatype == tensor.datatype()
                    && shape.len() == tensor.shape.len()
                    && (!is_input
                        || shape
                            .iter()
                            .zip(&tensor.shape)
                            .all(|(dim, got)| dim.is_none_or(|dim| dim == *got)))
                    && json.get("classes").is_none()
            }
            Some(PortKind::SequenceOfMaps { key, classes }) => {
                json.get("classes").is_some_and(|classes_json| {
                    let wanted = labels(classes_json);
                    *key == wanted.datatype() && classes.as_ref() == Some(&wanted)
                })
            }
            None => false,
        };
        if !fits {
            problems.push(format!(
                "{}: `{name}` is {port:?} in the signature; Python: {}",
                case.name,
                short(json)
            ));
        }
    }
    problems
}

fn labels(json: &Value) -> ClassLabels {
    let labels = json.as_array().unwrap();
    if labels.iter().all(Value::is_i64) {
        ClassLabels::Int64(labels.iter().map(|label| label.as_i64().unwrap()).collect())
    } else {
        ClassLabels::Bytes(labels.iter().map(|label| label.as_str().unwrap().to_owned()).collect())
    }
}

fn short(json: &Value) -> String {
    format!("{} {} {}", json["name"], json["datatype"], json["shape"])
}

/// Floats agree within the tolerance, everything else exactly.
fn difference(got: &TensorData, wanted: &TensorData) -> Option<String> {
    let floats = |got: Vec<f64>, wanted: Vec<f64>| {
        got.iter().zip(&wanted).enumerate().find_map(|(index, (got, wanted))| {
            ((got - wanted).abs() > TOLERANCE || got.is_nan() != wanted.is_nan())
                .then(|| format!("element {index}: {got}, Python gave {wanted}"))
        })
    };
    match (got, wanted) {
        (TensorData::Fp32(got), TensorData::Fp32(wanted)) => floats(
            got.iter().map(|&v| f64::from(v)).collect(),
            wanted.iter().map(|&v| f64::from(v)).collect(),
        ),
        (TensorData::Fp64(got), TensorData::Fp64(wanted)) => floats(got.clone(), wanted.clone()),
        (got, wanted) => (got != wanted).then(|| format!("{got:?}, Python gave {wanted:?}")),
    }
}
