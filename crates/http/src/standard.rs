use std::sync::Arc;

use actix_web::{HttpResponse, web};
use cairn_api::{Health, Readiness};
use futures::future::BoxFuture;

use crate::server::Shared;

/// Reports what keeps a service from serving; an empty list means ready.
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, Check> + Send + Sync>;

/// What `/readyz` reports: why the service is not ready (503 while any), and how it is degraded
/// while it still serves (200, listed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Check {
    pub reasons: Vec<String>,
    pub degraded: Vec<String>,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is alive", body = Health)))]
pub(crate) async fn healthz(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        service: shared.service.to_string(),
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// NATS connected, streams present, database migrated.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready to serve", body = Readiness),
    (status = 503, description = "Not ready, with the reasons", body = Readiness)))]
pub(crate) async fn readyz(shared: web::Data<Shared>) -> HttpResponse {
    let Check { reasons, degraded } = (shared.readiness)().await;
    let ready = reasons.is_empty();
    let body =
        Readiness { service: shared.service.to_string(), ready, reasons, degraded, pid: std::process::id() };
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub(crate) async fn metrics(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(shared.metrics.render())
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 description of this service")))]
pub(crate) async fn openapi(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(&shared.openapi)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(healthz, readyz, metrics, openapi),
    components(schemas(Health, Readiness, cairn_api::ErrorBody, cairn_api::ErrorDetail))
)]
pub(crate) struct StandardApi;
