//! The Open Inference Protocol's REST routes (`/v2`): health, metadata and infer, with the
//! binary tensor data extension. Model names are endpoint names; a version in the path must be
//! the one the endpoint serves. Errors are `{"error": "..."}` with `content-type:
//! application/json` exactly (KServe's client reads the message only then); nothing here is
//! compressed (tritonclient's aio client turns decompression off).

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use cairn_runtime::Output;
use futures::StreamExt as _;

use std::sync::Arc;
use std::time::Instant;

use crate::State;
use crate::infer::{self, InferError};
use crate::log::Logged;
use crate::metrics::Outcome;
use crate::oip::{
    self, InferResponse, Limits, OipError, RequestedOutputs, ResponseOutput, error_body, model_metadata,
    model_ready, server_metadata,
};

const HEADER_LENGTH: &str = "inference-header-content-length";
/// Requests with the same value go to the same version of a canary split.
const ROUTING_KEY: &str = "cairn-routing-key";

/// The infer routes come first: actix tries routes in order, each with a pattern by regular
/// expression, and the hot path should not pay for the others (it did: 14% of serving's CPU).
pub(super) fn configure_infer(cfg: &mut web::ServiceConfig) {
    cfg.route("/v2/models/{name}/infer", web::post().to(infer))
        .route("/v2/models/{name}/versions/{version}/infer", web::post().to(infer));
}

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v2", web::get().to(server))
        .route("/v2/health/live", web::get().to(live))
        .route("/v2/health/ready", web::get().to(ready))
        .route("/v2/models/{name}", web::get().to(metadata))
        .route("/v2/models/{name}/versions/{version}", web::get().to(metadata))
        .route("/v2/models/{name}/ready", web::get().to(model_is_ready))
        .route("/v2/models/{name}/versions/{version}/ready", web::get().to(model_is_ready));
}

/// `{name}` and the optional `{version}` of a model route.
#[derive(serde::Deserialize)]
struct ModelPath {
    name: String,
    version: Option<String>,
}

async fn server() -> HttpResponse {
    json(StatusCode::OK, server_metadata("cairn", env!("CARGO_PKG_VERSION")))
}

async fn live() -> HttpResponse {
    json(StatusCode::OK, oip::LIVE.to_vec())
}

async fn ready(state: web::Data<State>) -> HttpResponse {
    let reasons = state.endpoints.readiness();
    if reasons.is_empty() {
        json(StatusCode::OK, oip::READY.to_vec())
    } else {
        error(StatusCode::SERVICE_UNAVAILABLE, &reasons.join("; "))
    }
}

async fn metadata(state: web::Data<State>, path: web::Path<ModelPath>) -> HttpResponse {
    match infer::choose(&state.endpoints, &path.name, path.version.as_deref(), None) {
        Ok(chosen) => {
            let (version, signature) = (chosen.answer.version.to_string(), chosen.answer.signature());
            json(StatusCode::OK, model_metadata(&path.name, &[version], signature))
        }
        Err(failure) => infer_error(&failure),
    }
}

async fn model_is_ready(state: web::Data<State>, path: web::Path<ModelPath>) -> HttpResponse {
    match infer::choose(&state.endpoints, &path.name, path.version.as_deref(), None) {
        Ok(_) => json(StatusCode::OK, model_ready(&path.name)),
        Err(failure) => infer_error(&failure),
    }
}

async fn infer(
    state: web::Data<State>,
    path: web::Path<ModelPath>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let started = Instant::now();
    // Only endpoints that exist become metric labels: a name in a path is anyone's to invent.
    let label = if state.endpoints.route(&path.name).is_some() { path.name.as_str() } else { "(unknown)" };
    let _in_flight = state.metrics.start(label);
    let (response, version) = answer(&state, &path, &request, payload, started).await;
    let outcome = match response.status() {
        status if status.is_success() => Outcome::Ok,
        status if status.is_client_error() => Outcome::Refused,
        _ => Outcome::Failed,
    };
    state.metrics.finished(label, &version, outcome, started.elapsed().as_secs_f64());
    response
}

/// The response, and the version that answered (empty when none did).
async fn answer(
    state: &State,
    path: &ModelPath,
    request: &HttpRequest,
    payload: web::Payload,
    started: Instant,
) -> (HttpResponse, String) {
    let body = match read_body(payload, state.max_body_bytes).await {
        Ok(body) => body,
        Err(response) => return (response, String::new()),
    };
    let header = request.headers().get(HEADER_LENGTH).map(|value| value.to_str().unwrap_or("\u{fffd}"));
    let decoded = match oip::decode(&body, header, Limits { max_elements: state.max_elements }) {
        Ok(decoded) => decoded,
        Err(failure) => return (error(StatusCode::BAD_REQUEST, &failure.to_string()), String::new()),
    };
    let key = request.headers().get(ROUTING_KEY).map(|value| value.as_bytes());
    let chosen = match infer::choose(&state.endpoints, &path.name, path.version.as_deref(), key) {
        Ok(chosen) => chosen,
        Err(failure) => return (infer_error(&failure), String::new()),
    };
    let number = chosen.answer.version.to_string();
    let copy = chosen.shadow.map(|shadow| (shadow, decoded.inputs.clone()));
    let inference = match infer::run(chosen.answer, decoded.inputs, state.max_rows).await {
        Ok(inference) => inference,
        Err(failure) => return (infer_error(&failure), number),
    };
    let outputs = match select(&inference.outputs, &decoded.outputs) {
        Ok(outputs) => outputs,
        Err(message) => return (error(StatusCode::BAD_REQUEST, &message), number),
    };
    let request_id = decoded.id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let response = InferResponse {
        model_name: &path.name,
        model_version: Some(&number),
        id: Some(&request_id),
        outputs,
    };
    let response = match oip::encode(&response) {
        Ok(encoded) => {
            let mut builder = HttpResponse::Ok();
            match encoded.json_len {
                Some(json_len) => {
                    builder.insert_header((CONTENT_TYPE, "application/octet-stream"));
                    builder.insert_header((HEADER_LENGTH, json_len.to_string()));
                }
                None => {
                    builder.insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")));
                }
            }
            builder.body(encoded.body)
        }
        Err(failure @ (OipError::NonFinite { .. } | OipError::TooLong { .. })) => {
            return (error(StatusCode::INTERNAL_SERVER_ERROR, &failure.to_string()), number);
        }
        Err(failure) => return (error(StatusCode::BAD_REQUEST, &failure.to_string()), number),
    };
    if let Some((shadow, inputs)) = copy {
        let (log, endpoint, id) = (Arc::clone(&state.log), path.name.clone(), request_id.clone());
        infer::shadow(log, endpoint, id, shadow, inputs, state.max_rows);
    }
    state.log.record(Logged::answer(path.name.clone(), request_id, inference, started, false));
    (response, number)
}

/// The outputs the request asked for, in its order; an unknown name is the request's mistake.
fn select<'a>(
    outputs: &'a [Output],
    requested: &RequestedOutputs,
) -> Result<Vec<ResponseOutput<'a>>, String> {
    match requested {
        RequestedOutputs::All { binary } => Ok(outputs
            .iter()
            .map(|output| ResponseOutput { name: &output.name, tensor: &output.tensor, binary: *binary })
            .collect()),
        RequestedOutputs::Named(named) => named
            .iter()
            .map(|wanted| {
                let output = outputs.iter().find(|output| output.name == wanted.name).ok_or_else(|| {
                    let known: Vec<&str> = outputs.iter().map(|output| output.name.as_str()).collect();
                    format!(
                        "output `{}`: the model has no such output (it has {})",
                        wanted.name,
                        known.join(", ")
                    )
                })?;
                Ok(ResponseOutput { name: &output.name, tensor: &output.tensor, binary: wanted.binary })
            })
            .collect(),
    }
}

/// The body, up to `limit` bytes: past it, a 413 in the protocol's shape.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, HttpResponse> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|failure| error(StatusCode::BAD_REQUEST, &failure.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is larger than {limit} bytes (http.max_body_bytes)"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn infer_error(failure: &InferError) -> HttpResponse {
    let status = match failure {
        InferError::NoEndpoint(_) | InferError::NoVersion { .. } => StatusCode::NOT_FOUND,
        InferError::NotReady { .. } | InferError::Features(_) => StatusCode::SERVICE_UNAVAILABLE,
        InferError::TooManyRows { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        InferError::Input(_) => StatusCode::BAD_REQUEST,
        InferError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %failure, "inference failed");
    }
    error(status, &failure.to_string())
}

fn error(status: StatusCode, message: &str) -> HttpResponse {
    json(status, error_body(message))
}

fn json(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .body(body)
}
