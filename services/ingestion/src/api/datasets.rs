//! Dataset declarations over HTTP.

use actix_web::{HttpResponse, web};
use cairn_api::{Dataset, NewDataset, SchemaRevision};
use cairn_http::ApiError;

use super::State;
use crate::datasets;

/// Declare a dataset and its schema.
#[utoipa::path(post, path = "/v1/datasets", tag = "datasets", request_body = NewDataset, responses(
    (status = 201, body = Dataset),
    (status = 409, description = "A dataset with this name exists", body = cairn_http::ErrorBody),
    (status = 422, description = "Invalid name or schema", body = cairn_http::ErrorBody)))]
pub(super) async fn create_dataset(
    state: State,
    body: web::Json<NewDataset>,
) -> Result<HttpResponse, ApiError> {
    let dataset = datasets::create(&state.context, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(dataset))
}

/// All declared datasets, by name.
#[utoipa::path(get, path = "/v1/datasets", tag = "datasets", responses((status = 200, body = Vec<Dataset>)))]
pub(super) async fn list_datasets(state: State) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(datasets::list(&state.context).await?))
}

/// One dataset declaration.
#[utoipa::path(get, path = "/v1/datasets/{name}", tag = "datasets",
    params(("name" = String, Path, description = "Dataset name")),
    responses((status = 200, body = Dataset), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn get_dataset(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(datasets::get(&state.context, name.into_inner()).await?))
}

/// Evolve a dataset's schema: the new schema keeps every column as it is and appends nullable
/// ones (rows written before have nulls there). Other changes are refused with 422: they need a
/// new dataset. Sending the current schema again changes nothing.
#[utoipa::path(put, path = "/v1/datasets/{name}/schema", tag = "datasets",
    params(("name" = String, Path, description = "Dataset name")),
    request_body = cairn_domain::Schema,
    responses((status = 200, body = Dataset), (status = 404, body = cairn_http::ErrorBody),
        (status = 409, description = "Changed concurrently", body = cairn_http::ErrorBody),
        (status = 422, description = "Invalid or incompatible schema", body = cairn_http::ErrorBody)))]
pub(super) async fn evolve_schema(
    state: State,
    name: web::Path<String>,
    body: web::Json<cairn_domain::Schema>,
) -> Result<HttpResponse, ApiError> {
    let dataset = datasets::evolve(&state.context, name.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(dataset))
}

/// Every schema a dataset has had, oldest first, with the columns each revision added.
#[utoipa::path(get, path = "/v1/datasets/{name}/schemas", tag = "datasets",
    params(("name" = String, Path, description = "Dataset name")),
    responses((status = 200, body = Vec<SchemaRevision>), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn list_schemas(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(datasets::revisions(&state.context, name.into_inner()).await?))
}
