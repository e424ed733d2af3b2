//! HTTP: drift between dataset versions (`/v1/drift`) and what the monitor sees of an endpoint's
//! prediction log (`/v1/monitor/endpoints/{endpoint}`). Handlers parse, call the core, and map.

mod error;

use actix_web::{HttpResponse, web};
use cairn_api::{DriftReport, DriftRequest, EndpointMonitor};
use cairn_http::ApiError;
use serde::Deserialize;
use utoipa::OpenApi as _;

use crate::State;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/drift", web::post().to(drift))
        .route("/v1/monitor/endpoints/{endpoint}", web::get().to(endpoint));
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

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(drift, endpoint),
    components(schemas(
        cairn_api::DriftRequest, cairn_api::DriftReport, cairn_api::ColumnDrift, cairn_api::VersionRef,
        cairn_api::EndpointMonitor, cairn_api::OpenWindow, cairn_api::MonitorWindow, cairn_api::Unjudged
    )),
    tags((name = "drift", description = "Drift between dataset versions"),
         (name = "monitor", description = "The prediction log's windows, judged for drift"))
)]
struct MonitorApi;

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    MonitorApi::openapi()
}
