//! The monitor service's API: drift between two dataset versions (`POST /v1/drift`, `cairn drift
//! A B`), as data teams check new data before training on it.

use cairn_domain::Name;
use serde::{Deserialize, Serialize};

/// `POST /v1/drift`: is `current` distributed as `reference` is, column by column?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftRequest {
    pub reference: VersionRef,
    pub current: VersionRef,
    /// The columns to compare; every column both versions hold (but the event time) by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// The share of drifted columns at which the dataset drifts (0.5 by default, as Evidently).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_share: Option<f64>,
}

/// A dataset version; its latest when `version` is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionRef {
    pub dataset: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// The verdict per column and for the dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DriftReport {
    /// `dataset@version` of each side.
    pub reference: String,
    pub current: String,
    pub columns: Vec<ColumnDrift>,
    pub drifted_columns: usize,
    /// The share of columns that drifted, and the share at which the dataset drifts.
    pub share: f64,
    pub share_threshold: f64,
    pub dataset_drift: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ColumnDrift {
    pub column: String,
    /// `numeric` or `categorical`.
    pub kind: String,
    /// `ks`, `chi_square`, `z`, `wasserstein`, `jensen_shannon` or `psi`.
    pub method: String,
    /// The statistic (a distance) or the test's p-value.
    pub value: f64,
    pub threshold: f64,
    pub drifted: bool,
    pub reference_rows: u64,
    pub current_rows: u64,
    /// Rows without a value (or not finite), on each side: not compared.
    pub reference_missing: u64,
    pub current_missing: u64,
}
