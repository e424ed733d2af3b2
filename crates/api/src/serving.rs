//! The serving service's own API (`/v1/endpoints`): named endpoints that serve a registered
//! model, pinned to a version or following an alias.

use cairn_domain::{Name, Timestamp};
use serde::{Deserialize, Serialize};

/// What an endpoint should serve: a model's version, or whichever version an alias points at
/// (followed as it moves) — exactly one of `alias` and `version` — and optionally a canary that
/// answers a share of the requests and a shadow that gets a copy of each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// A version of the same model that gets a copy of every request, off the request path: its
    /// answers go to the prediction log (marked shadow), never to the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<i64>,
    /// Stream scoring: records published on a subject, predicted and published on another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamScoring>,
}

impl EndpointSpec {
    /// An endpoint of `model` following `alias`, nothing else.
    pub fn alias(model: impl Into<String>, alias: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            alias: Some(alias.into()),
            version: None,
            canary: None,
            shadow: None,
            stream: None,
        }
    }

    /// An endpoint of `model` pinned to `version`, nothing else.
    pub fn version(model: impl Into<String>, version: i64) -> Self {
        Self {
            model: model.into(),
            alias: None,
            version: Some(version),
            canary: None,
            shadow: None,
            stream: None,
        }
    }
}

/// An endpoint's stream scoring: every message on `input` — one JSON object, a record by
/// feature name (or entity keys, with `entity_keys`) — is answered by one message on `output`:
/// its prediction, or why it has none. The input is read from the JetStream stream that captures
/// the subject (one is made when none does) by one durable consumer the replicas share; each
/// input message is acknowledged only after its answer is stored, and an answer is published
/// with an id that makes a repeat a duplicate the output's stream drops: one answer per record,
/// through restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamScoring {
    pub input: String,
    pub output: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub entity_keys: bool,
}

/// A version of the same model answering a share of the requests (a canary, an A/B test).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    pub version: i64,
    /// The share of requests it answers, above 0 and below 1. Requests with the same routing key
    /// (the `Cairn-Routing-Key` header) always go the same way.
    pub weight: f64,
}

/// An endpoint: what it should serve and what this replica serves now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Endpoint {
    pub name: String,
    pub spec: EndpointSpec,
    pub updated_at: Timestamp,
    /// The version answering requests on this replica (none until one has loaded).
    pub serving: Option<i64>,
    /// The canary version answering its share here, once loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving_canary: Option<i64>,
    /// The shadow version getting copies here, once loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving_shadow: Option<i64>,
    /// `ready`, `loading` (no version has loaded yet) or `failed` (the wanted version could not
    /// load; an earlier one may still serve).
    pub state: String,
    /// Why the wanted version is not serving, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /v1/endpoints/{name}/predict`: records by feature name, or only entity keys whose
/// features the online store holds (the model version's feature service names them).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// One record or many: `{"feature": value, ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub records: Option<Records>,
    /// Entity keys, one object per row (`{"customer_id": 42}`): the features are read online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub entities: Option<Records>,
    /// A version the endpoint holds (its main, canary or shadow version), rather than its policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Requests with the same key go to the same version of a canary split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<String>,
    /// The caller's id for the request, echoed and logged (else one is made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// One object, or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Records {
    One(serde_json::Map<String, serde_json::Value>),
    Many(Vec<serde_json::Map<String, serde_json::Value>>),
}

impl Records {
    pub fn into_vec(self) -> Vec<serde_json::Map<String, serde_json::Value>> {
        match self {
            Records::One(record) => vec![record],
            Records::Many(records) => records,
        }
    }
}

/// The answer: a prediction per row, in request order, and who answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PredictResponse {
    pub request_id: String,
    pub endpoint: String,
    pub model: String,
    /// The model version that answered.
    pub version: i64,
    /// Per row, every output of the model by name: a number or string for one value per row,
    /// a list for several, `{label: probability}` for a classifier's probabilities.
    #[schema(value_type = Vec<Object>)]
    pub predictions: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Per row, the features the online store had no value for (entity keys only; their values
    /// went to the model as missing, NaN).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Vec<String>>,
}

/// `POST /v1/scoring-jobs`: a model version scores every row of a dataset version; the rows and
/// their predictions become a new version of `output`, with lineage to both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoringRequest {
    pub model: String,
    /// The version the alias points at when the job starts — exactly one of `alias` and `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    pub dataset: Name,
    /// The input version; the latest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_version: Option<i64>,
    /// The dataset the scored rows are added to (declared when absent); `<dataset>_scores` by
    /// default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Name>,
}

/// A scoring job and how far it has come. `state`: `running`, `written` (the file is handed to
/// ingestion), `succeeded` (`output_version` holds the rows) or `failed` (`error` says why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScoringJob {
    pub id: String,
    pub model: String,
    pub version: i64,
    pub dataset: Name,
    pub dataset_version: i64,
    pub output: Name,
    pub state: String,
    /// Rows of the input version.
    pub rows: u64,
    pub rows_scored: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl ScoringJob {
    /// Whether the job has stopped, done or not.
    pub fn finished(&self) -> bool {
        self.state == "succeeded" || self.state == "failed"
    }
}
