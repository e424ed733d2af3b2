//! `/api/2.0/mlflow/experiments/...`

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::json::{self, KeyValue, message, required, required_text};
use super::{MlflowError, State, experiment_json, ok, paged, view_type};
use crate::tracking::{self, ExperimentSearch, LifecycleStage};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/experiments/create", web::post().to(create))
        .route("/experiments/get", web::get().to(get))
        .route("/experiments/get-by-name", web::get().to(get_by_name))
        .route("/experiments/search", web::post().to(search))
        .route("/experiments/search", web::get().to(search))
        .route("/experiments/update", web::post().to(update))
        .route("/experiments/delete", web::post().to(delete))
        .route("/experiments/restore", web::post().to(restore))
        .route("/experiments/set-experiment-tag", web::post().to(set_tag))
        .route("/experiments/delete-experiment-tag", web::post().to(delete_tag));
}

#[derive(Deserialize)]
struct Create {
    name: Option<String>,
    artifact_location: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn create(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let create: Create = message(&request, &body)?;
    let name = required_text(create.name, "name")?;
    let tags = create.tags.into_iter().map(|tag| tag.into_tracking("tags")).collect::<Result<_, _>>()?;
    let id = tracking::create_experiment(&state.context.db, name, create.artifact_location, tags).await?;
    ok(json!({"experiment_id": id.to_string()}))
}

#[derive(Deserialize)]
struct ById {
    experiment_id: Option<String>,
}

async fn get(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let by: ById = message(&request, &body)?;
    let experiment =
        tracking::experiment(&state.context.db, &required_text(by.experiment_id, "experiment_id")?).await?;
    ok(json!({"experiment": experiment_json(&experiment)}))
}

#[derive(Deserialize)]
struct ByName {
    experiment_name: Option<String>,
}

async fn get_by_name(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let by: ByName = message(&request, &body)?;
    let name = required_text(by.experiment_name, "experiment_name")?;
    let experiment = tracking::experiment_by_name(&state.context.db, name).await?;
    ok(json!({"experiment": experiment_json(&experiment)}))
}

#[derive(Deserialize)]
struct Search {
    #[serde(default, deserialize_with = "json::int")]
    max_results: Option<i64>,
    page_token: Option<String>,
    filter: Option<String>,
    #[serde(default, deserialize_with = "json::strings")]
    order_by: Vec<String>,
    view_type: Option<String>,
}

async fn search(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let search: Search = message(&request, &body)?;
    let page = tracking::search_experiments(
        &state.context.db,
        ExperimentSearch {
            filter: search.filter.unwrap_or_default(),
            view: view_type(search.view_type.as_deref())?,
            max_results: search.max_results,
            order_by: search.order_by,
            page_token: search.page_token,
        },
    )
    .await?;
    paged("experiments", page.items.iter().map(experiment_json).collect(), page.next_page_token)
}

#[derive(Deserialize)]
struct Update {
    experiment_id: Option<String>,
    new_name: Option<String>,
}

async fn update(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let update: Update = message(&request, &body)?;
    let id = required_text(update.experiment_id, "experiment_id")?;
    tracking::rename_experiment(&state.context.db, &id, required_text(update.new_name, "new_name")?).await?;
    ok(json!({}))
}

async fn delete(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    set_stage(state, request, body, LifecycleStage::Deleted).await
}

async fn restore(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    set_stage(state, request, body, LifecycleStage::Active).await
}

async fn set_stage(
    state: State,
    request: HttpRequest,
    body: Bytes,
    stage: LifecycleStage,
) -> Result<HttpResponse, MlflowError> {
    let by: ById = message(&request, &body)?;
    let id = required_text(by.experiment_id, "experiment_id")?;
    tracking::set_experiment_stage(&state.context.db, &id, stage).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct Tag {
    experiment_id: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

async fn set_tag(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let tag: Tag = message(&request, &body)?;
    let id = required_text(tag.experiment_id, "experiment_id")?;
    let tag = tracking::KeyValue { key: required(tag.key, "key")?, value: tag.value.unwrap_or_default() };
    tracking::set_experiment_tag(&state.context.db, &id, tag).await?;
    ok(json!({}))
}

async fn delete_tag(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let tag: Tag = message(&request, &body)?;
    let id = required_text(tag.experiment_id, "experiment_id")?;
    tracking::delete_experiment_tag(&state.context.db, &id, required(tag.key, "key")?).await?;
    ok(json!({}))
}
