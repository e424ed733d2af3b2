use cairn_domain::{Name, Schema, Timestamp};
use cairn_records::QualityReport;
use serde::{Deserialize, Serialize};

/// A file of the offline store, as a version's manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetFile {
    /// Path inside the offline store, e.g. `datasets/tx/data/date=2026-03-01/part-….parquet`.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// An ingestion batch and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Batch {
    pub id: String,
    pub dataset: Name,
    /// `receiving`, `committed` (visible in `version`), `failed` (too many records quarantined:
    /// nothing visible), `rejected` (unreadable input: nothing kept) or `aborted` (interrupted).
    pub state: String,
    /// `csv` or `jsonl`.
    pub format: String,
    pub received_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// The dataset version that first contains this batch.
    pub version: Option<i64>,
    pub report: Option<QualityReport>,
    /// Why the batch was rejected.
    pub error: Option<String>,
    /// Files of accepted records (committed batches).
    pub files: Vec<DatasetFile>,
    /// The file of quarantined records, if any.
    pub quarantine: Option<DatasetFile>,
}

/// An immutable dataset version: every file of its batches and the ones before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetVersion {
    pub dataset: Name,
    pub version: i64,
    pub created_at: Timestamp,
    pub rows: u64,
    /// The batch that created it.
    pub batch_id: Option<String>,
    /// The schema the version was written under.
    pub schema: Schema,
    /// The manifest (empty in listings).
    #[serde(default)]
    pub files: Vec<DatasetFile>,
}
