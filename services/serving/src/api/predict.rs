//! `POST /v1/endpoints/{name}/predict`: records by feature name, or entity keys.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use cairn_api::{PredictRequest, PredictResponse};
use cairn_http::ApiError;

use crate::State;
use crate::metrics::Outcome;
use crate::predict;

/// Requests with the same value go to the same version of a canary split (as on the OIP routes).
const ROUTING_KEY: &str = "cairn-routing-key";

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/endpoints/{name}/predict", web::post().to(predict));
}

/// Predictions for records given by feature name, or for entity keys whose features the online
/// store holds (the model version's feature service names them); a prediction per row, in order.
#[utoipa::path(post, path = "/v1/endpoints/{name}/predict", tag = "endpoints",
    params(("name" = String, Path)), request_body = PredictRequest,
    responses((status = 200, body = PredictResponse), (status = 400, body = cairn_http::ErrorBody),
              (status = 404, body = cairn_http::ErrorBody), (status = 503, body = cairn_http::ErrorBody)))]
pub(super) async fn predict(
    state: web::Data<State>,
    name: web::Path<String>,
    request: HttpRequest,
    body: web::Json<PredictRequest>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    // Only endpoints that exist become metric labels: a name in a path is anyone's to invent.
    let label = if state.endpoints.route(&name).is_some() { name.as_str() } else { "(unknown)" };
    let _in_flight = state.metrics.start(label);
    let key = request.headers().get(ROUTING_KEY).map(|value| value.as_bytes());
    let answer = predict::predict(&state, &name, body.into_inner(), key).await;
    let (outcome, version) = match &answer {
        Ok(response) => (Outcome::Ok, response.version.to_string()),
        Err(error) => (Outcome::of(error), String::new()),
    };
    state.metrics.finished(label, &version, outcome, started.elapsed().as_secs_f64());
    Ok(HttpResponse::Ok().json(answer?))
}
