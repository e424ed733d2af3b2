//! HTTP: the Open Inference Protocol (`/v2`, its own error shape, for tritonclient and KServe's
//! client) and Cairn's endpoint API (`/v1/endpoints`, the platform's error shape). Handlers parse,
//! call the core, and map.

mod endpoints;
mod error;
mod oip;
mod predict;

use actix_web::web;
use utoipa::OpenApi as _;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    endpoints::configure(cfg);
    predict::configure(cfg);
    oip::configure(cfg);
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(endpoints::list, endpoints::get, endpoints::put, endpoints::delete, predict::predict),
    components(schemas(cairn_api::Endpoint, cairn_api::EndpointSpec, cairn_api::PredictRequest, cairn_api::PredictResponse)),
    tags((name = "endpoints", description = "Endpoints: a registered model served by name"))
)]
struct ServingApi;

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    ServingApi::openapi()
}
