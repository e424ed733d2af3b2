use cairn_domain::{Name, Schema, Timestamp};
use cairn_records::{QualityReport, Violation};
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
    /// `csv`, `jsonl`, `parquet` (uploads and imports) or `stream` (a micro-batch of streamed
    /// records).
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
    /// The files of quarantined records (none when every record was accepted).
    pub quarantine: Vec<DatasetFile>,
}

/// A page of a dataset's batches (`GET /v1/datasets/{name}/batches`), oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchPage {
    /// Without their files (`GET …/batches/{id}` has them).
    pub batches: Vec<Batch>,
    /// Pass it back as `page_token` for the next page; absent on the last.
    pub next_page_token: Option<String>,
}

/// A page of a dataset's versions (`GET /v1/datasets/{name}/versions`), oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionPage {
    /// Without their manifests (`GET …/versions/{n}` has them).
    pub versions: Vec<DatasetVersion>,
    /// Pass it back as `page_token` for the next page; absent on the last.
    pub next_page_token: Option<String>,
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
    /// What the version's rows were computed from, when Cairn computed them (training data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<DatasetLineage>,
}

/// What a dataset version's rows were computed from: the training data the feature store wrote
/// by joining feature views onto the rows of another dataset version, or the predictions a model
/// version made for the rows of another dataset version (batch scoring).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetLineage {
    /// The id of the job that wrote the rows: the feature store's training data, or serving's
    /// scoring job.
    pub training_data: String,
    /// `model@version` of the model whose predictions the rows hold (batch scoring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `name@version`, when the features were a feature service's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_service: Option<String>,
    /// `view@version` of each feature view joined.
    pub feature_views: Vec<String>,
    /// `dataset@version` of the entity rows (the rows scored, for predictions).
    pub entity_rows: String,
    /// `dataset@version` of each view's source: the latest version the feature store knew of
    /// (rows streamed in since, not yet in a version, were read too).
    pub sources: Vec<String>,
}

/// A record a batch quarantined: where it was in the input, what it held and the rules it broke.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuarantinedRecord {
    pub batch_id: String,
    /// Line (CSV, JSON Lines), row (Parquet) or stream sequence of the record.
    pub line: u64,
    /// The values as a JSON object (strings as written), or the raw text of input that did not
    /// decode.
    pub record: serde_json::Value,
    pub violations: Vec<Violation>,
}

/// `POST /v1/datasets/{name}/imports`: ingest a batch from where it already is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewImport {
    /// `s3://bucket/key` (with the service's `[storage.s3]` credentials), `https://…`, or
    /// `file:///path` under one of the service's `ingestion.import_roots`.
    pub url: String,
    /// `csv`, `jsonl` or `parquet`; by default from the URL's extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}
