//! HTTP: drift between dataset versions (`/v1/drift`) and what the monitor sees of an endpoint's
//! prediction log (`/v1/monitor/endpoints/{endpoint}`). Handlers parse, call the core, and map.

mod error;

use actix_web::{HttpResponse, web};
use cairn_api::{DriftReport, DriftRequest, EndpointMonitor, LoopEvent, LoopPolicy, LoopStatus};
use cairn_http::ApiError;
use serde::Deserialize;
use utoipa::OpenApi as _;

use crate::State;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/drift", web::post().to(drift))
        .route("/v1/monitor/endpoints/{endpoint}", web::get().to(endpoint))
        .route("/v1/monitor/endpoints/{endpoint}/report", web::get().to(report))
        .route("/v1/loops", web::get().to(loops))
        .route("/v1/loops/{endpoint}", web::put().to(set_loop))
        .route("/v1/loops/{endpoint}", web::get().to(get_loop))
        .route("/v1/loops/{endpoint}", web::delete().to(delete_loop))
        .route("/v1/loops/{endpoint}/history", web::get().to(history));
}

/// Whether the current version's columns are distributed as the reference's: per column the
/// method and threshold Evidently would pick for its type and size, and the dataset's verdict.
#[utoipa::path(post, path = "/v1/drift", tag = "drift", request_body = DriftRequest,
    responses((status = 200, body = DriftReport), (status = 404, body = cairn_http::ErrorBody),
              (status = 422, body = cairn_http::ErrorBody)))]
pub(crate) async fn drift(
    state: web::Data<State>,
    request: web::Json<DriftRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.batch.compare(request.into_inner()).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct WindowsQuery {
    /// Closed windows to return, newest first (default 20, at most 1000).
    limit: Option<i64>,
}

/// An endpoint's prediction log as the monitor sees it: each model version's window filling
/// now, and the latest closed windows with every feature's drift.
#[utoipa::path(get, path = "/v1/monitor/endpoints/{endpoint}", tag = "monitor",
    params(("endpoint" = String, Path), WindowsQuery),
    responses((status = 200, body = EndpointMonitor), (status = 404, body = cairn_http::ErrorBody)))]
pub(crate) async fn endpoint(
    state: web::Data<State>,
    path: web::Path<String>,
    query: web::Query<WindowsQuery>,
) -> Result<HttpResponse, ApiError> {
    let monitor = state.watch.endpoint(&path, query.limit.unwrap_or(20)).await?;
    Ok(HttpResponse::Ok().json(monitor))
}

/// The endpoint's drift and performance report: one self-contained HTML page.
#[utoipa::path(get, path = "/v1/monitor/endpoints/{endpoint}/report", tag = "monitor",
    params(("endpoint" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = cairn_http::ErrorBody)))]
pub(crate) async fn report(
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let html = crate::report::of(&state.db, &state.loops, &path).await?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}

/// Every endpoint's loop.
#[utoipa::path(get, path = "/v1/loops", tag = "loops", responses((status = 200, body = Vec<LoopStatus>)))]
pub(crate) async fn loops(state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.loops.list().await?))
}

/// Sets an endpoint's continuous-training policy (422 naming the field; the pipeline must exist).
#[utoipa::path(put, path = "/v1/loops/{endpoint}", tag = "loops", request_body = LoopPolicy,
    params(("endpoint" = String, Path)),
    responses((status = 200, body = LoopStatus), (status = 422, body = cairn_http::ErrorBody)))]
pub(crate) async fn set_loop(
    state: web::Data<State>,
    path: web::Path<String>,
    policy: web::Json<LoopPolicy>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.loops.set(&path, policy.into_inner()).await?))
}

/// An endpoint's loop: its policy and where its cycle stands.
#[utoipa::path(get, path = "/v1/loops/{endpoint}", tag = "loops", params(("endpoint" = String, Path)),
    responses((status = 200, body = LoopStatus), (status = 404, body = cairn_http::ErrorBody)))]
pub(crate) async fn get_loop(
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.loops.get(&path).await?))
}

/// Removes an endpoint's loop (its history stays).
#[utoipa::path(delete, path = "/v1/loops/{endpoint}", tag = "loops", params(("endpoint" = String, Path)),
    responses((status = 204), (status = 404, body = cairn_http::ErrorBody)))]
pub(crate) async fn delete_loop(
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.loops.delete(&path).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct HistoryQuery {
    /// The latest decisions to return (default 200).
    limit: Option<i64>,
}

/// Every decision of an endpoint's loop, oldest first, each with what it saw.
#[utoipa::path(get, path = "/v1/loops/{endpoint}/history", tag = "loops",
    params(("endpoint" = String, Path), HistoryQuery),
    responses((status = 200, body = Vec<LoopEvent>), (status = 404, body = cairn_http::ErrorBody)))]
pub(crate) async fn history(
    state: web::Data<State>,
    path: web::Path<String>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.loops.history(&path, query.limit.unwrap_or(200)).await?))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(drift, endpoint, report, loops, set_loop, get_loop, delete_loop, history),
    components(schemas(
        cairn_api::DriftRequest, cairn_api::DriftReport, cairn_api::ColumnDrift, cairn_api::VersionRef,
        cairn_api::EndpointMonitor, cairn_api::OpenWindow, cairn_api::MonitorWindow, cairn_api::Unjudged,
        cairn_api::LivePerformance, cairn_api::FeedbackSummary, cairn_api::LoopPolicy, cairn_api::LoopStatus,
        cairn_api::LoopEvent
    )),
    tags((name = "drift", description = "Drift between dataset versions"),
         (name = "monitor", description = "The prediction log's windows, judged for drift"),
         (name = "loops", description = "Continuous training: retrain, canary, promote or roll back"))
)]
struct MonitorApi;

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    MonitorApi::openapi()
}
