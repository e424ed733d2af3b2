use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use cairn_api::{
    Batch, BatchPage, Dataset, DatasetVersion, NewDataset, NewImport, ProfileSummary, QualityReport,
    QuarantinedRecord, SchemaRevision, VersionPage,
};
use cairn_domain::Timestamp;
use cairn_http::{ApiError, ErrorKind};
use cairn_storage::SourceError;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi as _;

use crate::batches::{self, BatchError, Format};
use crate::catalog::VersionSelector;
use crate::datasets::{self, DatasetError};
use crate::paging::Page;
use crate::{Ingestion, stream, versions};

type State = web::Data<Ingestion>;

pub(crate) fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(state)
        .service(
            web::resource("/v1/datasets")
                .route(web::post().to(create_dataset))
                .route(web::get().to(list_datasets)),
        )
        .service(web::resource("/v1/datasets/{name}").route(web::get().to(get_dataset)))
        .service(web::resource("/v1/datasets/{name}/schema").route(web::put().to(evolve_schema)))
        .service(web::resource("/v1/datasets/{name}/schemas").route(web::get().to(list_schemas)))
        .service(
            web::resource("/v1/datasets/{name}/batches")
                .route(web::post().to(ingest_batch))
                .route(web::get().to(list_batches)),
        )
        .service(web::resource("/v1/datasets/{name}/imports").route(web::post().to(import_batch)))
        .service(web::resource("/v1/datasets/{name}/batches/{id}").route(web::get().to(get_batch)))
        .service(web::resource("/v1/datasets/{name}/quarantine").route(web::get().to(list_quarantined)))
        .service(web::resource("/v1/datasets/{name}/records").route(web::post().to(publish_records)))
        .service(web::resource("/v1/datasets/{name}/snapshots").route(web::post().to(create_snapshot)))
        .service(web::resource("/v1/datasets/{name}/versions").route(web::get().to(list_versions)))
        .service(web::resource("/v1/datasets/{name}/versions/{version}").route(web::get().to(get_version)))
        .service(
            web::resource("/v1/datasets/{name}/versions/{version}/profile").route(web::get().to(get_profile)),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create_dataset, list_datasets, get_dataset, evolve_schema, list_schemas, ingest_batch, import_batch, list_batches, get_batch, list_quarantined,
        publish_records,
        create_snapshot, list_versions, get_version, get_profile
    ),
    components(schemas(
        NewDataset, Dataset, SchemaRevision, NewImport, Batch, BatchPage, DatasetVersion, VersionPage, QualityReport, RecordsAccepted, ProfileSummary, QuarantinedRecord
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
#[expect(clippy::expect_used, reason = "a batch is strings, numbers and maps with string keys")]
fn batch_json(batch: &Batch) -> serde_json::Value {
    serde_json::to_value(batch).expect("a batch serializes")
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

/// Declare a dataset and its schema.
#[utoipa::path(post, path = "/v1/datasets", tag = "datasets", request_body = NewDataset, responses(
    (status = 201, body = Dataset),
    (status = 409, description = "A dataset with this name exists", body = cairn_http::ErrorBody),
    (status = 422, description = "Invalid name or schema", body = cairn_http::ErrorBody)))]
async fn create_dataset(state: State, body: web::Json<NewDataset>) -> Result<HttpResponse, ApiError> {
    let dataset = datasets::create(&state.context, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(dataset))
}

/// All declared datasets, by name.
#[utoipa::path(get, path = "/v1/datasets", tag = "datasets", responses((status = 200, body = Vec<Dataset>)))]
async fn list_datasets(state: State) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(datasets::list(&state.context).await?))
}

/// One dataset declaration.
#[utoipa::path(get, path = "/v1/datasets/{name}", tag = "datasets",
    params(("name" = String, Path, description = "Dataset name")),
    responses((status = 200, body = Dataset), (status = 404, body = cairn_http::ErrorBody)))]
async fn get_dataset(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
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
async fn evolve_schema(
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
async fn list_schemas(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(datasets::revisions(&state.context, name.into_inner()).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct BatchQuery {
    /// `csv`, `jsonl` or `parquet`; by default taken from the Content-Type.
    format: Option<String>,
}

fn format(request: &HttpRequest, query: &BatchQuery) -> Result<Format, ApiError> {
    let unsupported = |what: &str| {
        ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!(
                "{what}: send text/csv, application/x-ndjson or application/vnd.apache.parquet \
                 (or ?format=csv|jsonl|parquet)"
            ),
        )
    };
    if let Some(format) = &query.format {
        return Format::parse(format).ok_or_else(|| unsupported(&format!("unknown format `{format}`")));
    }
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "text/csv" => Ok(Format::Csv),
        "application/x-ndjson"
        | "application/jsonl"
        | "application/json-lines"
        | "application/x-jsonlines" => Ok(Format::JsonLines),
        "application/vnd.apache.parquet" | "application/x-parquet" => Ok(Format::Parquet),
        "" => Err(unsupported("no Content-Type")),
        other => Err(unsupported(&format!("unsupported Content-Type `{other}`"))),
    }
}

/// Ingest a batch: CSV (with a header), JSON Lines or Parquet, streamed. Valid records become a new
/// dataset version; invalid ones go to the batch's quarantine with the rule they broke. A batch
/// is visible completely or not at all.
#[utoipa::path(post, path = "/v1/datasets/{name}/batches", tag = "batches",
    params(("name" = String, Path, description = "Dataset name"), BatchQuery),
    request_body(content = String, content_type = "text/csv", description = "CSV with a header row, or JSON Lines (application/x-ndjson)"),
    responses(
        (status = 201, description = "Committed as a new version", body = Batch),
        (status = 404, description = "Unknown dataset", body = cairn_http::ErrorBody),
        (status = 409, description = "Unique keys: a concurrent batch committed some of the same keys first; nothing kept, send again", body = cairn_http::ErrorBody),
        (status = 415, description = "Unsupported format", body = cairn_http::ErrorBody),
        (status = 422, description = "Unreadable input (line and column in details), or too many records quarantined (the failed batch in details)", body = cairn_http::ErrorBody)))]
async fn ingest_batch(
    state: State,
    request: HttpRequest,
    name: web::Path<String>,
    query: web::Query<BatchQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = format(&request, &query)?;
    let batch = batches::ingest(&state, &name, format, body).await?;
    Ok(HttpResponse::Created().json(batch))
}

/// Ingest a batch from where it already is: S3 (or S3-compatible) storage, an HTTP(S) URL, or
/// a local path under `ingestion.import_roots`. Streamed like an upload, with the same answers.
#[utoipa::path(post, path = "/v1/datasets/{name}/imports", tag = "batches",
    params(("name" = String, Path, description = "Dataset name")),
    request_body = NewImport,
    responses(
        (status = 201, description = "Committed as a new version", body = Batch),
        (status = 403, description = "A local path outside ingestion.import_roots", body = cairn_http::ErrorBody),
        (status = 404, description = "Unknown dataset", body = cairn_http::ErrorBody),
        (status = 409, description = "Unique keys: a concurrent batch committed some of the same keys first; nothing kept, send again", body = cairn_http::ErrorBody),
        (status = 415, description = "Unknown format", body = cairn_http::ErrorBody),
        (status = 422, description = "Unsupported or missing source, unreadable input, or too many records quarantined", body = cairn_http::ErrorBody),
        (status = 503, description = "The source could not be read", body = cairn_http::ErrorBody)))]
async fn import_batch(
    state: State,
    name: web::Path<String>,
    body: web::Json<NewImport>,
) -> Result<HttpResponse, ApiError> {
    let import = body.into_inner();
    let format = match &import.format {
        Some(format) => Format::parse(format),
        None => Format::from_extension(import.url.split(['?', '#']).next().unwrap_or_default()),
    }
    .ok_or_else(|| {
        ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "cannot tell the format: give \"format\": csv, jsonl or parquet".to_owned(),
        )
    })?;
    let batch = batches::import(&state, &name, format, &import.url).await?;
    Ok(HttpResponse::Created().json(batch))
}

/// A page of a dataset's batches, oldest first (without their files).
#[utoipa::path(get, path = "/v1/datasets/{name}/batches", tag = "batches",
    params(("name" = String, Path, description = "Dataset name"), PageQuery),
    responses((status = 200, body = BatchPage), (status = 400, body = cairn_http::ErrorBody),
        (status = 404, body = cairn_http::ErrorBody)))]
async fn list_batches(
    state: State,
    name: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page(&query)?;
    Ok(HttpResponse::Ok().json(batches::list(&state, name.into_inner(), page).await?))
}

/// One batch: its state, quality report, files and quarantine.
#[utoipa::path(get, path = "/v1/datasets/{name}/batches/{id}", tag = "batches",
    params(("name" = String, Path, description = "Dataset name"), ("id" = String, Path, description = "Batch id")),
    responses((status = 200, body = Batch), (status = 404, body = cairn_http::ErrorBody)))]
async fn get_batch(state: State, path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    let (dataset, id) = path.into_inner();
    Ok(HttpResponse::Ok().json(batches::get(&state, dataset, id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct QuarantineQuery {
    /// Only this batch's records.
    batch: Option<String>,
    /// At most this many records (1 to 1000, default 100).
    limit: Option<usize>,
}

const QUARANTINE_LIMIT: usize = 1000;

/// Samples of quarantined records, newest batch first: each with its line, its values and the
/// rules it broke.
#[utoipa::path(get, path = "/v1/datasets/{name}/quarantine", tag = "batches",
    params(("name" = String, Path, description = "Dataset name"), QuarantineQuery),
    responses((status = 200, body = Vec<QuarantinedRecord>), (status = 400, body = cairn_http::ErrorBody),
        (status = 404, body = cairn_http::ErrorBody)))]
async fn list_quarantined(
    state: State,
    name: web::Path<String>,
    query: web::Query<QuarantineQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=QUARANTINE_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            format!("limit must be between 1 and {QUARANTINE_LIMIT}, not {limit}"),
        ));
    }
    let found = batches::quarantined(&state, name.into_inner(), query.batch.clone(), limit).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// A page of a dataset's versions, oldest first (without manifests).
#[utoipa::path(get, path = "/v1/datasets/{name}/versions", tag = "versions",
    params(("name" = String, Path, description = "Dataset name"), PageQuery),
    responses((status = 200, body = VersionPage), (status = 400, body = cairn_http::ErrorBody),
        (status = 404, body = cairn_http::ErrorBody)))]
async fn list_versions(
    state: State,
    name: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page(&query)?;
    Ok(HttpResponse::Ok().json(versions::list(&state.context, name.into_inner(), page).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct VersionQuery {
    /// With `latest`: the latest version committed at or before this time (RFC 3339), that is
    /// the dataset as a reader saw it then.
    as_of: Option<String>,
}

/// The version a path segment (`3`, `latest`) and `?as_of=` name.
fn selector(segment: &str, query: &VersionQuery) -> Result<VersionSelector, ApiError> {
    let bad = |message: String| ApiError::new(ErrorKind::BadRequest, message);
    match (segment, &query.as_of) {
        ("latest", None) => Ok(VersionSelector::Latest),
        ("latest", Some(time)) => Timestamp::parse_rfc3339(time)
            .map(VersionSelector::AsOf)
            .map_err(|error| bad(format!("as_of `{time}` is not an RFC 3339 time: {error}"))),
        (number, as_of) => match (number.parse::<i64>(), as_of) {
            (Ok(number), None) => Ok(VersionSelector::Number(number)),
            (Ok(_), Some(_)) => Err(bad("as_of goes with `latest`, not with a version number".into())),
            (Err(_), _) => Err(bad(format!("`{number}` is neither a version number nor `latest`"))),
        },
    }
}

/// One version with its manifest: every file, with rows, size and SHA-256. The same forever.
/// `latest` names the newest version, and `latest?as_of=T` the one that was newest at time T.
#[utoipa::path(get, path = "/v1/datasets/{name}/versions/{version}", tag = "versions",
    params(("name" = String, Path, description = "Dataset name"),
        ("version" = String, Path, description = "Version number, or `latest`"), VersionQuery),
    responses((status = 200, body = DatasetVersion), (status = 400, body = cairn_http::ErrorBody),
        (status = 404, body = cairn_http::ErrorBody)))]
async fn get_version(
    state: State,
    path: web::Path<(String, String)>,
    query: web::Query<VersionQuery>,
) -> Result<HttpResponse, ApiError> {
    let (dataset, segment) = path.into_inner();
    let selector = selector(&segment, &query)?;
    Ok(HttpResponse::Ok().json(versions::get(&state.context, dataset, selector).await?))
}

/// How many records a `POST …/records` stored in the dataset's stream.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RecordsAccepted {
    accepted: usize,
    /// Records already stored under the same idempotency key (a retried request).
    duplicates: usize,
}

/// Stream records into a dataset: a JSON array of objects or JSON Lines. The answer comes once
/// JetStream has stored every record; they reach the offline store within a flush interval and
/// a version at the next snapshot. An `Idempotency-Key` header makes a retried request store
/// nothing twice (without it, an identical request is treated as the same request).
#[utoipa::path(post, path = "/v1/datasets/{name}/records", tag = "batches",
    params(("name" = String, Path, description = "Dataset name")),
    request_body(content = String, content_type = "application/json", description = "A JSON array of objects, or JSON Lines (application/x-ndjson)"),
    responses(
        (status = 202, description = "Durably accepted", body = RecordsAccepted),
        (status = 404, description = "Unknown dataset", body = cairn_http::ErrorBody),
        (status = 422, description = "Not JSON objects", body = cairn_http::ErrorBody),
        (status = 503, description = "NATS unavailable: nothing or part stored; retry with the same Idempotency-Key", body = cairn_http::ErrorBody)))]
async fn publish_records(
    state: State,
    request: HttpRequest,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let key = request.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let records = split_records(&body)?;
    let (accepted, duplicates) = stream::publish(&state, &name, key.as_deref(), records).await?;
    Ok(HttpResponse::Accepted().json(RecordsAccepted { accepted, duplicates }))
}

/// The records of a body: the elements of a JSON array, or the non-blank lines of JSON Lines;
/// each must be a JSON object.
fn split_records(body: &web::Bytes) -> Result<Vec<bytes::Bytes>, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let values: Vec<&serde_json::value::RawValue> = serde_json::from_slice(body)
            .map_err(|error| ApiError::invalid(format!("malformed JSON array: {error}")))?;
        return values
            .into_iter()
            .enumerate()
            .map(|(i, raw)| {
                let text = raw.get();
                if !text.trim_start().starts_with('{') {
                    Err(ApiError::invalid(format!("element {i} is not a JSON object")))
                } else if text.contains(['\n', '\r']) {
                    // Records travel one a line: a line break can only be whitespace here (a
                    // JSON string cannot hold one), so a space stands in for it.
                    Ok(bytes::Bytes::from(text.replace(['\n', '\r'], " ")))
                } else {
                    Ok(bytes::Bytes::copy_from_slice(text.as_bytes()))
                }
            })
            .collect();
    }
    body.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(i, line)| {
            let object = line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            // Checked, not built: the reader decodes each record again into its columns.
            match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
                Ok(_) if object => Ok(body.slice_ref(line)),
                Ok(_) => Err(format!("line {}: not a JSON object", i + 1)),
                Err(error) => Err(format!("line {}: not a JSON object: {error}", i + 1)),
            }
            .map_err(|message| ApiError::invalid(message).with_details(serde_json::json!({"line": i + 1})))
        })
        .collect()
}

/// Make every streamed record committed so far a new version (200 with it), or 204 when
/// nothing arrived since the last version.
#[utoipa::path(post, path = "/v1/datasets/{name}/snapshots", tag = "versions",
    params(("name" = String, Path, description = "Dataset name")),
    responses((status = 200, body = DatasetVersion), (status = 204, description = "Nothing new"),
        (status = 404, body = cairn_http::ErrorBody)))]
async fn create_snapshot(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    match stream::snapshot(&state, &name).await? {
        Some(version) => Ok(HttpResponse::Ok().json(version)),
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

/// The statistical profile of a version: per column count, nulls, min/max, mean/std,
/// quantiles, a histogram and frequent values — what training records and monitoring compares
/// live traffic against.
#[utoipa::path(get, path = "/v1/datasets/{name}/versions/{version}/profile", tag = "versions",
    params(("name" = String, Path, description = "Dataset name"),
        ("version" = String, Path, description = "Version number, or `latest`"), VersionQuery),
    responses((status = 200, body = ProfileSummary), (status = 400, body = cairn_http::ErrorBody),
        (status = 404, body = cairn_http::ErrorBody)))]
async fn get_profile(
    state: State,
    path: web::Path<(String, String)>,
    query: web::Query<VersionQuery>,
) -> Result<HttpResponse, ApiError> {
    let (dataset, segment) = path.into_inner();
    let selector = selector(&segment, &query)?;
    Ok(HttpResponse::Ok().json(versions::profile(&state.context, dataset, selector).await?))
}
