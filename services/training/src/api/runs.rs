//! `/v1/pipelines/{name}/runs` and `/v1/pipeline-runs`: start, follow and cancel runs.

use actix_web::{HttpResponse, web};
use cairn_api::{NewPipelineRun, PipelineRun};
use cairn_http::ApiError;
use serde::Deserialize;

use crate::State;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/pipelines/{name}/runs", web::post().to(start))
        .route("/v1/pipeline-runs", web::get().to(list))
        .route("/v1/pipeline-runs/{id}", web::get().to(get))
        .route("/v1/pipeline-runs/{id}/cancel", web::post().to(cancel))
        .route("/v1/pipeline-runs/{id}/reproduce", web::post().to(reproduce));
}

/// Starts a run of the pipeline (its latest version, or `version`); the body may be empty. The
/// answer is the run, queued; follow it with `GET /v1/pipeline-runs/{id}`.
#[utoipa::path(post, path = "/v1/pipelines/{name}/runs", tag = "runs", params(("name" = String, Path)),
    request_body = NewPipelineRun,
    responses((status = 202, body = PipelineRun), (status = 404, body = cairn_http::ErrorBody),
              (status = 422, body = cairn_http::ErrorBody)))]
pub(super) async fn start(
    state: web::Data<State>,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: NewPipelineRun = if body.iter().all(u8::is_ascii_whitespace) {
        NewPipelineRun::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| ApiError::invalid(error.to_string()))?
    };
    let pipeline = state.pipelines.get(&name, request.version).await?;
    let run = state.runs.start(pipeline.name, pipeline.version, pipeline.spec, request).await?;
    Ok(HttpResponse::Accepted().json(run))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct ListQuery {
    /// Only this pipeline's runs.
    pipeline: Option<String>,
    /// At most this many (100 by default).
    limit: Option<i64>,
}

/// The latest runs, newest first.
#[utoipa::path(get, path = "/v1/pipeline-runs", tag = "runs", params(ListQuery),
    responses((status = 200, body = Vec<PipelineRun>)))]
pub(super) async fn list(
    state: web::Data<State>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    Ok(HttpResponse::Ok().json(state.runs.list(query.pipeline.as_deref(), limit).await?))
}

/// One run: its state, steps with their logs and timings, trials, metrics and gates.
#[utoipa::path(get, path = "/v1/pipeline-runs/{id}", tag = "runs", params(("id" = String, Path)),
    responses((status = 200, body = PipelineRun), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn get(state: web::Data<State>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.runs.get(&id).await?.run))
}

/// Asks the run to stop (409 once it has finished).
#[utoipa::path(post, path = "/v1/pipeline-runs/{id}/cancel", tag = "runs", params(("id" = String, Path)),
    responses((status = 200, body = PipelineRun), (status = 404, body = cairn_http::ErrorBody),
              (status = 409, body = cairn_http::ErrorBody)))]
pub(super) async fn cancel(state: web::Data<State>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.runs.cancel(&id).await?))
}

/// Runs it again on the same pipeline version, dataset version, split, trials and seeds (202: the
/// new run, queued; a built-in trainer makes the same model file, byte for byte).
#[utoipa::path(post, path = "/v1/pipeline-runs/{id}/reproduce", tag = "runs", params(("id" = String, Path)),
    responses((status = 202, body = PipelineRun), (status = 404, body = cairn_http::ErrorBody),
              (status = 409, body = cairn_http::ErrorBody)))]
pub(super) async fn reproduce(
    state: web::Data<State>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Accepted().json(state.runs.reproduce(&id).await?))
}
