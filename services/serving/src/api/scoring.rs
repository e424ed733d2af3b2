//! `/v1/scoring-jobs`: batch scoring of a dataset version.

use actix_web::{HttpResponse, web};
use cairn_api::{ScoringJob, ScoringRequest};
use cairn_http::ApiError;

use crate::State;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/scoring-jobs", web::post().to(submit))
        .route("/v1/scoring-jobs", web::get().to(list))
        .route("/v1/scoring-jobs/{id}", web::get().to(get));
}

/// Starts a job: the model version (`version`, or the one `alias` points at now) scores every row
/// of the dataset version; the rows and predictions become a new version of `output`. The answer
/// is the job, running; follow it with `GET /v1/scoring-jobs/{id}`.
#[utoipa::path(post, path = "/v1/scoring-jobs", tag = "scoring", request_body = ScoringRequest,
    responses((status = 202, body = ScoringJob), (status = 400, body = cairn_http::ErrorBody),
              (status = 404, body = cairn_http::ErrorBody), (status = 503, body = cairn_http::ErrorBody)))]
pub(super) async fn submit(
    state: web::Data<State>,
    request: web::Json<ScoringRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Accepted().json(state.scoring.submit(request.into_inner()).await?))
}

/// The latest hundred jobs, newest first.
#[utoipa::path(get, path = "/v1/scoring-jobs", tag = "scoring", responses((status = 200, body = Vec<ScoringJob>)))]
pub(super) async fn list(state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.scoring.list().await?))
}

/// One job: its state and progress.
#[utoipa::path(get, path = "/v1/scoring-jobs/{id}", tag = "scoring", params(("id" = String, Path)),
    responses((status = 200, body = ScoringJob), (status = 404, body = cairn_http::ErrorBody)))]
pub(super) async fn get(state: web::Data<State>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.scoring.get(&id).await?))
}
