//! MLflow's REST API (`/api/2.0/mlflow/...`): what the `mlflow` Python client and other MLflow
//! tools call, answered from Cairn's tracking core with MLflow's JSON shapes and error codes.

mod artifacts;
mod error;
mod experiments;
mod json;
mod logged_models;
mod registry;
mod runs;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

pub(crate) use error::{ErrorCode, MlflowError};

use crate::Registry;
use crate::auth::authenticate;
use crate::tracking::{Experiment, KeyValue, Metric, Run, RunInfo};

type State = web::Data<Registry>;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/3.0/mlflow/server-info").route(web::get().to(server_info)))
        .service(
            web::scope("/api/2.0/mlflow-artifacts")
                .wrap(from_fn(authenticate))
                .configure(artifacts::configure)
                .default_service(web::to(endpoint_not_found)),
        )
        .service(
            web::scope("/api/2.0/mlflow")
                .wrap(from_fn(authenticate))
                .configure(experiments::configure)
                .configure(runs::configure)
                .configure(logged_models::configure)
                .configure(registry::configure)
                .default_service(web::to(endpoint_not_found)),
        );
}

/// What the client asks before it uploads artifacts: this server proxies them itself, in one
/// request per file.
async fn server_info() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": {"gateway": false},
    }))
}

async fn endpoint_not_found(request: HttpRequest) -> Result<HttpResponse, MlflowError> {
    Err(MlflowError::new(
        ErrorCode::EndpointNotFound,
        format!("{} {} is not an endpoint of this MLflow-compatible API", request.method(), request.path()),
    ))
}

/// Who is making the request, for the audit log (see `auth`).
fn actor(request: &HttpRequest) -> String {
    crate::auth::Actor::of(request)
}

fn ok(body: Value) -> Result<HttpResponse, MlflowError> {
    Ok(HttpResponse::Ok().json(body))
}

/// `{field: [items], "next_page_token": …}`, the token only when there is a next page.
fn paged<T: serde::Serialize>(
    field: &str,
    items: Vec<T>,
    next_page_token: Option<String>,
) -> Result<HttpResponse, MlflowError> {
    let mut body = json!({ field: items });
    if let Some(token) = next_page_token {
        body["next_page_token"] = json!(token);
    }
    ok(body)
}

/// `[{"key": …, "value": …}, …]`, serialized straight from the items.
struct KeyValues<'a>(&'a [KeyValue]);

impl serde::Serialize for KeyValues<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Item<'a> {
            key: &'a str,
            value: &'a str,
        }
        serializer.collect_seq(self.0.iter().map(|item| Item { key: &item.key, value: &item.value }))
    }
}

fn key_values(items: &[KeyValue]) -> KeyValues<'_> {
    KeyValues(items)
}

fn experiment_json(experiment: &Experiment) -> Value {
    json!({
        "experiment_id": experiment.id.to_string(),
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage.as_str(),
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
        "tags": key_values(&experiment.tags),
    })
}

// Runs are serialized from typed views rather than built as `Value` trees: a search answers
// with a thousand of them.

#[derive(serde::Serialize)]
struct MetricJson<'a> {
    key: &'a str,
    #[serde(serialize_with = "json::serialize_double")]
    value: f64,
    timestamp: i64,
    step: i64,
}

fn metric_json(metric: &Metric) -> MetricJson<'_> {
    MetricJson { key: &metric.key, value: metric.value, timestamp: metric.timestamp, step: metric.step }
}

#[derive(serde::Serialize)]
struct RunInfoJson<'a> {
    run_id: &'a str,
    run_uuid: &'a str,
    run_name: &'a str,
    experiment_id: String,
    user_id: &'a str,
    status: &'static str,
    start_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
    artifact_uri: &'a str,
    lifecycle_stage: &'static str,
}

fn run_info_json(info: &RunInfo) -> RunInfoJson<'_> {
    RunInfoJson {
        run_id: &info.run_id,
        run_uuid: &info.run_id,
        run_name: &info.name,
        experiment_id: info.experiment_id.to_string(),
        user_id: &info.user_id,
        status: info.status.as_str(),
        start_time: info.start_time,
        end_time: info.end_time,
        artifact_uri: &info.artifact_uri,
        lifecycle_stage: info.lifecycle_stage.as_str(),
    }
}

#[derive(serde::Serialize)]
struct RunDataJson<'a> {
    metrics: Vec<MetricJson<'a>>,
    params: KeyValues<'a>,
    tags: KeyValues<'a>,
}

#[derive(serde::Serialize)]
struct ModelOutputJson<'a> {
    model_id: &'a str,
    step: i64,
}

#[derive(serde::Serialize)]
struct RunOutputsJson<'a> {
    model_outputs: Vec<ModelOutputJson<'a>>,
}

#[derive(serde::Serialize)]
struct RunJson<'a> {
    info: RunInfoJson<'a>,
    data: RunDataJson<'a>,
    inputs: serde_json::Map<String, Value>,
    outputs: RunOutputsJson<'a>,
}

fn run_json(run: &Run) -> RunJson<'_> {
    RunJson {
        info: run_info_json(&run.info),
        data: RunDataJson {
            metrics: run.metrics.iter().map(metric_json).collect(),
            params: key_values(&run.params),
            tags: key_values(&run.tags),
        },
        inputs: serde_json::Map::new(),
        outputs: RunOutputsJson {
            model_outputs: run
                .outputs
                .iter()
                .map(|(model_id, step)| ModelOutputJson { model_id, step: *step })
                .collect(),
        },
    }
}

/// `run_view_type` / `view_type`: MLflow's enum by name or number.
fn view_type(value: Option<&str>) -> Result<crate::tracking::ViewType, MlflowError> {
    use crate::tracking::ViewType;
    match value {
        None | Some("" | "ACTIVE_ONLY" | "1") => Ok(ViewType::ActiveOnly),
        Some("DELETED_ONLY" | "2") => Ok(ViewType::DeletedOnly),
        Some("ALL" | "3") => Ok(ViewType::All),
        Some(other) => Err(MlflowError::invalid(format!(
            "invalid view type `{other}` (ACTIVE_ONLY, DELETED_ONLY or ALL)"
        ))),
    }
}
