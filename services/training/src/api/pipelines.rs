//! `/v1/pipelines`: plan, apply and read pipeline specs.

use actix_web::{HttpResponse, web};
use cairn_api::{Action, Pipeline, PipelinePlan, PipelineSpec};
use cairn_http::ApiError;

use crate::State;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/pipelines/plan", web::post().to(plan))
        .route("/v1/pipelines", web::post().to(apply))
        .route("/v1/pipelines", web::get().to(list))
        .route("/v1/pipelines/{name}", web::get().to(get))
        .route("/v1/pipelines/{name}/versions", web::get().to(versions));
}

/// What applying the spec would do, after checking it and what it names (422 naming the field).
#[utoipa::path(post, path = "/v1/pipelines/plan", tag = "pipelines", request_body = PipelineSpec,
    responses((status = 200, body = PipelinePlan), (status = 422, body = cairn_http::ErrorBody)))]
pub(super) async fn plan(
    state: web::Data<State>,
    spec: web::Json<PipelineSpec>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.pipelines.plan(&spec).await?))
}

/// Applies the spec: a new version when it differs from the latest (201), nothing otherwise (200).
#[utoipa::path(post, path = "/v1/pipelines", tag = "pipelines", request_body = PipelineSpec,
    responses((status = 201, body = PipelinePlan), (status = 200, body = PipelinePlan),
              (status = 422, body = cairn_http::ErrorBody), (status = 409, body = cairn_http::ErrorBody)))]
pub(super) async fn apply(
    state: web::Data<State>,
    spec: web::Json<PipelineSpec>,
) -> Result<HttpResponse, ApiError> {
    let plan = state.pipelines.apply(spec.into_inner()).await?;
    Ok(if plan.action == Action::Unchanged { HttpResponse::Ok() } else { HttpResponse::Created() }.json(plan))
}

/// The latest version of every pipeline.
#[utoipa::path(get, path = "/v1/pipelines", tag = "pipelines", responses((status = 200, body = Vec<Pipeline>)))]
pub(super) async fn list(state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.pipelines.list().await?))
}

/// A pipeline's latest version.
#[utoipa::path(get, path = "/v1/pipelines/{name}", tag = "pipelines", params(("name" = String, Path)),
    responses((status = 200, body = Pipeline), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn get(state: web::Data<State>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.pipelines.get(&name, None).await?))
}

/// Every version of a pipeline, oldest first.
#[utoipa::path(get, path = "/v1/pipelines/{name}/versions", tag = "pipelines", params(("name" = String, Path)),
    responses((status = 200, body = Vec<Pipeline>), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn versions(
    state: web::Data<State>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.pipelines.versions(&name).await?))
}
