//! `/api/2.0/mlflow/runs/...` and `/api/2.0/mlflow/metrics/...`

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::json::{self, KeyValue, message, required, required_text};
use super::{MlflowError, State, metric_json, ok, paged, run_info_json, run_json, view_type};
use crate::tracking::{self, LifecycleStage, LogBatch, Metric, NewRun, RunSearch, RunStatus, RunUpdate};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/runs/create", web::post().to(create))
        .route("/runs/get", web::get().to(get))
        .route("/runs/update", web::post().to(update))
        .route("/runs/delete", web::post().to(delete))
        .route("/runs/restore", web::post().to(restore))
        .route("/runs/log-metric", web::post().to(log_metric))
        .route("/runs/log-parameter", web::post().to(log_param))
        .route("/runs/set-tag", web::post().to(set_tag))
        .route("/runs/delete-tag", web::post().to(delete_tag))
        .route("/runs/log-batch", web::post().to(log_batch))
        .route("/runs/search", web::post().to(search))
        .route("/runs/search", web::get().to(search))
        .route("/metrics/get-history", web::get().to(metric_history));
}

/// MLflow's old clients send `run_uuid` where new ones send `run_id`.
#[derive(Deserialize)]
struct RunRef {
    run_id: Option<String>,
    run_uuid: Option<String>,
}

impl RunRef {
    fn id(self) -> Result<String, MlflowError> {
        required_text(self.run_id.filter(|id| !id.is_empty()).or(self.run_uuid), "run_id")
    }
}

#[derive(Deserialize)]
struct Create {
    experiment_id: Option<String>,
    user_id: Option<String>,
    run_name: Option<String>,
    #[serde(default, deserialize_with = "json::int")]
    start_time: Option<i64>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn create(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let create: Create = message(&request, &body)?;
    let new = NewRun {
        // MLflow puts runs without an experiment into the Default one.
        experiment_id: create.experiment_id.filter(|id| !id.is_empty()).unwrap_or_else(|| "0".into()),
        user_id: create.user_id,
        run_name: create.run_name,
        start_time: create.start_time,
        tags: create.tags.into_iter().map(|tag| tag.into_tracking("tags")).collect::<Result<_, _>>()?,
    };
    let run = tracking::create_run(&state.context.db, new).await?;
    ok(json!({"run": run_json(&run)}))
}

async fn get(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let id = message::<RunRef>(&request, &body)?.id()?;
    let run = tracking::run(&state.context.db, id).await?;
    ok(json!({"run": run_json(&run)}))
}

#[derive(Deserialize)]
struct Update {
    #[serde(flatten)]
    run: RunRef,
    status: Option<String>,
    #[serde(default, deserialize_with = "json::int")]
    end_time: Option<i64>,
    run_name: Option<String>,
}

async fn update(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let update: Update = message(&request, &body)?;
    let status = match update.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(RunStatus::parse(text).ok_or_else(|| {
            MlflowError::invalid(format!(
                "invalid run status `{text}` (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)"
            ))
        })?),
    };
    let change = RunUpdate { status, end_time: update.end_time, run_name: update.run_name };
    let info = tracking::update_run(&state.context.db, update.run.id()?, change).await?;
    ok(json!({"run_info": run_info_json(&info)}))
}

async fn delete(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let id = message::<RunRef>(&request, &body)?.id()?;
    tracking::set_run_stage(&state.context.db, id, LifecycleStage::Deleted).await?;
    ok(json!({}))
}

async fn restore(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let id = message::<RunRef>(&request, &body)?.id()?;
    tracking::set_run_stage(&state.context.db, id, LifecycleStage::Active).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct MetricPoint {
    key: Option<String>,
    #[serde(default, deserialize_with = "json::double")]
    value: Option<f64>,
    #[serde(default, deserialize_with = "json::int")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "json::int")]
    step: Option<i64>,
}

impl MetricPoint {
    fn into_tracking(self) -> Result<Metric, MlflowError> {
        Ok(Metric {
            key: required(self.key, "key")?,
            value: required(self.value, "value")?,
            timestamp: required(self.timestamp, "timestamp")?,
            step: self.step.unwrap_or(0),
        })
    }
}

#[derive(Deserialize)]
struct LogMetric {
    #[serde(flatten)]
    run: RunRef,
    #[serde(flatten)]
    point: MetricPoint,
}

async fn log_metric(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let log: LogMetric = message(&request, &body)?;
    let batch = LogBatch { metrics: vec![log.point.into_tracking()?], ..LogBatch::default() };
    tracking::log_batch(&state.context.db, log.run.id()?, batch).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct LogKeyValue {
    #[serde(flatten)]
    run: RunRef,
    key: Option<String>,
    value: Option<String>,
}

impl LogKeyValue {
    fn split(self) -> Result<(String, tracking::KeyValue), MlflowError> {
        let item =
            tracking::KeyValue { key: required(self.key, "key")?, value: self.value.unwrap_or_default() };
        Ok((self.run.id()?, item))
    }
}

async fn log_param(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let (run_id, param) = message::<LogKeyValue>(&request, &body)?.split()?;
    tracking::log_batch(&state.context.db, run_id, LogBatch { params: vec![param], ..LogBatch::default() })
        .await?;
    ok(json!({}))
}

async fn set_tag(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let (run_id, tag) = message::<LogKeyValue>(&request, &body)?.split()?;
    tracking::log_batch(&state.context.db, run_id, LogBatch { tags: vec![tag], ..LogBatch::default() })
        .await?;
    ok(json!({}))
}

async fn delete_tag(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let (run_id, tag) = message::<LogKeyValue>(&request, &body)?.split()?;
    tracking::delete_tag(&state.context.db, run_id, tag.key).await?;
    ok(json!({}))
}

/// Not `#[serde(flatten)]` like the small messages: flattening buffers the whole body first.
#[derive(Deserialize)]
struct Batch {
    run_id: Option<String>,
    run_uuid: Option<String>,
    #[serde(default)]
    metrics: Vec<MetricPoint>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn log_batch(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let batch: Batch = message(&request, &body)?;
    let log = LogBatch {
        metrics: batch.metrics.into_iter().map(MetricPoint::into_tracking).collect::<Result<_, _>>()?,
        params: batch
            .params
            .into_iter()
            .map(|param| param.into_tracking("params"))
            .collect::<Result<_, _>>()?,
        tags: batch.tags.into_iter().map(|tag| tag.into_tracking("tags")).collect::<Result<_, _>>()?,
    };
    let run = RunRef { run_id: batch.run_id, run_uuid: batch.run_uuid };
    tracking::log_batch(&state.context.db, run.id()?, log).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct Search {
    #[serde(default, deserialize_with = "json::strings")]
    experiment_ids: Vec<String>,
    filter: Option<String>,
    run_view_type: Option<String>,
    #[serde(default, deserialize_with = "json::int")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "json::strings")]
    order_by: Vec<String>,
    page_token: Option<String>,
}

async fn search(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let search: Search = message(&request, &body)?;
    let page = tracking::search_runs(
        &state.context.db,
        RunSearch {
            experiment_ids: search.experiment_ids,
            filter: search.filter.unwrap_or_default(),
            view: view_type(search.run_view_type.as_deref())?,
            max_results: search.max_results,
            order_by: search.order_by,
            page_token: search.page_token,
        },
    )
    .await?;
    #[derive(serde::Serialize)]
    struct Runs<'a> {
        runs: Vec<super::RunJson<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_page_token: Option<&'a str>,
    }
    let body = Runs {
        runs: page.items.iter().map(run_json).collect(),
        next_page_token: page.next_page_token.as_deref(),
    };
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
struct History {
    #[serde(flatten)]
    run: RunRef,
    metric_key: Option<String>,
    #[serde(default, deserialize_with = "json::int")]
    max_results: Option<i64>,
    page_token: Option<String>,
}

async fn metric_history(
    state: State,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, MlflowError> {
    let history: History = message(&request, &body)?;
    let key = required_text(history.metric_key, "metric_key")?;
    let page = tracking::metric_history(
        &state.context.db,
        history.run.id()?,
        key,
        history.max_results,
        history.page_token,
    )
    .await?;
    paged("metrics", page.items.iter().map(metric_json).collect(), page.next_page_token)
}
