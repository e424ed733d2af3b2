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

/// One schema a dataset has had (`GET /v1/datasets/{name}/schemas`). Revision 1 is the
/// declaration; each later one appends nullable columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SchemaRevision {
    pub revision: i64,
    pub changed_at: Timestamp,
    /// The columns this revision added.
    pub added_columns: Vec<Name>,
    pub schema: Schema,
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
