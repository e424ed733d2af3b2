//! The training service's API (`/v1/pipelines`, `/v1/pipeline-runs`): declarative pipelines —
//! data, split, trainer, search, evaluation with gates, registration — and their runs.

use std::collections::BTreeMap;

use cairn_domain::{Name, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Action;

/// A pipeline as written in its file (`cairn pipelines apply -f fraud.toml`). Applying a spec
/// that differs from the latest version makes a new version; runs keep the version they started
/// with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    pub name: Name,
    #[serde(default)]
    pub description: String,
    pub data: DataSpec,
    #[serde(default)]
    pub split: SplitSpec,
    pub trainer: TrainerSpec,
    /// Without it, one trial with the trainer's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchSpec>,
    #[serde(default)]
    pub evaluation: EvaluationSpec,
    pub registration: RegistrationSpec,
    /// What starts a run besides a person (`cairn train`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
}

/// What starts a run by itself. A trigger that fires while a run of the pipeline is unfinished
/// starts nothing (the run under way already trains on fresh data); each firing is recorded, so
/// a redelivered event or a restart never starts a second run for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A cron schedule, in UTC: `{kind = "schedule", cron = "0 3 * * *"}`.
    Schedule { cron: String },
    /// A new version of a dataset: the pipeline's own (its `dataset`, or its `entity_dataset`)
    /// by default.
    Dataset {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dataset: Option<Name>,
    },
    /// The monitoring service reports drift for a model: the pipeline's `registration.model` by
    /// default.
    Drift {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
}

/// Where the training rows come from: a dataset version directly (`dataset`, `version`), or
/// features of a `feature_service` joined as of each row's time onto the rows of
/// `entity_dataset` (entity keys, event time and the label), which the feature store writes as
/// a new version of `<pipeline>_training`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<Name>,
    /// The dataset's version; its latest when the run starts by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_service: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_dataset: Option<Name>,
    /// The column the model learns to predict.
    pub label: String,
    /// The feature columns (a feature service's features by default; otherwise every numeric
    /// column but the label, the time column and `exclude`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// The rows' time column: the time split and the window use it (the dataset's event time
    /// by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_column: Option<String>,
    /// Only rows of the last `last_days` days before the run starts (a retraining's fresh
    /// window)...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_days: Option<u32>,
    /// ... or of a fixed window of time: from `start` (inclusive) to `end` (exclusive), either
    /// open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
}

/// How the platform holds rows out: `holdout` of them for evaluation (the newest by time, or a
/// seeded random draw), and `validation` of the rest for early stopping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    #[serde(default = "SplitSpec::default_kind")]
    pub kind: SplitKind,
    #[serde(default = "SplitSpec::default_holdout")]
    pub holdout: f64,
    #[serde(default = "SplitSpec::default_validation")]
    pub validation: f64,
    #[serde(default)]
    pub seed: u64,
}

impl SplitSpec {
    fn default_kind() -> SplitKind {
        SplitKind::Random
    }
    fn default_holdout() -> f64 {
        0.2
    }
    fn default_validation() -> f64 {
        0.1
    }
}

impl Default for SplitSpec {
    fn default() -> Self {
        Self {
            kind: Self::default_kind(),
            holdout: Self::default_holdout(),
            validation: Self::default_validation(),
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SplitKind {
    Random,
    Time,
}

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Binary,
    Multiclass,
    Regression,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Binary => "binary",
            Task::Multiclass => "multiclass",
            Task::Regression => "regression",
        }
    }
}

/// A built-in trainer (`builtin = "gbdt"` or `"linear"`: linear regression, or logistic for a
/// classification task) or an external `command` that writes `model.onnx` — exactly one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainerSpec {
    pub task: Task,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<BuiltinTrainer>,
    /// The program and its arguments; it is run in a fresh directory with `CAIRN_TRAIN_DATA`,
    /// `CAIRN_VALIDATION_DATA` (Parquet), `CAIRN_PARAMS` (`params.json`) and `CAIRN_MODEL_OUTPUT`
    /// (where to write `model.onnx`) in its environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Parameters every trial gets (a search's draws override them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// A trial still running after this long is stopped and failed.
    #[serde(default = "TrainerSpec::default_timeout")]
    pub timeout_seconds: u64,
    /// The version of the trainer's code (a git commit), recorded with every model it trains
    /// (MLflow's `mlflow.source.git.commit`); a built-in trainer's is the platform's own version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_version: Option<String>,
}

impl TrainerSpec {
    fn default_timeout() -> u64 {
        3600
    }

    /// `gbdt`, `linear` or the command's program.
    pub fn describe(&self) -> String {
        match (&self.builtin, self.command.first()) {
            (Some(builtin), _) => builtin.as_str().to_owned(),
            (None, Some(program)) => program.clone(),
            (None, None) => String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinTrainer {
    Gbdt,
    Linear,
}

impl BuiltinTrainer {
    pub fn as_str(self) -> &'static str {
        match self {
            BuiltinTrainer::Gbdt => "gbdt",
            BuiltinTrainer::Linear => "linear",
        }
    }
}

/// Hyperparameter search: `trials` draws (grid: every combination, at most `trials`) of the
/// `space`, at most `parallelism` at once; the best by `metric` on the validation rows goes on.
/// `halving` (successive halving) trains `trials` random draws with a small `resource` (a
/// parameter such as `num_iterations`), keeps the best 1/`eta` of them, trains those with `eta`
/// times the resource, and so on up to `max_resource`: most of the budget goes to the promising.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchSpec {
    pub strategy: Strategy,
    #[serde(default = "SearchSpec::default_trials")]
    pub trials: u32,
    #[serde(default = "SearchSpec::default_parallelism")]
    pub parallelism: u32,
    /// The objective; the first evaluation metric by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default)]
    pub seed: u64,
    pub space: BTreeMap<String, ParamRange>,
    /// Successive halving's budget parameter (`num_iterations` for the built-in GBDT by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Its value in the first rung, and at most (halving only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_resource: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_resource: Option<u64>,
    /// The share kept each rung is 1/eta (3 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<u32>,
}

impl SearchSpec {
    fn default_trials() -> u32 {
        10
    }
    fn default_parallelism() -> u32 {
        4
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Grid,
    Random,
    Halving,
}

/// The values a parameter may take: `{choice = [4, 6, 8]}`, `{int = [15, 63]}` (both ends
/// included), `{uniform = [0.0, 1.0]}`, `{log_uniform = [0.01, 0.3]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ParamRange {
    #[schema(value_type = Vec<Object>)]
    Choice(Vec<serde_json::Value>),
    Int([i64; 2]),
    Uniform([f64; 2]),
    LogUniform([f64; 2]),
}

/// The metrics the platform computes on its holdout, and the gates a candidate must pass to be
/// registered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationSpec {
    /// The task's standard metrics by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<Gate>,
}

/// A condition on the candidate's holdout metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Gate {
    /// `min` ≤ the metric ≤ `max` (either may be absent).
    Threshold {
        metric: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// Better than the version `alias` points at, on the same holdout, by at least `by` (passes
    /// when the alias points nowhere yet).
    Beat {
        metric: String,
        #[serde(default = "Gate::default_alias")]
        alias: String,
        #[serde(default)]
        by: f64,
    },
    /// The metric on each value of `column` (groups of at least `min_rows` holdout rows) differs
    /// between groups by at most `max_gap` — the fairness check.
    Slice {
        metric: String,
        column: String,
        max_gap: f64,
        #[serde(default = "Gate::default_min_rows")]
        min_rows: usize,
    },
    /// The model is fit to serve: the p99 latency of one prediction through the runtime (one row
    /// at a time, as a request brings it) and the model file's size, below these limits.
    Serving {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p99_ms: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_bytes: Option<u64>,
    },
}

impl Gate {
    fn default_alias() -> String {
        "champion".into()
    }

    fn default_min_rows() -> usize {
        30
    }

    /// The metric the gate holds the candidate to (none for the serving gate).
    pub fn metric(&self) -> Option<&str> {
        match self {
            Gate::Threshold { metric, .. } | Gate::Beat { metric, .. } | Gate::Slice { metric, .. } => {
                Some(metric)
            }
            Gate::Serving { .. } => None,
        }
    }

    /// `threshold`, `beat`, `slice` or `serving`.
    pub fn kind(&self) -> &'static str {
        match self {
            Gate::Threshold { .. } => "threshold",
            Gate::Beat { .. } => "beat",
            Gate::Slice { .. } => "slice",
            Gate::Serving { .. } => "serving",
        }
    }
}

/// Where a candidate that passes goes: a new version of `model` with `tags`, and `alias` moved
/// to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSpec {
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// One version of a pipeline; versions never change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pipeline {
    pub name: Name,
    pub version: i64,
    pub spec: PipelineSpec,
    pub created_at: Timestamp,
}

/// What applying a spec would do (`POST /v1/pipelines/plan`) or did (`POST /v1/pipelines`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PipelinePlan {
    pub name: Name,
    /// `create`, `new_version` or `unchanged`.
    pub action: Action,
    pub from_version: Option<i64>,
    pub to_version: i64,
    /// The top-level parts that differ (`trainer`, `search`, …).
    pub fields: Vec<String>,
}

/// `POST /v1/pipelines/{name}/runs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPipelineRun {
    /// The pipeline version; its latest by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// What started it (`manual` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

/// A run's state: `queued` → `preparing_data` → `training` → `evaluating` → `registering` →
/// `succeeded`, or `failed` / `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    PreparingData,
    Training,
    Evaluating,
    Registering,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunState {
    pub const ALL: [RunState; 8] = [
        RunState::Queued,
        RunState::PreparingData,
        RunState::Training,
        RunState::Evaluating,
        RunState::Registering,
        RunState::Succeeded,
        RunState::Failed,
        RunState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::PreparingData => "preparing_data",
            RunState::Training => "training",
            RunState::Evaluating => "evaluating",
            RunState::Registering => "registering",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|state| state.as_str() == text)
    }

    pub fn finished(self) -> bool {
        matches!(self, RunState::Succeeded | RunState::Failed | RunState::Cancelled)
    }
}

/// A pipeline run: where it is, what it trained and measured, what it decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PipelineRun {
    pub id: String,
    pub pipeline: Name,
    pub pipeline_version: i64,
    pub state: RunState,
    pub trigger: String,
    /// The run this one reproduces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduces: Option<String>,
    /// The dataset version it trained on (`name@version`), once prepared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Rows of each part of the split, once prepared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<SplitRows>,
    pub trials: Vec<Trial>,
    /// What trials are compared by, once they are made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<Objective>,
    /// The trial chosen by the search's metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_trial: Option<u32>,
    /// The best candidate's holdout metrics, measured by the platform.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateResult>,
    /// The registered version (`model@version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// The run's tracking run in the registry (MLflow); each trial has its own beneath it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub steps: Vec<RunStep>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The metric trials are compared by (on the validation rows), and which way is better.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Objective {
    pub metric: String,
    pub higher_is_better: bool,
}

impl Objective {
    /// Whether score `a` beats score `b`.
    pub fn better(&self, a: f64, b: f64) -> bool {
        if self.higher_is_better { a > b } else { a < b }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SplitRows {
    pub train: u64,
    pub validation: u64,
    pub holdout: u64,
}

/// One step of a run and its timing, with what it logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunStep {
    pub step: RunState,
    pub started_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    pub log: Vec<String>,
}

/// One trial: a parameter draw trained by a worker and scored by the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Trial {
    pub number: u32,
    #[schema(value_type = Object)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: String,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// The objective on the holdout, measured by the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_sha256: Option<String>,
    /// How long the worker took (reading the data, training, uploading the model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// When it was last handed to the workers, and when the platform had its verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_run_id: Option<String>,
    /// Successive halving's rung (0 first), whose resource the parameters carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rung: Option<u32>,
}

/// A gate's verdict and the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GateResult {
    pub gate: Gate,
    pub passed: bool,
    /// The candidate's value of the gate's metric.
    pub value: Option<f64>,
    /// What it was held to (the threshold, or the alias's value plus `by`).
    pub required: Option<f64>,
    pub detail: String,
}
