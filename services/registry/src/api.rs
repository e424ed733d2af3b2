//! Cairn's own registry API (`/v1/...`, the platform's error shape): models with their
//! versions, a version's lineage and model card, alias history, the audit log, and which models
//! were trained on a dataset version.

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use cairn_api::{
    AliasAt, AliasRequest, AuditEntry, Decision, Model, ModelVersion, ModelVersionSummary, NewAliasRequest,
    Run, RunPage, TrainedModel,
};
use cairn_domain::Timestamp;
use cairn_http::{ApiError, ErrorKind};
use serde::Deserialize;
use utoipa::OpenApi as _;

use crate::auth::{Actor, authenticate};
use crate::models::{self, ModelError, ModelSearch, VersionSearch, timestamp};
use crate::tracking::{self, RunSearch, TrackingError};
use crate::{Registry, artifacts::ArtifactError};

type State = web::Data<Registry>;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .wrap(from_fn(authenticate))
            .route("/models", web::get().to(list_models))
            .route("/models/{name}", web::get().to(get_model))
            .route("/models/{name}/versions/{version}", web::get().to(get_version))
            .route("/models/{name}/versions/{version}/card", web::get().to(get_card))
            .route("/models/{name}/aliases/{alias}", web::get().to(get_alias))
            .route("/models/{name}/aliases/{alias}/protection", web::put().to(protect))
            .route("/models/{name}/aliases/{alias}/protection", web::delete().to(unprotect))
            .route("/models/{name}/aliases/{alias}/requests", web::post().to(request_move))
            .route("/approvals", web::get().to(list_approvals))
            .route("/approvals/{id}/approve", web::post().to(approve))
            .route("/approvals/{id}/reject", web::post().to(reject))
            .route("/audit", web::get().to(get_audit))
            .route("/lineage/datasets/{dataset}/versions/{version}", web::get().to(trained_on))
            .route("/runs", web::get().to(list_runs))
            .route("/runs/{id}", web::get().to(get_run)),
    );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_models, get_model, get_version, get_card, get_alias, protect, unprotect, request_move, list_approvals, approve, reject, get_audit, trained_on, list_runs, get_run),
    components(schemas(Model, ModelVersionSummary, ModelVersion, cairn_api::Lineage, cairn_api::DatasetRef, cairn_api::OnnxSignature, cairn_api::OnnxTensor, cairn_api::OnnxDim, AliasAt, cairn_api::AliasMove, AuditEntry, TrainedModel, AliasRequest, NewAliasRequest, Decision, Run, RunPage)),
    tags((name = "models", description = "Registered models, versions, lineage and governance"))
)]
struct RegistryApi;

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    RegistryApi::openapi()
}

impl From<ModelError> for ApiError {
    fn from(error: ModelError) -> Self {
        match error {
            ModelError::NotFound(message) => ApiError::not_found(message),
            ModelError::AlreadyExists(message) => ApiError::conflict(message),
            ModelError::Invalid(message) => ApiError::invalid(message),
            ModelError::Forbidden(message) => ApiError::new(ErrorKind::Forbidden, message),
            ModelError::Conflict(message) => ApiError::conflict(message),
            ModelError::Tracking(TrackingError::NotFound(message)) => ApiError::not_found(message),
            ModelError::Tracking(TrackingError::AlreadyExists(message)) => ApiError::conflict(message),
            ModelError::Tracking(error @ (TrackingError::Invalid(_) | TrackingError::Filter(_))) => {
                ApiError::invalid(error.to_string())
            }
            ModelError::Tracking(TrackingError::Database(error)) | ModelError::Database(error) => {
                database(error)
            }
            ModelError::Artifact(ArtifactError::Database(error)) => database(error),
            ModelError::Artifact(error) => ApiError::internal(error),
        }
    }
}

fn database(error: cairn_db::DbError) -> ApiError {
    use cairn_db::DbError;
    match error {
        DbError::Pool(_) | DbError::Connect { .. } | DbError::Cancelled => {
            ApiError::unavailable(error.to_string())
        }
        other => ApiError::internal(other),
    }
}

fn summary(version: &models::ModelVersion) -> ModelVersionSummary {
    ModelVersionSummary {
        version: version.version,
        created_at: timestamp(version.creation_time),
        created_by: version.user_id.clone(),
        stage: version.current_stage.as_str().to_owned(),
        aliases: version.aliases.clone(),
        run_id: version.run_id.clone(),
    }
}

async fn model(state: &State, registered: models::RegisteredModel) -> Result<Model, ApiError> {
    let search = VersionSearch {
        filter: format!("name = '{}'", registered.name.replace('\'', "''")),
        max_results: Some(crate::tracking::MAX_RESULTS),
        order_by: vec!["version_number DESC".into()],
        page_token: None,
    };
    let versions = models::search_versions(&state.context.db, search).await?;
    Ok(Model {
        created_at: timestamp(registered.creation_time),
        updated_at: timestamp(registered.last_update_time),
        tags: registered.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        aliases: registered.aliases.into_iter().map(|a| (a.alias, a.version)).collect(),
        versions: versions.items.iter().map(summary).collect(),
        name: registered.name,
        description: registered.description,
    })
}

/// Every registered model with its versions.
#[utoipa::path(get, path = "/v1/models", tag = "models", responses((status = 200, body = Vec<Model>)))]
async fn list_models(state: State) -> Result<HttpResponse, ApiError> {
    let search = ModelSearch { max_results: Some(crate::tracking::MAX_RESULTS), ..ModelSearch::default() };
    let mut out = Vec::new();
    for registered in models::search_models(&state.context.db, search).await?.items {
        out.push(model(&state, registered).await?);
    }
    Ok(HttpResponse::Ok().json(out))
}

/// One registered model with its versions, newest first.
#[utoipa::path(get, path = "/v1/models/{name}", tag = "models",
    params(("name" = String, Path, description = "Registered model")),
    responses((status = 200, body = Model), (status = 404, body = cairn_http::ErrorBody)))]
async fn get_model(state: State, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let registered = models::model(&state.context.db, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(model(&state, registered).await?))
}

async fn detail(state: &State, name: String, version: i64) -> Result<ModelVersion, ApiError> {
    let version = models::version(&state.context.db, name, version).await?;
    let lineage = models::lineage(&state.context.db, &version).await?;
    Ok(ModelVersion {
        name: version.name,
        version: version.version,
        created_at: timestamp(version.creation_time),
        created_by: version.user_id,
        description: version.description,
        source: version.source,
        storage_location: version.storage_location,
        stage: version.current_stage.as_str().to_owned(),
        aliases: version.aliases,
        tags: version.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        model_id: version.model_id,
        lineage,
        signature: version.signature,
    })
}

/// A version with its lineage: run, parameters, metrics, code version, datasets.
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}", tag = "models",
    params(("name" = String, Path), ("version" = i64, Path)),
    responses((status = 200, body = ModelVersion), (status = 404, body = cairn_http::ErrorBody)))]
async fn get_version(state: State, path: web::Path<(String, i64)>) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    Ok(HttpResponse::Ok().json(detail(&state, name, version).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct CardQuery {
    /// `markdown` (default) or `html`.
    format: Option<String>,
}

/// The version's model card.
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}/card", tag = "models",
    params(("name" = String, Path), ("version" = i64, Path), CardQuery),
    responses((status = 200, description = "text/markdown or text/html", body = String),
              (status = 404, body = cairn_http::ErrorBody), (status = 422, body = cairn_http::ErrorBody)))]
async fn get_card(
    state: State,
    path: web::Path<(String, i64)>,
    query: web::Query<CardQuery>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let version = detail(&state, name, version).await?;
    match query.format.as_deref().unwrap_or("markdown") {
        "markdown" | "md" => Ok(HttpResponse::Ok()
            .content_type("text/markdown; charset=utf-8")
            .body(models::card::markdown(&version))),
        "html" => {
            Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(models::card::html(&version)))
        }
        other => Err(ApiError::invalid(format!("format must be markdown or html, not `{other}`"))),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
struct AliasQuery {
    /// RFC 3339 time; default now.
    at: Option<String>,
}

/// Which version an alias pointed at at a time, and its whole history.
#[utoipa::path(get, path = "/v1/models/{name}/aliases/{alias}", tag = "models",
    params(("name" = String, Path), ("alias" = String, Path), AliasQuery),
    responses((status = 200, body = AliasAt), (status = 404, body = cairn_http::ErrorBody)))]
async fn get_alias(
    state: State,
    path: web::Path<(String, String)>,
    query: web::Query<AliasQuery>,
) -> Result<HttpResponse, ApiError> {
    let (name, alias) = path.into_inner();
    let at = match &query.at {
        Some(text) => Timestamp::parse_rfc3339(text).map_err(|error| {
            ApiError::new(ErrorKind::BadRequest, format!("`at` is not an RFC 3339 time: {error}"))
        })?,
        None => Timestamp::now(),
    };
    models::model(&state.context.db, name.clone()).await?;
    let history = models::alias_history(&state.context.db, name.clone(), alias.clone()).await?;
    if history.is_empty() {
        return Err(ApiError::not_found(format!("registered model `{name}` never had the alias `{alias}`")));
    }
    let version = history.iter().rev().find(|m| m.changed_at <= at).and_then(|m| m.version);
    Ok(HttpResponse::Ok().json(AliasAt { alias, at, version, history }))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct AuditQuery {
    /// Only this entity (e.g. `registered_model:churn`, `model_version:churn/2`).
    entity: Option<String>,
    /// Only entries after this sequence number (for paging).
    after: Option<i64>,
    /// At most this many (1–10000, default 1000).
    limit: Option<i64>,
}

/// The audit log, oldest first.
#[utoipa::path(get, path = "/v1/audit", tag = "models", params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntry>), (status = 422, body = cairn_http::ErrorBody)))]
async fn get_audit(state: State, query: web::Query<AuditQuery>) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 10000"));
    }
    let records =
        models::audit_log(&state.context.db, query.entity.clone(), query.after.unwrap_or(0), limit).await?;
    let parse = |json: Option<String>| json.and_then(|text| serde_json::from_str(&text).ok());
    let entries: Vec<AuditEntry> = records
        .into_iter()
        .map(|r| AuditEntry {
            seq: r.seq,
            at: timestamp(r.at),
            actor: r.actor,
            action: r.action,
            entity: r.entity,
            before: parse(r.before_json),
            after: parse(r.after_json),
        })
        .collect();
    Ok(HttpResponse::Ok().json(entries))
}

/// Model versions trained on a dataset version (their runs' `cairn.dataset.<name>` tags).
#[utoipa::path(get, path = "/v1/lineage/datasets/{dataset}/versions/{version}", tag = "models",
    params(("dataset" = String, Path), ("version" = i64, Path)),
    responses((status = 200, body = Vec<TrainedModel>)))]
async fn trained_on(state: State, path: web::Path<(String, i64)>) -> Result<HttpResponse, ApiError> {
    let (dataset, version) = path.into_inner();
    Ok(HttpResponse::Ok().json(models::trained_on(&state.context.db, dataset, version).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct RunsQuery {
    /// The experiment's name.
    experiment: String,
    /// MLflow's filter grammar (`metrics.auc > 0.8 AND params.depth = '6'`).
    filter: Option<String>,
    /// One ordering (`metrics.auc DESC`); newest first by default.
    order_by: Option<String>,
    /// Page size (1–50000, default 1000).
    max_results: Option<i64>,
    page_token: Option<String>,
}

/// Runs of an experiment, filtered and ordered as in MLflow, with their data, code and the
/// model versions registered from them.
#[utoipa::path(get, path = "/v1/runs", tag = "models", params(RunsQuery),
    responses((status = 200, body = RunPage), (status = 400, body = cairn_http::ErrorBody), (status = 404, body = cairn_http::ErrorBody)))]
async fn list_runs(state: State, query: web::Query<RunsQuery>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let db = &state.context.db;
    let experiment = tracking::experiment_by_name(db, query.experiment).await.map_err(ModelError::from)?;
    let search = RunSearch {
        experiment_ids: vec![experiment.id.to_string()],
        filter: query.filter.unwrap_or_default(),
        max_results: query.max_results,
        order_by: query.order_by.into_iter().collect(),
        page_token: query.page_token,
        ..RunSearch::default()
    };
    let page = tracking::search_runs(db, search).await.map_err(ModelError::from)?;
    let registered =
        models::registered_from(db, page.items.iter().map(|r| r.info.run_id.clone()).collect()).await?;
    let runs = page.items.into_iter().map(|run| run_view(run, &experiment.name, &registered)).collect();
    Ok(HttpResponse::Ok().json(RunPage { runs, next_page_token: page.next_page_token }))
}

/// One run with its data, code and the model versions registered from it.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "models", params(("id" = String, Path)),
    responses((status = 200, body = Run), (status = 404, body = cairn_http::ErrorBody)))]
async fn get_run(state: State, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let db = &state.context.db;
    let run = tracking::run(db, path.into_inner()).await.map_err(ModelError::from)?;
    let experiment =
        tracking::experiment(db, &run.info.experiment_id.to_string()).await.map_err(ModelError::from)?;
    let registered = models::registered_from(db, vec![run.info.run_id.clone()]).await?;
    Ok(HttpResponse::Ok().json(run_view(run, &experiment.name, &registered)))
}

fn run_view(run: tracking::Run, experiment: &str, registered: &[TrainedModel]) -> Run {
    let lineage = models::lineage_of(&run, Some(experiment.to_owned()));
    let info = run.info;
    Run {
        code_version: lineage.code_version,
        feature_service: lineage.feature_service,
        datasets: lineage.datasets,
        params: lineage.params,
        metrics: lineage.metrics,
        models: registered.iter().filter(|m| m.run_id == info.run_id).cloned().collect(),
        name: info.name,
        experiment: experiment.to_owned(),
        status: info.status.as_str().to_owned(),
        user: info.user_id,
        started_at: timestamp(info.start_time),
        ended_at: info.end_time.map(timestamp),
        tags: run.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        run_id: info.run_id,
    }
}

/// Protect an alias: from now on it moves only through an approved request (approvers only).
#[utoipa::path(put, path = "/v1/models/{name}/aliases/{alias}/protection", tag = "models",
    params(("name" = String, Path), ("alias" = String, Path)),
    responses((status = 204), (status = 403, body = cairn_http::ErrorBody), (status = 404, body = cairn_http::ErrorBody)))]
async fn protect(
    state: State,
    path: web::Path<(String, String)>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (name, alias) = path.into_inner();
    models::set_protection(&state.context.db, &state.approvers, name, alias, true, Actor::of(&request))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lift an alias's protection (approvers only).
#[utoipa::path(delete, path = "/v1/models/{name}/aliases/{alias}/protection", tag = "models",
    params(("name" = String, Path), ("alias" = String, Path)),
    responses((status = 204), (status = 403, body = cairn_http::ErrorBody), (status = 404, body = cairn_http::ErrorBody)))]
async fn unprotect(
    state: State,
    path: web::Path<(String, String)>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (name, alias) = path.into_inner();
    models::set_protection(&state.context.db, &state.approvers, name, alias, false, Actor::of(&request))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ask for a protected alias to move to a version.
#[utoipa::path(post, path = "/v1/models/{name}/aliases/{alias}/requests", tag = "models",
    params(("name" = String, Path), ("alias" = String, Path)), request_body = NewAliasRequest,
    responses((status = 201, body = AliasRequest), (status = 404, body = cairn_http::ErrorBody), (status = 422, body = cairn_http::ErrorBody)))]
async fn request_move(
    state: State,
    path: web::Path<(String, String)>,
    body: web::Json<NewAliasRequest>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (name, alias) = path.into_inner();
    let body = body.into_inner();
    let created = models::request_move(
        &state.context.db,
        &state.context.outbox,
        name,
        alias,
        body.version,
        body.reason,
        Actor::of(&request),
    )
    .await?;
    Ok(HttpResponse::Created().json(created))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct ApprovalsQuery {
    /// `pending`, `approved` or `rejected`; every request when absent.
    state: Option<String>,
}

/// Requests to move protected aliases, oldest first.
#[utoipa::path(get, path = "/v1/approvals", tag = "models", params(ApprovalsQuery),
    responses((status = 200, body = Vec<AliasRequest>)))]
async fn list_approvals(state: State, query: web::Query<ApprovalsQuery>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(models::requests(&state.context.db, query.into_inner().state).await?))
}

async fn decide(
    state: State,
    id: String,
    approve: bool,
    body: Option<web::Json<Decision>>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let reason = body.map(|b| b.into_inner().reason).unwrap_or_default();
    let decided = models::decide(
        &state.context.db,
        &state.context.outbox,
        &state.approvers,
        id,
        approve,
        reason,
        Actor::of(&request),
    )
    .await?;
    Ok(HttpResponse::Ok().json(decided))
}

/// Approve a request: the alias moves (an approver other than the requester).
#[utoipa::path(post, path = "/v1/approvals/{id}/approve", tag = "models", params(("id" = String, Path)), request_body = Option<Decision>,
    responses((status = 200, body = AliasRequest), (status = 403, body = cairn_http::ErrorBody), (status = 409, body = cairn_http::ErrorBody)))]
async fn approve(
    state: State,
    path: web::Path<String>,
    body: Option<web::Json<Decision>>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    decide(state, path.into_inner(), true, body, request).await
}

/// Reject a request: the alias stays.
#[utoipa::path(post, path = "/v1/approvals/{id}/reject", tag = "models", params(("id" = String, Path)), request_body = Option<Decision>,
    responses((status = 200, body = AliasRequest), (status = 403, body = cairn_http::ErrorBody), (status = 409, body = cairn_http::ErrorBody)))]
async fn reject(
    state: State,
    path: web::Path<String>,
    body: Option<web::Json<Decision>>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    decide(state, path.into_inner(), false, body, request).await
}
