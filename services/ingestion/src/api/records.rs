//! Streamed records over HTTP: `POST …/records` onto the dataset's stream.

use actix_web::{HttpRequest, HttpResponse, web};
use cairn_http::ApiError;
use serde::Serialize;

use super::State;
use crate::stream;

/// How many records a `POST …/records` stored in the dataset's stream.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct RecordsAccepted {
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
pub(super) async fn publish_records(
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
