//! Materialization and online features (Feast's feature server API).

use actix_web::{HttpResponse, web};
use cairn_api::{Materialization, MaterializeRequest};
use cairn_http::{ApiError, ErrorKind};

use super::State;
use crate::online::{OnlineRequest, OnlineRequestError, OnlineResponse};

/// Starts copying the latest values of a feature view version from the offline store to the
/// online store (202: follow it at `/v1/materializations/{id}`).
#[utoipa::path(post, path = "/v1/feature-views/{name}/materialize", tag = "online",
    params(("name" = String, Path, description = "Feature view")), request_body = MaterializeRequest,
    responses((status = 202, body = Materialization), (status = 404, body = cairn_http::ErrorBody),
              (status = 422, body = cairn_http::ErrorBody)))]
pub(super) async fn materialize(
    state: State,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // No body: from the watermark to now.
    let request: MaterializeRequest = if body.iter().all(u8::is_ascii_whitespace) {
        MaterializeRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| ApiError::invalid(format!("request body: {error}")))?
    };
    let run = state.features.start(&name, request).await?;
    Ok(HttpResponse::Accepted().json(run))
}

/// The latest materializations of a feature view, newest first.
#[utoipa::path(get, path = "/v1/feature-views/{name}/materializations", tag = "online",
    params(("name" = String, Path, description = "Feature view")),
    responses((status = 200, body = Vec<Materialization>)))]
pub(super) async fn materializations(
    state: State,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.features.materializations(name.into_inner()).await?))
}

/// One materialization, with its progress while it runs.
#[utoipa::path(get, path = "/v1/materializations/{id}", tag = "online",
    params(("id" = String, Path, description = "Materialization id")),
    responses((status = 200, body = Materialization), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn materialization(state: State, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    match state.features.materialization(id.clone()).await? {
        Some(run) => Ok(HttpResponse::Ok().json(run)),
        None => Err(ApiError::not_found(format!("no materialization `{id}`"))),
    }
}

/// Feast's feature server API: the latest values of `view:feature` references or a feature
/// service for columns of entity keys, with a status and event time per value. The body is read
/// as JSON whatever its content type, as Feast's server does.
#[utoipa::path(post, path = "/get-online-features", tag = "online", request_body = OnlineRequest,
    responses((status = 200, body = OnlineResponse), (status = 400, body = cairn_http::ErrorBody),
              (status = 422, body = cairn_http::ErrorBody)))]
pub(super) async fn get_online_features(state: State, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let request: OnlineRequest = serde_json::from_slice(&body)
        .map_err(|error| ApiError::new(ErrorKind::BadRequest, format!("request body: {error}")))?;
    match state.features.online.get(&request).await {
        Ok(response) => Ok(HttpResponse::Ok().content_type("application/json").body(response.to_json())),
        Err(OnlineRequestError::Invalid(message)) => Err(ApiError::invalid(message)),
        Err(OnlineRequestError::Store(error)) => Err(ApiError::unavailable(error.to_string())),
    }
}
