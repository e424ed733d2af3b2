//! `/v1/endpoints`: create, change, list and delete endpoints.

use actix_web::{HttpResponse, web};
use cairn_api::{Endpoint, EndpointSpec};
use cairn_http::ApiError;

use crate::State;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/endpoints", web::get().to(list))
        .route("/v1/endpoints/{name}", web::get().to(get))
        .route("/v1/endpoints/{name}", web::put().to(put))
        .route("/v1/endpoints/{name}", web::delete().to(delete));
}

/// Every endpoint, with the version this replica serves.
#[utoipa::path(get, path = "/v1/endpoints", tag = "endpoints", responses((status = 200, body = Vec<Endpoint>)))]
pub(super) async fn list(state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.endpoints.list().await?))
}

/// One endpoint.
#[utoipa::path(get, path = "/v1/endpoints/{name}", tag = "endpoints",
    params(("name" = String, Path)),
    responses((status = 200, body = Endpoint), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn get(state: web::Data<State>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.endpoints.get(&name).await?))
}

/// Creates or changes an endpoint: a model pinned to a version, or following an alias. The
/// answer says whether this replica serves it yet (`state`, `serving`, `error`).
#[utoipa::path(put, path = "/v1/endpoints/{name}", tag = "endpoints",
    params(("name" = String, Path)), request_body = EndpointSpec,
    responses((status = 200, body = Endpoint), (status = 422, body = cairn_http::ErrorBody),
              (status = 503, body = cairn_http::ErrorBody)))]
pub(super) async fn put(
    state: web::Data<State>,
    name: web::Path<String>,
    spec: web::Json<EndpointSpec>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.endpoints.put(&name, spec.into_inner()).await?))
}

/// Deletes an endpoint.
#[utoipa::path(delete, path = "/v1/endpoints/{name}", tag = "endpoints",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn delete(
    state: web::Data<State>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.endpoints.delete(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}
