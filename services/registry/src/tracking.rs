//! Experiment tracking: experiments, runs, their parameters, tags and metric histories, and
//! search over them. Transport-neutral: the MLflow REST layer and Cairn's own API both call it.

mod chunks;
mod experiments;
pub mod filter;
pub(crate) mod key_values;
mod log;
mod logged_models;
mod names;
mod runs;
pub(crate) mod search;
pub(crate) mod validate;

use cairn_db::DbError;

pub use experiments::{
    ExperimentSearch, create_experiment, delete_experiment_tag, experiment, experiment_by_name,
    rename_experiment, search_experiments, set_experiment_stage, set_experiment_tag,
};
pub use log::{LogBatch, delete_tag, log_batch, metric_history};
pub use logged_models::{
    LoggedModel, LoggedModelSearch, ModelStatus, NewLoggedModel, create_logged_model, delete_logged_model,
    delete_logged_model_tag, finalize_logged_model, log_logged_model_params, log_outputs, logged_model,
    search_logged_models, set_logged_model_tags,
};
pub use runs::{NewRun, RunUpdate, create_run, run, set_run_stage, update_run};
pub use search::{RunSearch, search_runs};

/// At most this many items in one page of a search.
pub const MAX_RESULTS: i64 = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Filter(#[from] filter::FilterError),
    #[error("{0}")]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for TrackingError {
    fn from(error: diesel::result::Error) -> Self {
        TrackingError::Database(DbError::Query(error))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleStage {
    Active,
    Deleted,
}

impl LifecycleStage {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }

    fn parse(text: &str) -> Result<Self, DbError> {
        match text {
            "active" => Ok(LifecycleStage::Active),
            "deleted" => Ok(LifecycleStage::Deleted),
            other => Err(DbError::Corrupt(format!("lifecycle stage `{other}`"))),
        }
    }
}

/// Which lifecycle stages a search covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    fn stages(self) -> &'static [&'static str] {
        match self {
            ViewType::ActiveOnly => &["active"],
            ViewType::DeletedOnly => &["deleted"],
            ViewType::All => &["active", "deleted"],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub const ALL: [RunStatus; 5] =
        [RunStatus::Running, RunStatus::Scheduled, RunStatus::Finished, RunStatus::Failed, RunStatus::Killed];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub id: i64,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: LifecycleStage,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub run_id: String,
    pub experiment_id: i64,
    pub name: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub lifecycle_stage: LifecycleStage,
    pub artifact_uri: String,
}

/// One point of a metric's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub step: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub info: RunInfo,
    /// The latest point of each metric.
    pub metrics: Vec<Metric>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
    /// Logged models the run produced, with the step of each.
    pub outputs: Vec<(String, i64)>,
}

/// One page of results and the token for the next, if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

/// Page tokens are offsets; opaque to clients.
pub(crate) fn page_offset(token: Option<&str>) -> Result<i64, TrackingError> {
    match token.filter(|token| !token.is_empty()) {
        None => Ok(0),
        Some(token) => token
            .parse::<i64>()
            .ok()
            .filter(|offset| *offset >= 0)
            .ok_or_else(|| TrackingError::Invalid(format!("invalid page token `{token}`"))),
    }
}

pub(crate) fn page_size(max_results: Option<i64>, default: i64) -> Result<i64, TrackingError> {
    match max_results {
        None => Ok(default),
        Some(n) if (1..=MAX_RESULTS).contains(&n) => Ok(n),
        Some(n) => {
            Err(TrackingError::Invalid(format!("max_results must be between 1 and {MAX_RESULTS}, got {n}")))
        }
    }
}

/// Appends `ORDER BY … LIMIT limit + 1 OFFSET offset`: the row past the page tells whether
/// another page follows (see `split_page`).
pub(crate) fn push_page(sql: &mut cairn_db::Sql, order: &[String], offset: i64, limit: i64) {
    sql.push(" ORDER BY ")
        .push(&order.join(", "))
        .push(" LIMIT ")
        .bind(limit + 1)
        .push(" OFFSET ")
        .bind(offset);
}

/// Splits rows fetched with `LIMIT limit + 1` into the page's rows and the next page's token.
pub(crate) fn split_page<R>(mut rows: Vec<R>, offset: i64, limit: i64) -> (Vec<R>, Option<String>) {
    let next_page_token = (rows.len() as i64 > limit).then(|| (offset + limit).to_string());
    rows.truncate(limit as usize);
    (rows, next_page_token)
}

pub(crate) fn now_millis() -> i64 {
    cairn_domain::Timestamp::now().as_micros() / 1000
}
