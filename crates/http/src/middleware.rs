use std::time::Instant;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, web};
use tracing::Instrument as _;

use crate::error::{ApiError, ErrorKind};
use crate::server::Shared;

/// Rewrites error responses that are not already in the platform's JSON shape (actix-web's own
/// 404, 405, 413, ...), so a client only ever sees one error body.
pub(crate) fn normalize_error<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(response.map_into_left_body()));
    }
    let status = response.status();
    let kind = ErrorKind::from_status(status);
    let message = match (kind, response.response().error()) {
        (ErrorKind::Internal, Some(error)) => {
            tracing::error!(%error, "internal error");
            "internal error; see the service log".to_owned()
        }
        (_, Some(error)) => error.to_string(),
        (ErrorKind::NotFound, None) => format!("no route for {}", response.request().path()),
        (ErrorKind::MethodNotAllowed, None) => {
            format!("{} is not allowed on {}", response.request().method(), response.request().path())
        }
        (_, None) => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let body = ApiError::new(kind, message).body();
    let (request, mut original) = response.into_parts();
    let mut rewritten = HttpResponse::build(status).json(body);
    if let Some(allow) = original.headers_mut().remove(header::ALLOW).next() {
        rewritten.headers_mut().insert(header::ALLOW, allow);
    }
    rewritten.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(request, rewritten).map_into_right_body()))
}

/// One span per request (continuing the caller's trace) and route-template metrics.
pub(crate) async fn observe(
    request: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> actix_web::Result<ServiceResponse<EitherBody<BoxBody>>> {
    let shared = request.app_data::<web::Data<Shared>>().cloned();
    let route = request.match_pattern().unwrap_or_else(|| "(unmatched)".to_owned());
    let method = request.method().to_string();
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{method} {route}"),
        http.method = %method,
        http.route = %route,
        http.status_code = tracing::field::Empty,
        service = tracing::field::Empty,
    );
    let headers = request.headers().clone();
    cairn_telemetry::propagation::set_parent_from(&span, |key| {
        headers.get(key).and_then(|value| value.to_str().ok()).map(str::to_owned)
    });
    if let Some(shared) = &shared {
        span.record("service", shared.service.as_str());
    }
    let started = Instant::now();
    let response = next.call(request).instrument(span.clone()).await?;
    let status = response.status();
    span.record("http.status_code", status.as_u16());
    if let Some(shared) = shared {
        let metrics = &shared.metrics;
        metrics.http_requests.with_label_values(&[&method, &route, status.as_str()]).inc();
        metrics.http_duration.with_label_values(&[&method, &route]).observe(started.elapsed().as_secs_f64());
    }
    Ok(response.map_body(|_, body| EitherBody::left(body.boxed())))
}
