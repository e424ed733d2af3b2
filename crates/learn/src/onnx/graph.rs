//! The graph every export shares: one `[N, 1]` float input per feature, named as the feature,
//! concatenated into `[N, F]` for the one ONNX-ML operator that scores it.

use prost::Message;

use super::proto::{
    AttributeProto, AttributeType, Dimension, DimensionValue, FLOAT, GraphProto, INT64, ModelProto,
    NodeProto, OperatorSetIdProto, STRING, StringStringEntryProto, TensorShapeProto, TensorTypeProto,
    TypeProto, ValueInfoProto,
};
use crate::{ClassLabels, Task};

/// IR version 8 (ONNX 1.10) carries opset 17, and every ONNX Runtime from 1.10 reads it.
const IR_VERSION: i64 = 8;
const OPSET: i64 = 17;
const ML_OPSET: i64 = 3;
const ML_DOMAIN: &str = "ai.onnx.ml";

/// The ONNX-ML operator scoring the concatenated features, and what the model says about itself.
pub(crate) struct Scorer {
    pub(crate) op_type: &'static str,
    pub(crate) attributes: Vec<AttributeProto>,
    pub(crate) task: Task,
    pub(crate) labels: Option<ClassLabels>,
    pub(crate) metadata: Vec<(&'static str, String)>,
}

pub(crate) fn model(features: &[String], scorer: Scorer) -> Vec<u8> {
    // The concatenation's name must not be a feature's.
    let mut concatenated = "features".to_owned();
    while features.contains(&concatenated) {
        concatenated.push('_');
    }
    let concat = NodeProto {
        input: features.to_vec(),
        output: vec![concatenated.clone()],
        name: "concat".into(),
        op_type: "Concat".into(),
        attribute: vec![int("axis", 1)],
        domain: String::new(),
    };
    let (outputs, output_names) = match (scorer.task, &scorer.labels) {
        (Task::Regression, _) => (vec![value_info("variable", FLOAT, &[rows(), fixed(1)])], vec!["variable"]),
        (_, labels) => {
            let label_type = if matches!(labels, Some(ClassLabels::Strings(_))) { STRING } else { INT64 };
            let classes = labels.as_ref().map_or(2, ClassLabels::len) as i64;
            (
                vec![
                    value_info("label", label_type, &[rows()]),
                    value_info("probabilities", FLOAT, &[rows(), fixed(classes)]),
                ],
                vec!["label", "probabilities"],
            )
        }
    };
    let scorer_node = NodeProto {
        input: vec![concatenated],
        output: output_names.into_iter().map(str::to_owned).collect(),
        name: scorer.op_type.to_lowercase(),
        op_type: scorer.op_type.into(),
        attribute: scorer.attributes,
        domain: ML_DOMAIN.into(),
    };
    let graph = GraphProto {
        node: vec![concat, scorer_node],
        name: "cairn".into(),
        doc_string: String::new(),
        input: features.iter().map(|name| value_info(name, FLOAT, &[rows(), fixed(1)])).collect(),
        output: outputs,
    };
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "cairn".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: String::new(),
        model_version: 0,
        doc_string: String::new(),
        graph: Some(graph),
        opset_import: vec![
            OperatorSetIdProto { domain: String::new(), version: OPSET },
            OperatorSetIdProto { domain: ML_DOMAIN.into(), version: ML_OPSET },
        ],
        metadata_props: scorer
            .metadata
            .into_iter()
            .map(|(key, value)| StringStringEntryProto { key: key.into(), value })
            .collect(),
    };
    model.encode_to_vec()
}

fn rows() -> Dimension {
    Dimension { value: Some(DimensionValue::DimParam("N".into())) }
}

fn fixed(size: i64) -> Dimension {
    Dimension { value: Some(DimensionValue::DimValue(size)) }
}

fn value_info(name: &str, elem_type: i32, dims: &[Dimension]) -> ValueInfoProto {
    let shape = TensorShapeProto { dim: dims.to_vec() };
    let tensor = TensorTypeProto { elem_type, shape: Some(shape) };
    ValueInfoProto { name: name.into(), r#type: Some(TypeProto { tensor_type: Some(tensor) }) }
}

fn attribute(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: kind as i32, ..AttributeProto::default() }
}

pub(crate) fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { i: value, ..attribute(name, AttributeType::Int) }
}

pub(crate) fn string(name: &str, value: &str) -> AttributeProto {
    AttributeProto { s: value.as_bytes().to_vec(), ..attribute(name, AttributeType::String) }
}

pub(crate) fn ints(name: &str, values: Vec<i64>) -> AttributeProto {
    AttributeProto { ints: values, ..attribute(name, AttributeType::Ints) }
}

pub(crate) fn floats(name: &str, values: Vec<f32>) -> AttributeProto {
    AttributeProto { floats: values, ..attribute(name, AttributeType::Floats) }
}

pub(crate) fn strings(name: &str, values: Vec<String>) -> AttributeProto {
    AttributeProto {
        strings: values.into_iter().map(String::into_bytes).collect(),
        ..attribute(name, AttributeType::Strings)
    }
}

/// The `classlabels_int64s` or `classlabels_strings` attribute (named `classlabels_ints` by
/// LinearClassifier, hence the prefix argument).
pub(crate) fn class_labels(labels: &ClassLabels, ints_name: &str) -> AttributeProto {
    match labels {
        ClassLabels::Int64(values) => ints(ints_name, values.clone()),
        ClassLabels::Strings(values) => strings("classlabels_strings", values.clone()),
    }
}

pub(crate) fn task_name(task: Task) -> &'static str {
    match task {
        Task::Regression => "regression",
        Task::Binary => "binary",
        Task::Multiclass { .. } => "multiclass",
    }
}
