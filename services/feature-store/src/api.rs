use actix_web::{HttpResponse, web};
use cairn_http::ApiError;
use cairn_service::ServiceContext;
use utoipa::OpenApi as _;

use cairn_api::SourceDataset;

use crate::sources;

type State = web::Data<ServiceContext>;

pub(crate) fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(state)
        .service(web::resource("/v1/sources").route(web::get().to(list_sources)))
        .service(web::resource("/v1/sources/{name}").route(web::get().to(get_source)));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_sources, get_source),
    components(schemas(SourceDataset)),
    tags((name = "sources", description = "Datasets feature views can be built on"))
)]
struct FeatureStoreApi;

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    FeatureStoreApi::openapi()
}

/// Every dataset announced by ingestion.
#[utoipa::path(get, path = "/v1/sources", tag = "sources", responses((status = 200, body = Vec<SourceDataset>)))]
async fn list_sources(state: State) -> Result<HttpResponse, ApiError> {
    let sources = sources::list(&state.db, None).await.map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(sources))
}

/// One source dataset.
#[utoipa::path(get, path = "/v1/sources/{name}", tag = "sources",
    params(("name" = String, Path, description = "Dataset name")),
    responses((status = 200, body = SourceDataset), (status = 404, body = cairn_http::ErrorBody)))]
async fn get_source(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let found = sources::list(&state.db, Some(name.clone())).await.map_err(ApiError::internal)?;
    match found.into_iter().next() {
        Some(source) => Ok(HttpResponse::Ok().json(source)),
        None => Err(ApiError::not_found(format!("no source dataset `{name}`"))),
    }
}
