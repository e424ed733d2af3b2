//! `/api/2.0/mlflow/registered-models/...` and `/api/2.0/mlflow/model-versions/...`: the
//! model registry as MLflow's clients know it (versions always READY: files are copied before
//! a version is acknowledged).

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{self, KeyValue, message, required, required_text};
use super::{MlflowError, State, actor, key_values, ok, paged};
use crate::models::{self, ModelSearch, ModelVersion, NewVersion, RegisteredModel, Stage, VersionSearch};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/registered-models/create", web::post().to(create_model))
        .route("/registered-models/get", web::get().to(get_model))
        .route("/registered-models/rename", web::post().to(rename_model))
        .route("/registered-models/update", web::patch().to(update_model))
        .route("/registered-models/delete", web::delete().to(delete_model))
        .route("/registered-models/search", web::get().to(search_models))
        .route("/registered-models/set-tag", web::post().to(set_model_tag))
        .route("/registered-models/delete-tag", web::delete().to(delete_model_tag))
        .route("/registered-models/get-latest-versions", web::post().to(latest_versions))
        .route("/registered-models/get-latest-versions", web::get().to(latest_versions))
        .route("/registered-models/alias", web::post().to(set_alias))
        .route("/registered-models/alias", web::delete().to(delete_alias))
        .route("/registered-models/alias", web::get().to(get_by_alias))
        .route("/model-versions/create", web::post().to(create_version))
        .route("/model-versions/get", web::get().to(get_version))
        .route("/model-versions/update", web::patch().to(update_version))
        .route("/model-versions/delete", web::delete().to(delete_version))
        .route("/model-versions/search", web::get().to(search_versions))
        .route("/model-versions/get-download-uri", web::get().to(download_uri))
        .route("/model-versions/transition-stage", web::post().to(transition_stage))
        .route("/model-versions/set-tag", web::post().to(set_version_tag))
        .route("/model-versions/delete-tag", web::delete().to(delete_version_tag));
}

fn version_json(version: &ModelVersion) -> Value {
    let mut value = json!({
        "name": version.name,
        "version": version.version.to_string(),
        "creation_timestamp": version.creation_time,
        "last_updated_timestamp": version.last_update_time,
        "user_id": version.user_id,
        "current_stage": version.current_stage.as_str(),
        "description": version.description,
        "source": version.source,
        "status": "READY",
        "tags": key_values(&version.tags),
        "aliases": version.aliases,
    });
    for (field, item) in
        [("run_id", &version.run_id), ("run_link", &version.run_link), ("model_id", &version.model_id)]
    {
        if let Some(item) = item {
            value[field] = json!(item);
        }
    }
    value
}

fn model_json(model: &RegisteredModel) -> Value {
    json!({
        "name": model.name,
        "creation_timestamp": model.creation_time,
        "last_updated_timestamp": model.last_update_time,
        "description": model.description,
        "latest_versions": model.latest_versions.iter().map(version_json).collect::<Vec<_>>(),
        "tags": key_values(&model.tags),
        "aliases": model.aliases.iter().map(|a| json!({"alias": a.alias, "version": a.version.to_string()})).collect::<Vec<_>>(),
    })
}

fn parse_version(version: Option<String>) -> Result<i64, MlflowError> {
    let text = required_text(version, "version")?;
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| MlflowError::invalid(format!("`{text}` is not a version number")))
}

#[derive(Deserialize)]
struct Model {
    name: Option<String>,
    new_name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    key: Option<String>,
    value: Option<String>,
    alias: Option<String>,
    version: Option<String>,
    #[serde(default, deserialize_with = "json::strings")]
    stages: Vec<String>,
}

async fn create_model(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let m: Model = message(&request, &body)?;
    let tags = m.tags.into_iter().map(|t| t.into_tracking("tags")).collect::<Result<_, _>>()?;
    let model = models::create_model(
        &state.context.db,
        required_text(m.name, "name")?,
        m.description.unwrap_or_default(),
        tags,
        actor(&request),
    )
    .await?;
    ok(json!({"registered_model": model_json(&model)}))
}

async fn get_model(state: State, request: HttpRequest) -> Result<HttpResponse, MlflowError> {
    let m: Model = message(&request, &[])?;
    let model = models::model(&state.context.db, required_text(m.name, "name")?).await?;
    ok(json!({"registered_model": model_json(&model)}))
}

async fn rename_model(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let m: Model = message(&request, &body)?;
    let (name, new_name) = (required_text(m.name, "name")?, required_text(m.new_name, "new_name")?);
    let model = models::rename_model(&state.context.db, name, new_name, actor(&request)).await?;
    ok(json!({"registered_model": model_json(&model)}))
}

async fn update_model(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let m: Model = message(&request, &body)?;
    let name = required_text(m.name, "name")?;
    let model =
        models::update_model(&state.context.db, name, m.description.unwrap_or_default(), actor(&request))
            .await?;
    ok(json!({"registered_model": model_json(&model)}))
}

async fn delete_model(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let m: Model = message(&request, &body)?;
    models::delete_model(
        &state.context.db,
        &state.artifacts,
        required_text(m.name, "name")?,
        actor(&request),
    )
    .await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct Search {
    filter: Option<String>,
    #[serde(default, deserialize_with = "json::int")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "json::strings")]
    order_by: Vec<String>,
    page_token: Option<String>,
}

async fn search_models(state: State, request: HttpRequest) -> Result<HttpResponse, MlflowError> {
    let s: Search = message(&request, &[])?;
    let search = ModelSearch {
        filter: s.filter.unwrap_or_default(),
        max_results: s.max_results,
        order_by: s.order_by,
        page_token: s.page_token,
    };
    let page = models::search_models(&state.context.db, search).await?;
    paged("registered_models", page.items.iter().map(model_json).collect(), page.next_page_token)
}

async fn set_model_tag(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let m: Model = message(&request, &body)?;
    let tag = crate::tracking::KeyValue { key: required(m.key, "key")?, value: m.value.unwrap_or_default() };
    models::set_model_tag(&state.context.db, required_text(m.name, "name")?, tag, actor(&request)).await?;
    ok(json!({}))
}

async fn delete_model_tag(
    state: State,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, MlflowError> {
    let m: Model = message(&request, &body)?;
    let (name, key) = (required_text(m.name, "name")?, required(m.key, "key")?);
    models::delete_model_tag(&state.context.db, name, key, actor(&request)).await?;
    ok(json!({}))
}

async fn latest_versions(
    state: State,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, MlflowError> {
    let m: Model = message(&request, &body)?;
    let stages = m.stages.iter().map(|s| Stage::parse(s)).collect::<Result<_, _>>()?;
    let versions = models::latest_versions(&state.context.db, required_text(m.name, "name")?, stages).await?;
    ok(json!({"model_versions": versions.iter().map(version_json).collect::<Vec<_>>()}))
}

async fn set_alias(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let m: Model = message(&request, &body)?;
    let (name, alias) = (required_text(m.name, "name")?, required_text(m.alias, "alias")?);
    let version = parse_version(m.version)?;
    models::set_alias(&state.context.db, &state.context.outbox, name, alias, version, actor(&request))
        .await?;
    ok(json!({}))
}

async fn delete_alias(state: State, request: HttpRequest, body: Bytes) -> Result<HttpResponse, MlflowError> {
    let m: Model = message(&request, &body)?;
    let (name, alias) = (required_text(m.name, "name")?, required_text(m.alias, "alias")?);
    models::delete_alias(&state.context.db, &state.context.outbox, name, alias, actor(&request)).await?;
    ok(json!({}))
}

async fn get_by_alias(state: State, request: HttpRequest) -> Result<HttpResponse, MlflowError> {
    let m: Model = message(&request, &[])?;
    let (name, alias) = (required_text(m.name, "name")?, required_text(m.alias, "alias")?);
    let version = models::version_by_alias(&state.context.db, name, alias).await?;
    ok(json!({"model_version": version_json(&version)}))
}

#[derive(Deserialize)]
struct Version {
    name: Option<String>,
    version: Option<String>,
    source: Option<String>,
    run_id: Option<String>,
    run_link: Option<String>,
    model_id: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    key: Option<String>,
    value: Option<String>,
    stage: Option<String>,
    #[serde(default)]
    archive_existing_versions: Option<Value>,
}

async fn create_version(
    state: State,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, MlflowError> {
    let v: Version = message(&request, &body)?;
    let new = NewVersion {
        name: required_text(v.name, "name")?,
        source: required_text(v.source, "source")?,
        run_id: v.run_id,
        run_link: v.run_link.filter(|link| !link.is_empty()),
        description: v.description.unwrap_or_default(),
        tags: v.tags.into_iter().map(|t| t.into_tracking("tags")).collect::<Result<_, _>>()?,
        model_id: v.model_id,
        user_id: actor(&request),
    };
    let actor = new.user_id.clone();
    let version =
        models::create_version(&state.context.db, &state.context.outbox, &state.artifacts, new, actor)
            .await?;
    ok(json!({"model_version": version_json(&version)}))
}

async fn get_version(state: State, request: HttpRequest) -> Result<HttpResponse, MlflowError> {
    let v: Version = message(&request, &[])?;
    let version =
        models::version(&state.context.db, required_text(v.name, "name")?, parse_version(v.version)?).await?;
    ok(json!({"model_version": version_json(&version)}))
}

async fn update_version(
    state: State,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, MlflowError> {
    let v: Version = message(&request, &body)?;
    let (name, number) = (required_text(v.name, "name")?, parse_version(v.version)?);
    let description = v.description.unwrap_or_default();
    let version =
        models::update_version(&state.context.db, name, number, description, actor(&request)).await?;
    ok(json!({"model_version": version_json(&version)}))
}

async fn delete_version(
    state: State,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, MlflowError> {
    let v: Version = message(&request, &body)?;
    let (name, number) = (required_text(v.name, "name")?, parse_version(v.version)?);
    models::delete_version(&state.context.db, &state.artifacts, name, number, actor(&request)).await?;
    ok(json!({}))
}

async fn search_versions(state: State, request: HttpRequest) -> Result<HttpResponse, MlflowError> {
    let s: Search = message(&request, &[])?;
    let search = VersionSearch {
        filter: s.filter.unwrap_or_default(),
        max_results: s.max_results,
        order_by: s.order_by,
        page_token: s.page_token,
    };
    let page = models::search_versions(&state.context.db, search).await?;
    paged("model_versions", page.items.iter().map(version_json).collect(), page.next_page_token)
}

async fn download_uri(state: State, request: HttpRequest) -> Result<HttpResponse, MlflowError> {
    let v: Version = message(&request, &[])?;
    let uri =
        models::download_uri(&state.context.db, required_text(v.name, "name")?, parse_version(v.version)?)
            .await?;
    ok(json!({"artifact_uri": uri}))
}

async fn transition_stage(
    state: State,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, MlflowError> {
    let v: Version = message(&request, &body)?;
    let (name, number) = (required_text(v.name, "name")?, parse_version(v.version)?);
    let stage = Stage::parse(&required_text(v.stage, "stage")?)?;
    let archive = match v.archive_existing_versions {
        Some(Value::Bool(archive)) => archive,
        Some(Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let version = models::transition_stage(
        &state.context.db,
        &state.context.outbox,
        name,
        number,
        stage,
        archive,
        actor(&request),
    )
    .await?;
    ok(json!({"model_version": version_json(&version)}))
}

async fn set_version_tag(
    state: State,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, MlflowError> {
    let v: Version = message(&request, &body)?;
    let (name, number) = (required_text(v.name, "name")?, parse_version(v.version)?);
    let tag = crate::tracking::KeyValue { key: required(v.key, "key")?, value: v.value.unwrap_or_default() };
    models::set_version_tag(&state.context.db, name, number, tag, actor(&request)).await?;
    ok(json!({}))
}

async fn delete_version_tag(
    state: State,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, MlflowError> {
    let v: Version = message(&request, &body)?;
    let (name, number) = (required_text(v.name, "name")?, parse_version(v.version)?);
    models::delete_version_tag(&state.context.db, name, number, required(v.key, "key")?, actor(&request))
        .await?;
    ok(json!({}))
}
