//! `/api/2.0/mlflow/logged-models/...` and `runs/outputs`: MLflow 3 logged models.

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{self, KeyValue, message, required_text};
use super::{MlflowError, State, key_values, ok, paged};
use crate::tracking::{self, LoggedModel, LoggedModelSearch, ModelStatus, NewLoggedModel};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/logged-models", web::post().to(create))
        .route("/logged-models/search", web::post().to(search))
        .route("/logged-models/{model_id}", web::get().to(get))
        .route("/logged-models/{model_id}", web::patch().to(finalize))
        .route("/logged-models/{model_id}", web::delete().to(delete))
        .route("/logged-models/{model_id}/tags", web::patch().to(set_tags))
        .route("/logged-models/{model_id}/tags/{key}", web::delete().to(delete_tag))
        .route("/logged-models/{model_id}/params", web::post().to(log_params))
        .route("/runs/outputs", web::post().to(log_outputs));
}

fn status_name(status: ModelStatus) -> &'static str {
    match status {
        ModelStatus::Pending => "LOGGED_MODEL_PENDING",
        ModelStatus::Ready => "LOGGED_MODEL_READY",
        ModelStatus::Failed => "LOGGED_MODEL_UPLOAD_FAILED",
    }
}

fn model_json(model: &LoggedModel) -> Value {
    let mut info = json!({
        "model_id": model.model_id,
        "experiment_id": model.experiment_id.to_string(),
        "name": model.name,
        "artifact_uri": model.artifact_uri,
        "status": status_name(model.status),
        "creation_timestamp_ms": model.creation_time,
        "last_updated_timestamp_ms": model.last_update_time,
        "tags": key_values(&model.tags),
    });
    for (field, value) in [
        ("model_type", &model.model_type),
        ("source_run_id", &model.source_run_id),
        ("status_message", &model.status_message),
    ] {
        if let Some(value) = value {
            info[field] = json!(value);
        }
    }
    json!({"info": info, "data": {"params": key_values(&model.params), "metrics": []}})
}

fn items(items: Vec<KeyValue>, kind: &str) -> Result<Vec<tracking::KeyValue>, MlflowError> {
    items.into_iter().map(|item| item.into_tracking(kind)).collect()
}

#[derive(Deserialize)]
struct Create {
    experiment_id: Option<String>,
    name: Option<String>,
    model_type: Option<String>,
    source_run_id: Option<String>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn create(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let create: Create = message(&request, &body)?;
    let new = NewLoggedModel {
        experiment_id: required_text(create.experiment_id, "experiment_id")?,
        name: create.name,
        model_type: create.model_type.filter(|t| !t.is_empty()),
        source_run_id: create.source_run_id.filter(|id| !id.is_empty()),
        params: items(create.params, "params")?,
        tags: items(create.tags, "tags")?,
    };
    let model = tracking::create_logged_model(&state.context.db, new).await?;
    ok(json!({"model": model_json(&model)}))
}

async fn get(state: State, path: web::Path<String>) -> Result<HttpResponse, MlflowError> {
    let model = tracking::logged_model(&state.context.db, path.into_inner()).await?;
    ok(json!({"model": model_json(&model)}))
}

#[derive(Deserialize)]
struct Finalize {
    status: Option<Value>,
}

async fn finalize(
    state: State,
    path: web::Path<String>,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, MlflowError> {
    let finalize: Finalize = message(&request, &body)?;
    let status = match finalize.status {
        Some(Value::String(name)) if name == "LOGGED_MODEL_READY" => ModelStatus::Ready,
        Some(Value::String(name)) if name == "LOGGED_MODEL_UPLOAD_FAILED" => ModelStatus::Failed,
        Some(Value::Number(n)) if n.as_i64() == Some(2) => ModelStatus::Ready,
        Some(Value::Number(n)) if n.as_i64() == Some(3) => ModelStatus::Failed,
        other => {
            return Err(MlflowError::invalid(format!(
                "status must be LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED, got {}",
                other.map_or_else(|| "nothing".to_owned(), |v| v.to_string())
            )));
        }
    };
    let model = tracking::finalize_logged_model(&state.context.db, path.into_inner(), status).await?;
    ok(json!({"model": model_json(&model)}))
}

async fn delete(state: State, path: web::Path<String>) -> Result<HttpResponse, MlflowError> {
    tracking::delete_logged_model(&state.context.db, path.into_inner()).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct Items {
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    params: Vec<KeyValue>,
}

async fn set_tags(
    state: State,
    path: web::Path<String>,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, MlflowError> {
    let tags = items(message::<Items>(&request, &body)?.tags, "tags")?;
    tracking::set_logged_model_tags(&state.context.db, path.into_inner(), tags).await?;
    ok(json!({}))
}

async fn delete_tag(state: State, path: web::Path<(String, String)>) -> Result<HttpResponse, MlflowError> {
    let (model_id, key) = path.into_inner();
    tracking::delete_logged_model_tag(&state.context.db, model_id, key).await?;
    ok(json!({}))
}

async fn log_params(
    state: State,
    path: web::Path<String>,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, MlflowError> {
    let params = items(message::<Items>(&request, &body)?.params, "params")?;
    tracking::log_logged_model_params(&state.context.db, path.into_inner(), params).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct OrderBy {
    field_name: Option<String>,
    #[serde(default = "ascending")]
    ascending: bool,
}

fn ascending() -> bool {
    true
}

#[derive(Deserialize)]
struct Search {
    #[serde(default, deserialize_with = "json::strings")]
    experiment_ids: Vec<String>,
    filter: Option<String>,
    #[serde(default, deserialize_with = "json::int")]
    max_results: Option<i64>,
    #[serde(default)]
    order_by: Vec<OrderBy>,
    page_token: Option<String>,
}

async fn search(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let search: Search = message(&request, &body)?;
    let order_by = search
        .order_by
        .into_iter()
        .map(|order| Ok((required_text(order.field_name, "order_by.field_name")?, order.ascending)))
        .collect::<Result<_, MlflowError>>()?;
    let page = tracking::search_logged_models(
        &state.context.db,
        LoggedModelSearch {
            experiment_ids: search.experiment_ids,
            filter: search.filter.unwrap_or_default(),
            max_results: search.max_results,
            order_by,
            page_token: search.page_token,
        },
    )
    .await?;
    paged("models", page.items.iter().map(model_json).collect(), page.next_page_token)
}

#[derive(Deserialize)]
struct Output {
    model_id: Option<String>,
    #[serde(default, deserialize_with = "json::int")]
    step: Option<i64>,
}

#[derive(Deserialize)]
struct Outputs {
    run_id: Option<String>,
    #[serde(default)]
    models: Vec<Output>,
}

async fn log_outputs(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let outputs: Outputs = message(&request, &body)?;
    let models = outputs
        .models
        .into_iter()
        .map(|model| Ok((required_text(model.model_id, "models.model_id")?, model.step.unwrap_or(0))))
        .collect::<Result<_, MlflowError>>()?;
    tracking::log_outputs(&state.context.db, required_text(outputs.run_id, "run_id")?, models).await?;
    ok(json!({}))
}
