//! Entities, feature views and feature services: planned and applied as a whole, then read.

use actix_web::{HttpResponse, web};
use cairn_api::{ApplyRequest, Entity, FeatureService, FeatureView, Plan};
use cairn_http::ApiError;

use super::State;
use crate::definitions;

/// What applying these definitions would create, change and delete.
#[utoipa::path(post, path = "/v1/features/plan", tag = "definitions", request_body = ApplyRequest,
    responses((status = 200, body = Plan), (status = 422, body = cairn_http::ErrorBody)))]
pub(super) async fn plan(state: State, request: web::Json<ApplyRequest>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.features.plan(request.into_inner().definitions).await?))
}

/// Applies the definitions as a whole: everything in the plan, or nothing. With `plan_digest`,
/// only the plan that was confirmed (409 when it would now differ).
#[utoipa::path(post, path = "/v1/features/apply", tag = "definitions", request_body = ApplyRequest,
    responses((status = 200, body = Plan), (status = 409, body = cairn_http::ErrorBody),
              (status = 422, body = cairn_http::ErrorBody)))]
pub(super) async fn apply(state: State, request: web::Json<ApplyRequest>) -> Result<HttpResponse, ApiError> {
    let ApplyRequest { definitions, plan_digest } = request.into_inner();
    Ok(HttpResponse::Ok().json(state.features.apply(definitions, plan_digest).await?))
}

/// Entities held now.
#[utoipa::path(get, path = "/v1/entities", tag = "definitions", responses((status = 200, body = Vec<Entity>)))]
pub(super) async fn list_entities(state: State) -> Result<HttpResponse, ApiError> {
    let (entities, _, _) = definitions::held(&state.db).await?;
    Ok(HttpResponse::Ok().json(entities))
}

/// The latest version of every feature view (deleted ones marked).
#[utoipa::path(get, path = "/v1/feature-views", tag = "definitions", responses((status = 200, body = Vec<FeatureView>)))]
pub(super) async fn list_views(state: State) -> Result<HttpResponse, ApiError> {
    let (_, views, _) = definitions::held(&state.db).await?;
    Ok(HttpResponse::Ok().json(views))
}

/// Every version of a feature view, oldest first.
#[utoipa::path(get, path = "/v1/feature-views/{name}/versions", tag = "definitions",
    params(("name" = String, Path, description = "Feature view")),
    responses((status = 200, body = Vec<FeatureView>), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn view_versions(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let versions = definitions::view_versions(&state.db, name.clone()).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("no feature view `{name}`")));
    }
    Ok(HttpResponse::Ok().json(versions))
}

/// One version of a feature view.
#[utoipa::path(get, path = "/v1/feature-views/{name}/versions/{version}", tag = "definitions",
    params(("name" = String, Path, description = "Feature view"), ("version" = i64, Path, description = "Version")),
    responses((status = 200, body = FeatureView), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn view_version(
    state: State,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let versions = definitions::view_versions(&state.db, name.clone()).await?;
    match versions.into_iter().find(|view| view.version == version) {
        Some(view) => Ok(HttpResponse::Ok().json(view)),
        None => Err(ApiError::not_found(format!("no version {version} of feature view `{name}`"))),
    }
}

/// The latest version of every feature service (deleted ones marked).
#[utoipa::path(get, path = "/v1/feature-services", tag = "definitions",
    responses((status = 200, body = Vec<FeatureService>)))]
pub(super) async fn list_services(state: State) -> Result<HttpResponse, ApiError> {
    let (_, _, services) = definitions::held(&state.db).await?;
    Ok(HttpResponse::Ok().json(services))
}

/// Every version of a feature service, oldest first.
#[utoipa::path(get, path = "/v1/feature-services/{name}/versions", tag = "definitions",
    params(("name" = String, Path, description = "Feature service")),
    responses((status = 200, body = Vec<FeatureService>), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn service_versions(
    state: State,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let versions = definitions::service_versions(&state.db, name.clone()).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("no feature service `{name}`")));
    }
    Ok(HttpResponse::Ok().json(versions))
}
