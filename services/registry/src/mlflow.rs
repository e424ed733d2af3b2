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

fn key_values(items: &[KeyValue]) -> Value {
    items.iter().map(|item| json!({"key": item.key, "value": item.value})).collect()
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

fn metric_json(metric: &Metric) -> Value {
    #[derive(serde::Serialize)]
    struct Point<'a> {
        key: &'a str,
        #[serde(serialize_with = "json::serialize_double")]
        value: f64,
        timestamp: i64,
        step: i64,
    }
    serde_json::to_value(Point {
        key: &metric.key,
        value: metric.value,
        timestamp: metric.timestamp,
        step: metric.step,
    })
    .unwrap_or_default()
}

fn run_info_json(info: &RunInfo) -> Value {
    let mut value = json!({
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.name,
        "experiment_id": info.experiment_id.to_string(),
        "user_id": info.user_id,
        "status": info.status.as_str(),
        "start_time": info.start_time,
        "artifact_uri": info.artifact_uri,
        "lifecycle_stage": info.lifecycle_stage.as_str(),
    });
    if let Some(end_time) = info.end_time {
        value["end_time"] = json!(end_time);
    }
    value
}

fn run_json(run: &Run) -> Value {
    json!({
        "info": run_info_json(&run.info),
        "data": {
            "metrics": run.metrics.iter().map(metric_json).collect::<Value>(),
            "params": key_values(&run.params),
            "tags": key_values(&run.tags),
        },
        "inputs": {},
        "outputs": {
            "model_outputs": run.outputs.iter().map(|(model_id, step)| json!({"model_id": model_id, "step": step})).collect::<Value>(),
        },
    })
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
