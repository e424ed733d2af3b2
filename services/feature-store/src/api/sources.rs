//! `/v1/sources`: the datasets feature views can be built on.

use actix_web::{HttpResponse, web};
use cairn_api::SourceDataset;
use cairn_http::ApiError;

use super::State;
use crate::sources;

/// Every dataset announced by ingestion.
#[utoipa::path(get, path = "/v1/sources", tag = "sources", responses((status = 200, body = Vec<SourceDataset>)))]
pub(super) async fn list_sources(state: State) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(sources::list(&state.db, None).await?))
}

/// One source dataset.
#[utoipa::path(get, path = "/v1/sources/{name}", tag = "sources",
    params(("name" = String, Path, description = "Dataset name")),
    responses((status = 200, body = SourceDataset), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn get_source(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    match sources::list(&state.db, Some(name.clone())).await?.into_iter().next() {
        Some(source) => Ok(HttpResponse::Ok().json(source)),
        None => Err(ApiError::not_found(format!("no source dataset `{name}`"))),
    }
}
