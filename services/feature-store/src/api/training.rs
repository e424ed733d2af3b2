//! Training data over HTTP: the query string and body of `/v1/historical-features` translated
//! into the core's request, and `/v1/training-data`.

use actix_web::{HttpResponse, web};
use cairn_api::{TrainingData, TrainingDataRequest};
use cairn_http::ApiError;
use futures::StreamExt as _;

use super::State;
use crate::training_data::{EntitySource, Request, Selection};

/// `POST /v1/historical-features` query: what to join, and the entity file's time column.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub(super) struct HistoricalQuery {
    /// `view:feature` references, comma separated (each view's latest version).
    #[serde(default)]
    features: Option<String>,
    /// A feature service (its pinned view versions).
    #[serde(default)]
    feature_service: Option<String>,
    /// Name features `view__feature`.
    #[serde(default)]
    full_feature_names: bool,
    /// The entity rows' time column: `event_timestamp` (Feast's name) in an uploaded file, the
    /// dataset's event time in `entity_dataset`, by default.
    #[serde(default)]
    entity_timestamp: Option<String>,
    /// Entity rows from a version of this dataset (every column is kept, labels included)
    /// instead of an uploaded file.
    #[serde(default)]
    entity_dataset: Option<String>,
    /// The version of `entity_dataset`; its latest by default.
    #[serde(default)]
    entity_version: Option<i64>,
    /// With `end`, instead of entity rows: every row of the first view named, with an event time
    /// in `[start, end)` (its join keys and event time, as `event_timestamp` by default), is an
    /// entity row — training data for every entity seen in a time range.
    #[serde(default)]
    start: Option<cairn_domain::Timestamp>,
    #[serde(default)]
    end: Option<cairn_domain::Timestamp>,
}

impl HistoricalQuery {
    /// The core's request: the body is the entity file unless the query names a dataset version
    /// or a time range, when it must be empty.
    async fn into_request(self, mut body: web::Payload) -> Result<Request<web::Payload>, ApiError> {
        let features = self.features.map(|list| list.split(',').map(|f| f.trim().to_owned()).collect());
        let features = Selection::new(features, self.feature_service)?;
        let range = match (self.start, self.end) {
            (None, None) => None,
            (Some(start), Some(end)) => Some((start, end)),
            _ => return Err(ApiError::invalid("a time range needs both `start` and `end`")),
        };
        let entities = match (self.entity_dataset, range) {
            (None, None) => EntitySource::Uploaded(body),
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "entity rows come from `entity_dataset` or from a time range, not both",
                ));
            }
            (Some(name), None) => {
                refuse_upload(
                    &mut body,
                    "entity rows come from an uploaded file or from `entity_dataset`, not both",
                )
                .await?;
                EntitySource::Dataset { name, version: self.entity_version }
            }
            (None, Some((start, end))) => {
                refuse_upload(
                    &mut body,
                    "entity rows come from an uploaded file or from a time range, not both",
                )
                .await?;
                EntitySource::Range { start, end }
            }
        };
        Ok(Request {
            entities,
            features,
            full_feature_names: self.full_feature_names,
            entity_timestamp: self.entity_timestamp,
        })
    }
}

/// Reads the body to its end, refusing any byte in it: the entity rows are named elsewhere.
async fn refuse_upload(body: &mut web::Payload, both: &str) -> Result<(), ApiError> {
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| ApiError::invalid(format!("reading the upload: {error}")))?;
        if !chunk.is_empty() {
            return Err(ApiError::invalid(both));
        }
    }
    Ok(())
}

/// Training data: the uploaded Parquet file of entity rows (join keys and a time column) with
/// the features of `features` (`view:feature`, comma separated) or `feature_service` joined as
/// of each row's time (Feast's point-in-time semantics), as a Parquet file: the entity rows in
/// their order with all their columns, then each view's features. `Cairn-Feature-Views` names
/// the view versions joined.
#[utoipa::path(post, path = "/v1/historical-features", tag = "definitions", params(HistoricalQuery),
    request_body(content = Vec<u8>, content_type = "application/vnd.apache.parquet"),
    responses((status = 200, description = "The training data", content_type = "application/vnd.apache.parquet"),
              (status = 413, body = cairn_http::ErrorBody), (status = 422, body = cairn_http::ErrorBody)))]
pub(super) async fn historical_features(
    state: State,
    query: web::Query<HistoricalQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let request = query.into_inner().into_request(body).await?;
    let joined = state.features.historical(request).await?;
    let views = joined.views.join(",");
    let stream = tokio_util::io::ReaderStream::with_capacity(joined.open().await?, 1 << 20);
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.apache.parquet")
        .insert_header(("Cairn-Feature-Views", views))
        .streaming(stream))
}

/// Training data as a dataset version: the features joined onto the rows of a dataset version
/// (every column kept, labels included) as of each row's time, written to the offline store and
/// handed to ingestion, which adds it to `dataset` — declared from the result when it does not
/// exist — as a new version whose lineage names the feature service and view versions and the
/// dataset versions read (`lineage.training_data` is this answer's `id`).
#[utoipa::path(post, path = "/v1/training-data", tag = "definitions", request_body = TrainingDataRequest,
    responses((status = 202, body = TrainingData), (status = 404, body = cairn_http::ErrorBody),
              (status = 422, body = cairn_http::ErrorBody)))]
pub(super) async fn training_data(
    state: State,
    request: web::Json<TrainingDataRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Accepted().json(state.features.training_data(request.into_inner()).await?))
}
