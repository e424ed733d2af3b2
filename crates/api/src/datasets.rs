use cairn_domain::{Name, Schema, Timestamp};
use serde::{Deserialize, Serialize};

/// `POST /v1/datasets` on the ingestion service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDataset {
    pub name: Name,
    pub schema: Schema,
}

/// A declared dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dataset {
    pub name: Name,
    pub schema: Schema,
    pub created_at: Timestamp,
}

/// A dataset as the feature store knows it, from ingestion's `cairn.datasets.created` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceDataset {
    pub name: Name,
    pub schema: Schema,
    pub created_at: Timestamp,
    /// The event this entry came from.
    pub event_id: String,
    /// The trace of the request that declared the dataset.
    pub trace_id: Option<String>,
}
