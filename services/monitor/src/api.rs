//! HTTP: drift between dataset versions (`/v1/drift`). Handlers parse, call the core, and map.

mod error;

use actix_web::{HttpResponse, web};
use cairn_api::{DriftReport, DriftRequest};
use cairn_http::ApiError;
use utoipa::OpenApi as _;

use crate::State;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/drift", web::post().to(drift));
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

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(drift),
    components(schemas(cairn_api::DriftRequest, cairn_api::DriftReport, cairn_api::ColumnDrift, cairn_api::VersionRef)),
    tags((name = "drift", description = "Drift between dataset versions"))
)]
struct MonitorApi;

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    MonitorApi::openapi()
}
