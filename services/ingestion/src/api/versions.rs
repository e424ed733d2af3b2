//! Dataset versions over HTTP: listing, one version with its manifest, its profile, and
//! snapshots of streamed records.

use actix_web::{HttpResponse, web};
use cairn_api::{DatasetVersion, ProfileSummary, VersionPage};
use cairn_domain::Timestamp;
use cairn_http::{ApiError, ErrorKind};
use serde::Deserialize;

use super::{PageQuery, State, page};
use crate::stream;
use crate::versions::{self, VersionSelector};

/// A page of a dataset's versions, oldest first (without manifests).
#[utoipa::path(get, path = "/v1/datasets/{name}/versions", tag = "versions",
    params(("name" = String, Path, description = "Dataset name"), PageQuery),
    responses((status = 200, body = VersionPage), (status = 400, body = cairn_http::ErrorBody),
        (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn list_versions(
    state: State,
    name: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page(&query)?;
    Ok(HttpResponse::Ok().json(versions::list(&state.context, name.into_inner(), page).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct VersionQuery {
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
pub(super) async fn get_version(
    state: State,
    path: web::Path<(String, String)>,
    query: web::Query<VersionQuery>,
) -> Result<HttpResponse, ApiError> {
    let (dataset, segment) = path.into_inner();
    let selector = selector(&segment, &query)?;
    Ok(HttpResponse::Ok().json(versions::get(&state.context, dataset, selector).await?))
}

/// Make every streamed record committed so far a new version (200 with it), or 204 when
/// nothing arrived since the last version.
#[utoipa::path(post, path = "/v1/datasets/{name}/snapshots", tag = "versions",
    params(("name" = String, Path, description = "Dataset name")),
    responses((status = 200, body = DatasetVersion), (status = 204, description = "Nothing new"),
        (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn create_snapshot(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
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
pub(super) async fn get_profile(
    state: State,
    path: web::Path<(String, String)>,
    query: web::Query<VersionQuery>,
) -> Result<HttpResponse, ApiError> {
    let (dataset, segment) = path.into_inner();
    let selector = selector(&segment, &query)?;
    Ok(HttpResponse::Ok().json(versions::profile(&state.context, dataset, selector).await?))
}
