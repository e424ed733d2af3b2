//! The monitor service's API: drift between two dataset versions (`POST /v1/drift`, `cairn drift
//! A B`), as data teams check new data before training on it; the windows of the prediction log
//! (`/v1/monitor/endpoints/…`).

use cairn_domain::{Name, Timestamp};
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

/// A closed window of one endpoint's model version on the prediction log, judged against the
/// reference built from the version's training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MonitorWindow {
    /// `endpoint:model@version#number`.
    pub id: String,
    pub endpoint: String,
    pub model: String,
    pub version: i64,
    /// 1, 2, … per endpoint and model version.
    pub number: i64,
    /// The first and the last prediction's answer time.
    #[schema(value_type = String)]
    pub started_at: Timestamp,
    #[schema(value_type = String)]
    pub ended_at: Timestamp,
    /// Rows predicted (a request of many rows counts each).
    pub predictions: u64,
    pub requests: u64,
    pub mean_latency_micros: f64,
    /// `dataset@version` the reference was built from; absent when the version has none.
    pub reference: Option<String>,
    /// Each judged feature: `reference_*` describe the training data, `current_*` the window.
    pub features: Vec<ColumnDrift>,
    /// Features not judged in this window, and why (no reference, no values).
    pub unjudged: Vec<Unjudged>,
    pub drifted_features: usize,
    pub share: f64,
    pub share_threshold: f64,
    pub dataset_drift: bool,
    /// Prediction drift: the version's scores (the positive class's probability, or the
    /// regressor's value) in the window against its scores on its training data; judged apart
    /// from the features.
    #[serde(default)]
    pub prediction: Option<ColumnDrift>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Unjudged {
    pub feature: String,
    pub reason: String,
}

/// The window a model version of an endpoint is filling now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OpenWindow {
    pub endpoint: String,
    pub model: String,
    pub version: i64,
    pub number: i64,
    #[schema(value_type = Option<String>)]
    pub started_at: Option<Timestamp>,
    pub predictions: u64,
    /// `dataset@version` the reference was built from.
    pub reference: Option<String>,
    /// Why some features (or all) have no reference.
    pub note: Option<String>,
    /// The features watched.
    pub features: Vec<String>,
}

/// What the monitor sees of an endpoint: the windows filling now, the latest closed ones, their
/// live performance on the ground truth so far, and the feedback joined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EndpointMonitor {
    pub endpoint: String,
    pub open: Vec<OpenWindow>,
    pub windows: Vec<MonitorWindow>,
    /// Windows with labels, newest first.
    #[serde(default)]
    pub performance: Vec<LivePerformance>,
    /// The endpoint's feedback dataset versions joined so far.
    #[serde(default)]
    pub feedback: FeedbackSummary,
}

/// A window's model metrics (the ones training reports) and KPIs on the labels it has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LivePerformance {
    /// The window's id (`endpoint:model@version#number`).
    pub window_id: String,
    pub model: String,
    pub version: i64,
    pub number: i64,
    /// Its predictions with a label.
    pub labelled: u64,
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// Per KPI column: `<kpi>` its sum over the labelled rows; for a binary classifier also
    /// `<kpi>_positive`, the sum where the label is positive (the fraud), and `<kpi>_caught`,
    /// where the model flagged it too (probability ≥ 0.5).
    pub kpis: std::collections::BTreeMap<String, f64>,
    /// The metric held to the holdout's, its live value and the version's holdout value.
    pub metric: String,
    pub live: Option<f64>,
    pub holdout: Option<f64>,
    pub degraded: bool,
    /// The metric per value of each slice column of the feedback, worst first (values with at
    /// least ten labelled rows).
    #[serde(default)]
    pub slices: Vec<SlicePerformance>,
}

/// A window's metric on the labelled rows of one value of a slice column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlicePerformance {
    pub column: String,
    pub value: String,
    pub labelled: u64,
    pub live: Option<f64>,
}

/// Feedback joined to the log: rows read, rows that named a logged prediction, rows that did
/// not (unknown request ids).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedbackSummary {
    pub versions: u64,
    pub rows: u64,
    pub matched: u64,
    pub unknown: u64,
}

/// `PUT /v1/loops/{endpoint}`: the continuous-training policy of an endpoint — what retrains it,
/// how its challenger goes out, and what promotes or rolls it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoopPolicy {
    /// The training pipeline to run. It registers its candidate without moving `alias` (give it
    /// another alias, e.g. `challenger`), and its gates decide whether there is one — a `beat`
    /// gate against `alias` proves it better than the champion on fresh holdout data.
    pub pipeline: String,
    /// What starts a cycle: `drift` (a drifted window of the endpoint), `degradation` (a window
    /// behind its holdout), `new_data` (a new version of `data`), `schedule` (every
    /// `every_secs`).
    #[serde(default = "LoopPolicy::default_on")]
    pub on: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_secs: Option<u64>,
    /// The alias the endpoint follows and a promotion moves.
    #[serde(default = "LoopPolicy::default_alias")]
    pub alias: String,
    /// The challenger's share of the traffic while it is a canary.
    #[serde(default = "LoopPolicy::default_canary_weight")]
    pub canary_weight: f64,
    /// Predictions the canary must answer before it is judged ...
    #[serde(default = "LoopPolicy::default_canary_predictions")]
    pub canary_predictions: u64,
    /// ... and, when the endpoint has feedback, labels each side needs; 0: metrics not compared.
    #[serde(default)]
    pub canary_labels: u64,
    /// How long the canary may take to be judged; past it, it is rolled back.
    #[serde(default = "LoopPolicy::default_canary_max_secs")]
    pub canary_max_secs: u64,
    /// How far (relative) the canary's live metric may fall behind the champion's, on the same
    /// period's labels.
    #[serde(default = "LoopPolicy::default_tolerance")]
    pub tolerance: f64,
    /// The share of the canary's requests serving may fail.
    #[serde(default = "LoopPolicy::default_max_error_rate")]
    pub max_error_rate: f64,
    /// No new cycle starts this long after one ended.
    #[serde(default = "LoopPolicy::default_cooldown_secs")]
    pub cooldown_secs: u64,
    /// Promotion waits for an approver (the registry's alias requests) rather than moving the
    /// alias itself.
    #[serde(default)]
    pub approval: bool,
}

impl LoopPolicy {
    fn default_on() -> Vec<String> {
        vec!["drift".into(), "degradation".into()]
    }

    fn default_alias() -> String {
        "champion".into()
    }

    fn default_canary_weight() -> f64 {
        0.1
    }

    fn default_canary_predictions() -> u64 {
        500
    }

    fn default_canary_max_secs() -> u64 {
        3600
    }

    fn default_tolerance() -> f64 {
        0.02
    }

    fn default_max_error_rate() -> f64 {
        0.01
    }

    fn default_cooldown_secs() -> u64 {
        3600
    }
}

/// An endpoint's loop: its policy and where its current cycle stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoopStatus {
    pub endpoint: String,
    pub policy: LoopPolicy,
    /// `idle`, `training`, `canary` or `awaiting_approval`.
    pub phase: String,
    /// Cycles started so far.
    pub cycle: i64,
    /// What started the current cycle.
    pub signal: Option<String>,
    pub run_id: Option<String>,
    pub model: Option<String>,
    pub champion: Option<i64>,
    pub challenger: Option<i64>,
    #[schema(value_type = String)]
    pub since: Timestamp,
    #[schema(value_type = Option<String>)]
    pub cooldown_until: Option<Timestamp>,
}

/// One decision of a loop, explained: what it saw (the signal, the numbers, the gate) and what
/// it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoopEvent {
    pub endpoint: String,
    pub cycle: i64,
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// `signal`, `skipped`, `retrain`, `rejected`, `canary`, `promoted`, `rolled_back`,
    /// `approval`.
    pub step: String,
    pub detail: String,
    #[serde(default)]
    pub numbers: std::collections::BTreeMap<String, f64>,
}
