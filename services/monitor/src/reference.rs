//! A model version's reference: the distribution of each feature it takes in the data it was
//! trained on (the dataset version in its lineage), and how its logged input tensors map onto
//! those features. Built once per version, on its first logged prediction, and stored.

use std::collections::BTreeMap;

use cairn_api::{ModelVersion, OnnxDim};
use cairn_client::Client;
use cairn_drift::Reference;
use cairn_runtime::Runtime;
use serde::{Deserialize, Serialize};

use crate::columns::{Columns, kind};
use crate::error::MonitorError;

/// How one logged input tensor feeds the monitored features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Input {
    /// `[rows]` or `[rows, 1]`: one feature.
    Column { input: String, feature: usize },
    /// `[rows, width]`: column j is feature `features[j]`.
    Matrix { input: String, features: Vec<usize> },
}

/// A feature the model takes, with its reference when the training data holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    pub name: String,
    pub reference: Option<Reference>,
    /// Why there is no reference.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReference {
    pub model: String,
    pub version: i64,
    /// `dataset@version` the references come from.
    pub dataset: Option<String>,
    pub features: Vec<Feature>,
    pub inputs: Vec<Input>,
    /// Why the version's predictions are counted but not judged, when they are not.
    pub note: Option<String>,
    /// The version's holdout metrics (its run's), which live metrics are held to.
    #[serde(default)]
    pub holdout: BTreeMap<String, f64>,
    /// What the version answers on its training data (its score: the positive class's
    /// probability, or the regressor's value), and why there is no such reference when not.
    #[serde(default)]
    pub prediction: Option<Reference>,
    #[serde(default)]
    pub prediction_note: Option<String>,
}

impl ModelReference {
    fn unjudged(model: &str, version: i64, note: String) -> Self {
        Self {
            model: model.to_owned(),
            version,
            dataset: None,
            features: Vec::new(),
            inputs: Vec::new(),
            note: Some(note),
            holdout: BTreeMap::new(),
            prediction: None,
            prediction_note: None,
        }
    }

    /// Builds the reference of `model@version` from the registry's record of it and its
    /// training data. What cannot be judged (no signature, no training data in the lineage, a
    /// feature the data lacks) is noted rather than refused: the predictions still count.
    pub async fn build(
        runtime: Option<&Runtime>,
        registry: &Client,
        columns: &Columns,
        model: &str,
        version: i64,
    ) -> Result<Self, MonitorError> {
        let found = match registry.model_version(model, version).await {
            Ok(found) => found,
            Err(cairn_client::ClientError::Api { status: 404, .. }) => {
                return Ok(Self::unjudged(
                    model,
                    version,
                    format!("{model}@{version} is not in the registry"),
                ));
            }
            Err(error) => return Err(error.into()),
        };
        let holdout = found.lineage.metrics.clone();
        let (names, inputs) = match features(&found) {
            Ok(layout) => layout,
            Err(note) => return Ok(Self { holdout, ..Self::unjudged(model, version, note) }),
        };
        let Some(data) = found.lineage.datasets.first() else {
            let mut reference = Self::unjudged(
                model,
                version,
                format!(
                    "{model}@{version} has no training dataset in its lineage: predictions are counted, not judged"
                ),
            );
            reference.features =
                names.into_iter().map(|name| Feature { name, reference: None, note: None }).collect();
            reference.inputs = inputs;
            return Ok(reference);
        };
        let dataset = columns.version(&data.dataset, Some(data.version)).await?;
        let mut features = Vec::with_capacity(names.len());
        let mut scored = Vec::with_capacity(names.len());
        for name in names {
            let column = dataset.schema.columns.iter().find(|column| column.name.as_str() == name);
            if let Some(kind) = column.and_then(|column| kind(&column.column_type)) {
                scored.push((name.clone(), kind));
            }
            let (reference, note) = match column.map(|column| kind(&column.column_type)) {
                None => (None, Some(format!("not a column of {}@{}", dataset.dataset, dataset.version))),
                Some(None) => (None, Some("a timestamp: not judged".to_owned())),
                Some(Some(kind)) => match columns.reference(&dataset, &name, kind).await {
                    Ok(reference) => (Some(reference), None),
                    Err(MonitorError::Invalid(reason)) => (None, Some(reason)),
                    Err(error) => return Err(error),
                },
            };
            features.push(Feature { name, reference, note });
        }
        let (prediction, prediction_note) = if scored.len() == features.len() {
            match crate::predictions::reference(runtime, registry, columns, &found, &dataset, &scored).await {
                Ok(reference) => (Some(reference), None),
                Err(note) => (None, Some(note)),
            }
        } else {
            (
                None,
                Some(format!(
                    "{}@{} lacks some of the model's features: predictions are not judged",
                    dataset.dataset, dataset.version
                )),
            )
        };
        Ok(Self {
            model: model.to_owned(),
            version,
            dataset: Some(format!("{}@{}", dataset.dataset, dataset.version)),
            features,
            inputs,
            note: None,
            holdout,
            prediction,
            prediction_note,
        })
    }
}

/// The features a version takes and how its inputs hold them: an input per feature, or one
/// matrix input whose columns the `cairn.feature_names` tag names.
fn features(version: &ModelVersion) -> Result<(Vec<String>, Vec<Input>), String> {
    let Some(signature) = &version.signature else {
        return Err(format!(
            "{}@{} has no ONNX signature: its inputs cannot be named",
            version.name, version.version
        ));
    };
    let recorded: Option<Vec<String>> =
        version.tags.get("cairn.feature_names").and_then(|names| serde_json::from_str(names).ok());
    let mut names = Vec::new();
    let mut inputs = Vec::new();
    for port in &signature.inputs {
        let width = match port.shape.as_deref() {
            Some([_]) | Some([_, OnnxDim::Fixed(1)]) => None,
            Some([_, OnnxDim::Fixed(width)]) => Some(usize::try_from(*width).unwrap_or(0)),
            Some([_, _]) => Some(recorded.as_ref().map_or(0, Vec::len)),
            _ => return Err(format!("input `{}` is not a column or a matrix: not judged", port.name)),
        };
        match width {
            None => {
                inputs.push(Input::Column { input: port.name.clone(), feature: names.len() });
                names.push(port.name.clone());
            }
            Some(width) => {
                let Some(recorded) = recorded.as_ref().filter(|recorded| recorded.len() == width) else {
                    return Err(format!(
                        "input `{}` is a matrix whose columns are not named (the version's `cairn.feature_names` tag)",
                        port.name
                    ));
                };
                let start = names.len();
                names.extend(recorded.iter().cloned());
                inputs.push(Input::Matrix {
                    input: port.name.clone(),
                    features: (start..start + width).collect(),
                });
            }
        }
    }
    Ok((names, inputs))
}
