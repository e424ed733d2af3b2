use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use cairn_bus::{Bus, BusError, ConsumerHandle};
use cairn_config::CairnConfig;
use cairn_db::{Database, DbError, Migrations};
use cairn_domain::ServiceKind;
use cairn_http::{Check, HttpOptions, ReadinessCheck, RunningServer, ServiceApi};
use cairn_telemetry::Metrics;
use futures::FutureExt as _;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::Outbox;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("database: {0}")]
    Database(#[from] DbError),
    #[error("cannot listen on {host}:{port}: {source}")]
    Listen { host: String, port: u16, source: std::io::Error },
    #[error("{0}")]
    Other(String),
}

/// Everything a service's core needs, connected and ready.
#[derive(Clone)]
pub struct ServiceContext {
    pub kind: ServiceKind,
    pub config: Arc<CairnConfig>,
    pub bus: Bus,
    pub db: Database,
    pub outbox: Outbox,
    pub metrics: Metrics,
    /// Cancelled when the service stops; long-running tasks watch it.
    pub shutdown: CancellationToken,
}

/// Connects a service to NATS (declaring the topology) and to its migrated database.
pub async fn start(
    kind: ServiceKind,
    config: CairnConfig,
    migrations: &[Migrations],
) -> Result<ServiceContext, StartError> {
    let metrics = Metrics::new(kind.as_str());
    let bus = Bus::connect(&config.nats, kind, metrics.clone()).await?;
    bus.ensure_topology().await?;
    let url = config.database_url(kind);
    let db = Database::connect(
        url.expose().unwrap_or_default(),
        config.database.pool_size,
        kind.config_key(),
        migrations,
    )
    .await?;
    tracing::info!(service = %kind, backend = %db.backend(), "connected to NATS and database");
    let outbox = Outbox::new(db.clone(), bus.clone());
    Ok(ServiceContext {
        kind,
        config: Arc::new(config),
        bus,
        db,
        outbox,
        metrics,
        shutdown: CancellationToken::new(),
    })
}

/// What a service makes of the standard readiness check: see [`ServiceContext::serve_with_readiness`].
pub type ReadinessPolicy = Arc<dyn Fn(Check) -> BoxFuture<'static, Check> + Send + Sync>;

impl ServiceContext {
    /// NATS connected, every declared stream present, database reachable and migrated.
    pub fn readiness(&self) -> ReadinessCheck {
        let (bus, db) = (self.bus.clone(), self.db.clone());
        Arc::new(move || {
            let (bus, db) = (bus.clone(), db.clone());
            async move {
                let mut reasons = Vec::new();
                if bus.is_connected() {
                    match bus.missing_streams().await {
                        Ok(missing) => {
                            reasons.extend(missing.iter().map(|s| format!("nats: stream {s} missing")))
                        }
                        Err(error) => reasons.push(format!("nats: {error}")),
                    }
                } else {
                    reasons.push("nats: not connected".to_owned());
                }
                reasons.extend(db.readiness().await);
                Check { reasons, degraded: Vec::new() }
            }
            .boxed()
        })
    }

    fn http_options(&self) -> HttpOptions {
        let http = &self.config.http;
        HttpOptions {
            host: http.host.clone(),
            port: self.config.services.get(self.kind).port,
            max_body_bytes: http.max_body_bytes,
            shutdown_timeout: Duration::from_secs(http.shutdown_timeout_secs),
            workers: match http.workers {
                0 => crate::cores(),
                workers => workers,
            },
        }
    }

    /// Serves HTTP (the service's routes plus the standard endpoints) and starts the outbox
    /// relay. `consumers` are stopped with the service.
    pub fn serve(
        self,
        openapi: utoipa::openapi::OpenApi,
        configure: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
        consumers: Vec<ConsumerHandle>,
    ) -> Result<RunningService, StartError> {
        self.serve_with_readiness(openapi, configure, consumers, None)
    }

    /// `serve`, with `/readyz` answering what `policy` makes of the standard check (NATS, the
    /// database): the service's own state added, or a dependency it can serve without turned
    /// into a degradation (serving answers with loaded models while NATS is away).
    pub fn serve_with_readiness(
        self,
        openapi: utoipa::openapi::OpenApi,
        configure: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
        consumers: Vec<ConsumerHandle>,
        policy: Option<ReadinessPolicy>,
    ) -> Result<RunningService, StartError> {
        let options = self.http_options();
        let base = self.readiness();
        let readiness: ReadinessCheck = match policy {
            None => base,
            Some(policy) => Arc::new(move || {
                let (base, policy) = (base(), Arc::clone(&policy));
                async move { policy(base.await).await }.boxed()
            }),
        };
        let api = ServiceApi {
            service: self.kind,
            openapi,
            readiness,
            metrics: self.metrics.clone(),
            configure: Arc::new(configure),
        };
        let server = cairn_http::serve(&options, api).map_err(|source| StartError::Listen {
            host: options.host.clone(),
            port: options.port,
            source,
        })?;
        let relay = self.outbox.spawn_relay(self.shutdown.clone());
        tracing::info!(service = %self.kind, addr = %server.addr, "listening");
        Ok(RunningService { kind: self.kind, server, consumers, relay, shutdown: self.shutdown })
    }
}

/// A started service. Dropping it does not stop it; call `stop`.
pub struct RunningService {
    pub kind: ServiceKind,
    server: RunningServer,
    consumers: Vec<ConsumerHandle>,
    relay: tokio::task::JoinHandle<()>,
    shutdown: CancellationToken,
}

impl RunningService {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Stops accepting requests, lets in-flight ones finish, stops consumers after the event in
    /// hand, and publishes what the outbox still holds.
    pub async fn stop(self) {
        tracing::info!(service = %self.kind, "stopping");
        self.server.stop().await;
        for consumer in self.consumers {
            consumer.stop().await;
        }
        self.shutdown.cancel();
        let _ = self.relay.await;
    }
}
