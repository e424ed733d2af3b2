//! HTTP: the Open Inference Protocol (`/v2`, its own error shape, for tritonclient and KServe's
//! client) and Cairn's endpoint API (`/v1/endpoints`, the platform's error shape). Handlers parse,
//! call the core, and map.

mod endpoints;
mod error;
mod oip;
mod predict;
mod scoring;

use actix_web::web;
use utoipa::OpenApi as _;

/// Prediction routes first (see `oip::configure_infer`).
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    oip::configure_infer(cfg);
    predict::configure(cfg);
    endpoints::configure(cfg);
    scoring::configure(cfg);
    oip::configure(cfg);
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(endpoints::list, endpoints::get, endpoints::put, endpoints::delete, predict::predict,
          scoring::submit, scoring::list, scoring::get),
    components(schemas(cairn_api::Endpoint, cairn_api::EndpointSpec, cairn_api::PredictRequest,
                       cairn_api::PredictResponse, cairn_api::ScoringRequest, cairn_api::ScoringJob)),
    tags((name = "endpoints", description = "Endpoints: a registered model served by name"),
         (name = "scoring", description = "Batch scoring: a dataset version's rows scored into a new dataset version"))
)]
struct ServingApi;

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    ServingApi::openapi()
}
