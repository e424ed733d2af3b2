use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpRequest, HttpServer, web};
use cairn_domain::ServiceKind;
use cairn_telemetry::Metrics;
use utoipa::OpenApi as _;

use crate::error::{ApiError, ErrorKind};
use crate::middleware::{normalize_error, observe};
use crate::standard::{self, ReadinessCheck, StandardApi};

/// Where and how a service listens.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub host: String,
    /// 0 picks a free port; `RunningServer::addr` tells which.
    pub port: u16,
    pub max_body_bytes: usize,
    pub shutdown_timeout: Duration,
    pub workers: usize,
}

/// What a service contributes: its routes, its OpenAPI document and its readiness check.
pub struct ServiceApi {
    pub service: ServiceKind,
    pub openapi: utoipa::openapi::OpenApi,
    pub readiness: ReadinessCheck,
    pub metrics: Metrics,
    /// Registers the service's own routes and `app_data`.
    pub configure: std::sync::Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>,
}

pub(crate) struct Shared {
    pub(crate) service: ServiceKind,
    pub(crate) openapi: utoipa::openapi::OpenApi,
    pub(crate) readiness: ReadinessCheck,
    pub(crate) metrics: Metrics,
}

/// A listening HTTP server.
pub struct RunningServer {
    pub addr: SocketAddr,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting connections and lets in-flight requests finish (up to the shutdown
    /// timeout).
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}

/// Binds `options.host:options.port` and serves the standard endpoints beside the service's.
pub fn serve(options: &HttpOptions, api: ServiceApi) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind((options.host.as_str(), options.port))?;
    let addr = listener.local_addr()?;
    let mut openapi = api.openapi;
    openapi.merge(StandardApi::openapi());
    openapi.info.title = format!("cairn-{}", api.service);
    openapi.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let shared = web::Data::new(Shared {
        service: api.service,
        openapi,
        readiness: api.readiness,
        metrics: api.metrics,
    });
    let configure = api.configure;
    let limit = options.max_body_bytes;
    let server = HttpServer::new(move || {
        let configure = configure.clone();
        App::new()
            .app_data(shared.clone())
            .app_data(web::JsonConfig::default().limit(limit).error_handler(json_error))
            .app_data(web::PayloadConfig::default().limit(limit))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .wrap(ErrorHandlers::new().default_handler(normalize_error))
            .wrap(from_fn(observe))
            .service(web::resource("/healthz").get(standard::healthz))
            .service(web::resource("/readyz").get(standard::readyz))
            .service(web::resource("/metrics").get(standard::metrics))
            .service(web::resource("/openapi.json").get(standard::openapi))
            .configure(move |cfg| configure(cfg))
            .default_service(web::to(not_found))
    })
    .workers(options.workers.max(1))
    .shutdown_timeout(options.shutdown_timeout.as_secs())
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(RunningServer { addr, handle, task })
}

async fn not_found(request: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found(format!("no route for {} {}", request.method(), request.path())))
}

fn json_error(error: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let api = match &error {
        JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!("body of {length} bytes exceeds the limit of {limit} bytes"),
        ),
        JsonPayloadError::Overflow { limit } => {
            ApiError::new(ErrorKind::PayloadTooLarge, format!("body exceeds the limit of {limit} bytes"))
        }
        JsonPayloadError::ContentType => {
            ApiError::new(ErrorKind::UnsupportedMediaType, "expected Content-Type: application/json")
        }
        JsonPayloadError::Deserialize(inner) if inner.is_data() => ApiError::invalid(inner.to_string()),
        JsonPayloadError::Deserialize(inner) => {
            ApiError::new(ErrorKind::BadRequest, format!("malformed JSON: {inner}"))
        }
        other => ApiError::new(ErrorKind::BadRequest, other.to_string()),
    };
    api.into()
}

fn path_error(error: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::new(ErrorKind::BadRequest, format!("bad path parameter: {error}")).into()
}

fn query_error(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::new(ErrorKind::BadRequest, format!("bad query parameter: {error}")).into()
}
