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
}

/// The data, code and run behind a model version.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Lineage {
    pub run_id: Option<String>,
    pub run_name: Option<String>,
    pub experiment: Option<String>,
    pub params: BTreeMap<String, String>,
    /// The latest value of each metric of the run.
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
