use actix_web::{HttpResponse, web};
use cairn_http::ApiError;
use cairn_service::ServiceContext;
use utoipa::OpenApi as _;

use cairn_api::{Dataset, NewDataset};

use crate::datasets::{self, DatasetError};

type State = web::Data<ServiceContext>;

pub(crate) fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(state)
        .service(
            web::resource("/v1/datasets")
                .route(web::post().to(create_dataset))
                .route(web::get().to(list_datasets)),
        )
        .service(web::resource("/v1/datasets/{name}").route(web::get().to(get_dataset)));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create_dataset, list_datasets, get_dataset),
    components(schemas(NewDataset, Dataset)),
    tags((name = "datasets", description = "Dataset declarations"))
)]
struct IngestionApi;

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    IngestionApi::openapi()
}

impl From<DatasetError> for ApiError {
    fn from(error: DatasetError) -> Self {
        match error {
            DatasetError::InvalidSchema(_) => ApiError::invalid(error.to_string()),
            DatasetError::Exists(_) => ApiError::conflict(error.to_string()),
            DatasetError::NotFound(_) => ApiError::not_found(error.to_string()),
            DatasetError::Corrupt(..) | DatasetError::Database(_) => ApiError::internal(error),
        }
    }
}

/// Declare a dataset and its schema.
#[utoipa::path(post, path = "/v1/datasets", tag = "datasets", request_body = NewDataset, responses(
    (status = 201, body = Dataset),
    (status = 409, description = "A dataset with this name exists", body = cairn_http::ErrorBody),
    (status = 422, description = "Invalid name or schema", body = cairn_http::ErrorBody)))]
async fn create_dataset(state: State, body: web::Json<NewDataset>) -> Result<HttpResponse, ApiError> {
    let dataset = datasets::create(&state, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(dataset))
}

/// All declared datasets, by name.
#[utoipa::path(get, path = "/v1/datasets", tag = "datasets", responses((status = 200, body = Vec<Dataset>)))]
async fn list_datasets(state: State) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(datasets::list(&state).await?))
}

/// One dataset declaration.
#[utoipa::path(get, path = "/v1/datasets/{name}", tag = "datasets",
    params(("name" = String, Path, description = "Dataset name")),
    responses((status = 200, body = Dataset), (status = 404, body = cairn_http::ErrorBody)))]
async fn get_dataset(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(datasets::get(&state, name.into_inner()).await?))
}
