//! Batches over HTTP: uploads, imports, their listing and their quarantine.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use cairn_api::{Batch, BatchPage, NewImport, QuarantinedRecord};
use cairn_http::{ApiError, ErrorKind};
use serde::Deserialize;

use super::{PageQuery, State, page};
use crate::batches::{self, Format};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct BatchQuery {
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
pub(super) async fn ingest_batch(
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
pub(super) async fn import_batch(
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
pub(super) async fn list_batches(
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
pub(super) async fn get_batch(
    state: State,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (dataset, id) = path.into_inner();
    Ok(HttpResponse::Ok().json(batches::get(&state, dataset, id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct QuarantineQuery {
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
pub(super) async fn list_quarantined(
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
