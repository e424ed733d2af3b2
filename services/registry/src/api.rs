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

use crate::Registry;
use crate::auth::{Actor, authenticate};
use crate::models::{self, AuditQuery, ExperimentRuns};

mod error;

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

/// Every registered model with its versions.
#[utoipa::path(get, path = "/v1/models", tag = "models", responses((status = 200, body = Vec<Model>)))]
async fn list_models(state: State) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(models::list_models(&state.context.db).await?))
}

/// One registered model with its versions, newest first.
#[utoipa::path(get, path = "/v1/models/{name}", tag = "models",
    params(("name" = String, Path, description = "Registered model")),
    responses((status = 200, body = Model), (status = 404, body = cairn_http::ErrorBody)))]
async fn get_model(state: State, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(models::model_overview(&state.context.db, path.into_inner()).await?))
}

/// A version with its lineage: run, parameters, metrics, code version, datasets.
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}", tag = "models",
    params(("name" = String, Path), ("version" = i64, Path)),
    responses((status = 200, body = ModelVersion), (status = 404, body = cairn_http::ErrorBody)))]
async fn get_version(state: State, path: web::Path<(String, i64)>) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    Ok(HttpResponse::Ok().json(models::version_detail(&state.context.db, name, version).await?))
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
    let html = match query.format.as_deref().unwrap_or("markdown") {
        "markdown" | "md" => false,
        "html" => true,
        other => return Err(ApiError::invalid(format!("format must be markdown or html, not `{other}`"))),
    };
    let version = models::version_detail(&state.context.db, name, version).await?;
    Ok(if html {
        HttpResponse::Ok().content_type("text/html; charset=utf-8").body(models::card::html(&version))
    } else {
        HttpResponse::Ok().content_type("text/markdown; charset=utf-8").body(models::card::markdown(&version))
    })
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
    let at = query.at.as_deref().map(Timestamp::parse_rfc3339).transpose().map_err(|error| {
        ApiError::new(ErrorKind::BadRequest, format!("`at` is not an RFC 3339 time: {error}"))
    })?;
    Ok(HttpResponse::Ok().json(models::alias_at(&state.context.db, name, alias, at).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct AuditParams {
    /// Only this entity (e.g. `registered_model:churn`, `model_version:churn/2`).
    entity: Option<String>,
    /// Only entries after this sequence number (for paging).
    after: Option<i64>,
    /// At most this many (1–10000, default 1000).
    limit: Option<i64>,
}

/// The audit log, oldest first.
#[utoipa::path(get, path = "/v1/audit", tag = "models", params(AuditParams),
    responses((status = 200, body = Vec<AuditEntry>), (status = 422, body = cairn_http::ErrorBody)))]
async fn get_audit(state: State, query: web::Query<AuditParams>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let query = AuditQuery {
        entity: query.entity,
        after: query.after.unwrap_or(0),
        limit: query.limit.unwrap_or(AuditQuery::DEFAULT_LIMIT),
    };
    Ok(HttpResponse::Ok().json(models::audit_log(&state.context.db, query).await?))
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
    let query = ExperimentRuns {
        experiment: query.experiment,
        filter: query.filter.unwrap_or_default(),
        order_by: query.order_by,
        max_results: query.max_results,
        page_token: query.page_token,
    };
    Ok(HttpResponse::Ok().json(models::runs_with_models(&state.context.db, query).await?))
}

/// One run with its data, code and the model versions registered from it.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "models", params(("id" = String, Path)),
    responses((status = 200, body = Run), (status = 404, body = cairn_http::ErrorBody)))]
async fn get_run(state: State, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(models::run_with_models(&state.context.db, path.into_inner()).await?))
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
