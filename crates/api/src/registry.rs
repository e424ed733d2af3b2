//! The registry's own API (`/v1/models`, `/v1/audit`, `/v1/lineage`): what MLflow's API does
//! not say — lineage in both directions, alias history, the audit log, model cards.

use std::collections::BTreeMap;

use cairn_domain::Timestamp;
use serde::{Deserialize, Serialize};

/// A registered model with its versions, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Model {
    pub name: String,
    pub description: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub tags: BTreeMap<String, String>,
    /// Alias → version.
    pub aliases: BTreeMap<String, i64>,
    pub versions: Vec<ModelVersionSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelVersionSummary {
    pub version: i64,
    pub created_at: Timestamp,
    pub created_by: String,
    /// MLflow's stage: None, Staging, Production or Archived.
    pub stage: String,
    pub aliases: Vec<String>,
    pub run_id: Option<String>,
}

/// One version with everything known about where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelVersion {
    pub name: String,
    pub version: i64,
    pub created_at: Timestamp,
    pub created_by: String,
    pub description: String,
    /// What it was registered from (`models:/m-…`, `runs:/…`, a URI).
    pub source: String,
    /// Where its files are (a copy the registry keeps, for sources it stores).
    pub storage_location: String,
    pub stage: String,
    pub aliases: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// The MLflow logged model it was registered from.
    pub model_id: Option<String>,
    pub lineage: Lineage,
    /// What its ONNX model takes and gives, read from the file when the version was created
    /// (absent when the version holds no `.onnx` file).
    pub signature: Option<OnnxSignature>,
    /// Its ONNX model file in the artifact store, to download (MLflow's artifact API,
    /// `/api/2.0/mlflow-artifacts/artifacts/{path}`) and check.
    #[serde(default)]
    pub model_file: Option<ModelFile>,
}

/// A stored file of a model version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelFile {
    /// Its path in the artifact store.
    pub path: String,
    pub bytes: i64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// The inputs and outputs of an ONNX model, as its file declares them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OnnxSignature {
    /// The graph's inputs, without its weights.
    pub inputs: Vec<OnnxTensor>,
    pub outputs: Vec<OnnxTensor>,
    /// The version of the default (`ai.onnx`) operator set it needs.
    pub opset: Option<i64>,
    pub ir_version: Option<i64>,
    /// The tool that wrote it, with its version (`skl2onnx 1.17`).
    pub producer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OnnxTensor {
    pub name: String,
    /// As ONNX Runtime names types: `tensor(float)`, `seq(tensor(int64))`,
    /// `map(string,tensor(float))`.
    pub r#type: String,
    /// A tensor's dimensions; absent when the rank is not declared or the value is no tensor.
    pub shape: Option<Vec<OnnxDim>>,
}

/// A dimension: a size, a symbolic name (`batch`) or unknown (`null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum OnnxDim {
    Fixed(i64),
    Named(String),
    Unknown,
}

impl std::fmt::Display for OnnxDim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OnnxDim::Fixed(size) => write!(f, "{size}"),
            OnnxDim::Named(name) => f.write_str(name),
            OnnxDim::Unknown => f.write_str("?"),
        }
    }
}

impl OnnxTensor {
    /// `[batch, 4]`, or `?` for an undeclared shape.
    pub fn shape_text(&self) -> String {
        match &self.shape {
            None => "?".into(),
            Some(dims) => {
                format!("[{}]", dims.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
            }
        }
    }
}

/// The data, code and run behind a model version.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Lineage {
    pub run_id: Option<String>,
    pub run_name: Option<String>,
    pub experiment: Option<String>,
    pub params: BTreeMap<String, String>,
    /// The latest value of each metric of the run.
    #[serde(with = "metric_values")]
    #[schema(value_type = BTreeMap<String, f64>)]
    pub metrics: BTreeMap<String, f64>,
    /// `mlflow.source.git.commit` of the run.
    pub code_version: Option<String>,
    /// Dataset versions the run trained on: its `cairn.dataset.<name>` tags.
    pub datasets: Vec<DatasetRef>,
    /// Its `cairn.feature_service` tag (`name@version`).
    pub feature_service: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetRef {
    pub dataset: String,
    pub version: i64,
}

/// A tracked run (`GET /v1/runs/{id}`): MLflow's run, with the data and code it names and the
/// model versions registered from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Run {
    pub run_id: String,
    pub name: String,
    pub experiment: String,
    /// RUNNING, SCHEDULED, FINISHED, FAILED or KILLED.
    pub status: String,
    pub user: String,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub params: BTreeMap<String, String>,
    /// The latest value of each metric (`NaN`, `Infinity` and `-Infinity` as strings).
    #[serde(with = "metric_values")]
    #[schema(value_type = BTreeMap<String, f64>)]
    pub metrics: BTreeMap<String, f64>,
    pub tags: BTreeMap<String, String>,
    /// `mlflow.source.git.commit`.
    pub code_version: Option<String>,
    /// Its `cairn.dataset.<name>` tags.
    pub datasets: Vec<DatasetRef>,
    /// Its `cairn.feature_service` tag.
    pub feature_service: Option<String>,
    /// Model versions registered from it.
    pub models: Vec<TrainedModel>,
}

/// A page of runs (`GET /v1/runs`), newest first unless ordered otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunPage {
    pub runs: Vec<Run>,
    /// Pass it back as `page_token` for the next page; absent on the last.
    pub next_page_token: Option<String>,
}

/// Metric values in JSON, which has no NaN or infinities: those travel as the strings MLflow
/// uses (`NaN`, `Infinity`, `-Infinity`).
mod metric_values {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Value {
        Number(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(
        metrics: &BTreeMap<String, f64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let text = |v: f64| match v {
            v if v.is_nan() => "NaN",
            v if v > 0.0 => "Infinity",
            _ => "-Infinity",
        };
        let values: BTreeMap<&str, Value> = metrics
            .iter()
            .map(|(k, &v)| {
                (k.as_str(), if v.is_finite() { Value::Number(v) } else { Value::Text(text(v).into()) })
            })
            .collect();
        values.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, f64>, D::Error> {
        use serde::de::Error;
        BTreeMap::<String, Value>::deserialize(deserializer)?
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::Number(v) => v,
                    Value::Text(text) => match text.as_str() {
                        "NaN" => f64::NAN,
                        "Infinity" => f64::INFINITY,
                        "-Infinity" => f64::NEG_INFINITY,
                        other => return Err(D::Error::custom(format!("`{other}` is not a metric value"))),
                    },
                };
                Ok((k, v))
            })
            .collect()
    }
}

/// A model version trained on a dataset version (`GET /v1/lineage/datasets/{name}/versions/{v}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrainedModel {
    pub model: String,
    pub version: i64,
    pub run_id: String,
}

/// One move of an alias; `version` is `None` when it was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AliasMove {
    pub alias: String,
    pub version: Option<i64>,
    pub changed_at: Timestamp,
    pub changed_by: String,
}

/// `GET /v1/models/{name}/aliases/{alias}?at=T`: the version the alias pointed at at T.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AliasAt {
    pub alias: String,
    pub at: Timestamp,
    pub version: Option<i64>,
    /// Every move, oldest first.
    pub history: Vec<AliasMove>,
}

/// One change to the registry, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    /// `registered_model:<name>`, `model_version:<name>/<version>`,
    /// `registered_model_alias:<name>@<alias>`.
    pub entity: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

/// `POST /v1/models/{name}/aliases/{alias}/requests`: ask for a protected alias to move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAliasRequest {
    pub version: i64,
    #[serde(default)]
    pub reason: String,
}

/// `POST /v1/approvals/{id}/approve` or `/reject`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    #[serde(default)]
    pub reason: String,
}

/// A request to move a protected alias, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AliasRequest {
    pub id: String,
    pub model: String,
    pub alias: String,
    pub version: i64,
    pub requested_by: String,
    pub requested_at: Timestamp,
    pub reason: String,
    /// `pending`, `approved` or `rejected`.
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub decision_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_that_json_cannot_hold_travel_as_strings() {
        let lineage = Lineage {
            metrics: [("nan", f64::NAN), ("inf", f64::INFINITY), ("low", f64::NEG_INFINITY), ("auc", 0.5)]
                .map(|(k, v)| (k.to_owned(), v))
                .into(),
            ..Lineage::default()
        };
        let json = serde_json::to_value(&lineage).unwrap();
        assert_eq!(
            json["metrics"],
            serde_json::json!({"nan": "NaN", "inf": "Infinity", "low": "-Infinity", "auc": 0.5})
        );
        let back: Lineage = serde_json::from_value(json).unwrap();
        assert!(
            back.metrics["nan"].is_nan()
                && back.metrics["low"] == f64::NEG_INFINITY
                && back.metrics["auc"] == 0.5
        );
        let wrong = serde_json::json!({"run_id": null, "run_name": null, "experiment": null, "params": {},
            "metrics": {"x": "lots"}, "code_version": null, "datasets": [], "feature_service": null});
        assert!(serde_json::from_value::<Lineage>(wrong).is_err());
    }
}
