//! The serving service's own API (`/v1/endpoints`): named endpoints that serve a registered
//! model, pinned to a version or following an alias.

use cairn_domain::Timestamp;
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
}

impl EndpointSpec {
    /// An endpoint of `model` following `alias`, nothing else.
    pub fn alias(model: impl Into<String>, alias: impl Into<String>) -> Self {
        Self { model: model.into(), alias: Some(alias.into()), version: None, canary: None, shadow: None }
    }

    /// An endpoint of `model` pinned to `version`, nothing else.
    pub fn version(model: impl Into<String>, version: i64) -> Self {
        Self { model: model.into(), alias: None, version: Some(version), canary: None, shadow: None }
    }
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
