//! Online features in the request and response shapes of Feast's feature server
//! (`POST /get-online-features`), so that Feast's HTTP clients work unchanged.

use serde::{Deserialize, Serialize};

/// Feast's `get-online-features` request: features as `view:feature` or a feature service, and
/// the entities as columns (`{"driver_id": [1001, 1002]}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OnlineRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_service: Option<String>,
    /// Join key columns, all of the same length.
    #[schema(value_type = Object)]
    pub entities: serde_json::Map<String, serde_json::Value>,
    /// Name features `view__feature` rather than `feature`.
    #[serde(default)]
    pub full_feature_names: bool,
}

/// Feast's response: the join keys, then the features, each a column over the entities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OnlineResponse {
    pub metadata: ResponseMetadata,
    pub results: Vec<FeatureVector>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResponseMetadata {
    pub feature_names: Vec<String>,
}

/// One column: a value, status and event time per entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureVector {
    #[schema(value_type = Vec<Object>)]
    pub values: Vec<serde_json::Value>,
    pub statuses: Vec<FieldStatus>,
    /// RFC 3339; the epoch where there is no value (as Feast answers).
    pub event_timestamps: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldStatus {
    Present,
    /// The entity's row holds null for this feature.
    NullValue,
    /// The store holds no row for the entity.
    NotFound,
    /// The entity's row is older than the view's TTL.
    OutsideMaxAge,
}
