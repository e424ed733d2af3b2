//! The HTTP API: routes, the OpenAPI document, and the one mapping of the service's errors to
//! HTTP. Handlers (one file per resource) parse, call one function of the core and map.

mod batches;
mod datasets;
mod records;
mod versions;

use actix_web::web;
use cairn_api::{
    Batch, BatchPage, Dataset, DatasetVersion, NewDataset, NewImport, ProfileSummary, QualityReport,
    QuarantinedRecord, SchemaRevision, VersionPage,
};
use cairn_http::{ApiError, ErrorKind};
use cairn_storage::SourceError;
use serde::Deserialize;
use utoipa::OpenApi as _;

use crate::Ingestion;
use crate::batches::BatchError;
use crate::datasets::DatasetError;
use crate::paging::Page;

type State = web::Data<Ingestion>;

pub(crate) fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(state)
        .service(
            web::resource("/v1/datasets")
                .route(web::post().to(datasets::create_dataset))
                .route(web::get().to(datasets::list_datasets)),
        )
        .service(web::resource("/v1/datasets/{name}").route(web::get().to(datasets::get_dataset)))
        .service(web::resource("/v1/datasets/{name}/schema").route(web::put().to(datasets::evolve_schema)))
        .service(web::resource("/v1/datasets/{name}/schemas").route(web::get().to(datasets::list_schemas)))
        .service(
            web::resource("/v1/datasets/{name}/batches")
                .route(web::post().to(batches::ingest_batch))
                .route(web::get().to(batches::list_batches)),
        )
        .service(web::resource("/v1/datasets/{name}/imports").route(web::post().to(batches::import_batch)))
        .service(web::resource("/v1/datasets/{name}/batches/{id}").route(web::get().to(batches::get_batch)))
        .service(
            web::resource("/v1/datasets/{name}/quarantine").route(web::get().to(batches::list_quarantined)),
        )
        .service(web::resource("/v1/datasets/{name}/records").route(web::post().to(records::publish_records)))
        .service(
            web::resource("/v1/datasets/{name}/snapshots").route(web::post().to(versions::create_snapshot)),
        )
        .service(web::resource("/v1/datasets/{name}/versions").route(web::get().to(versions::list_versions)))
        .service(
            web::resource("/v1/datasets/{name}/versions/{version}")
                .route(web::get().to(versions::get_version)),
        )
        .service(
            web::resource("/v1/datasets/{name}/versions/{version}/profile")
                .route(web::get().to(versions::get_profile)),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        datasets::create_dataset, datasets::list_datasets, datasets::get_dataset, datasets::evolve_schema,
        datasets::list_schemas, batches::ingest_batch, batches::import_batch, batches::list_batches,
        batches::get_batch, batches::list_quarantined, records::publish_records, versions::create_snapshot,
        versions::list_versions, versions::get_version, versions::get_profile
    ),
    components(schemas(
        NewDataset, Dataset, SchemaRevision, NewImport, Batch, BatchPage, DatasetVersion, VersionPage, QualityReport, records::RecordsAccepted, ProfileSummary, QuarantinedRecord
    )),
    tags(
        (name = "datasets", description = "Dataset declarations"),
        (name = "batches", description = "Batch ingestion and its quality reports"),
        (name = "versions", description = "Immutable dataset versions and their manifests")
    )
)]
struct IngestionApi;

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    IngestionApi::openapi()
}

impl From<DatasetError> for ApiError {
    fn from(error: DatasetError) -> Self {
        match error {
            DatasetError::InvalidSchema(_) => ApiError::invalid(error.to_string()),
            DatasetError::Exists(_) | DatasetError::Conflict(_) => ApiError::conflict(error.to_string()),
            DatasetError::Incompatible(_) => ApiError::invalid(error.to_string()),
            DatasetError::NotFound(_) | DatasetError::NoVersion(..) | DatasetError::NoProfile(..) => {
                ApiError::not_found(error.to_string())
            }
            DatasetError::Corrupt(..) => ApiError::internal(error),
            DatasetError::Database(error) => error.into(),
        }
    }
}

impl From<BatchError> for ApiError {
    fn from(error: BatchError) -> Self {
        match error {
            BatchError::Dataset(inner) => inner.into(),
            BatchError::Unreadable(ref decode) => ApiError::invalid(error.to_string())
                .with_details(serde_json::json!({decode.unit: decode.line, "column": decode.column})),
            BatchError::Empty => ApiError::invalid(error.to_string()),
            BatchError::Upload(_) => ApiError::new(ErrorKind::BadRequest, error.to_string()),
            BatchError::Unavailable(_) => ApiError::unavailable(error.to_string()),
            BatchError::QualityFailed { ref batch, .. } => {
                let details = batch_json(batch);
                ApiError::invalid(error.to_string()).with_details(serde_json::json!({"batch": details}))
            }
            BatchError::KeyConflict => ApiError::conflict(error.to_string()),
            BatchError::NotFound(_) => ApiError::not_found(error.to_string()),
            BatchError::Source(SourceError::Forbidden(_)) => {
                ApiError::new(ErrorKind::Forbidden, error.to_string())
            }
            BatchError::Source(SourceError::Unreachable { .. }) => ApiError::unavailable(error.to_string()),
            BatchError::Source(SourceError::Unsupported(_) | SourceError::NotFound(_)) => {
                ApiError::invalid(error.to_string())
            }
            BatchError::Database(error) => error.into(),
            BatchError::Storage(_) | BatchError::Worker => ApiError::internal(error),
        }
    }
}

/// A batch as JSON, for an error's details.
#[expect(clippy::unwrap_used, reason = "a batch is strings, numbers and maps with string keys")]
fn batch_json(batch: &Batch) -> serde_json::Value {
    serde_json::to_value(batch).unwrap()
}

/// A page of a list as the query names it (`max_results`, `page_token`), or 400.
fn page(query: &PageQuery) -> Result<Page, ApiError> {
    Page::parse(query.max_results, query.page_token.as_deref())
        .map_err(|message| ApiError::new(ErrorKind::BadRequest, message))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct PageQuery {
    /// Items on the page (1 to 1000, default 100).
    max_results: Option<i64>,
    /// The `next_page_token` of the page before; the first page without it.
    page_token: Option<String>,
}
