#![doc = include_str!("../README.md")]

mod alerts;
mod api;
mod endpoints;
mod features;
mod follow;
mod infer;
mod log;
mod metrics;
mod models;
mod nats;
mod oip;
mod predict;
mod scoring;
mod streams;

use std::sync::Arc;

use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_db::Migrations;
use cairn_domain::ServiceKind;
use cairn_online::{NatsOnlineStore, ReadOptions};
use cairn_runtime::{Runtime, RuntimeConfig, SessionOptions};
use cairn_service::{RunningService, StartError};
use diesel_migrations::embed_migrations;

pub const MIGRATIONS: Migrations = Migrations {
    name: "cairn-serving",
    sqlite: &embed_migrations!("migrations/sqlite"),
    postgres: &embed_migrations!("migrations/postgres"),
};

/// What the handlers share.
pub(crate) struct State {
    pub(crate) endpoints: Arc<endpoints::Endpoints>,
    pub(crate) log: Arc<log::PredictionLog>,
    pub(crate) features: Arc<features::Features>,
    pub(crate) scoring: Arc<scoring::Scoring>,
    pub(crate) metrics: metrics::ServingMetrics,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_rows: usize,
    /// Elements one request's inputs may hold together.
    pub(crate) max_elements: usize,
}

/// Starts the serving service; the returned handle knows its bound address. ONNX Runtime must
/// load (the error says how to install it); endpoints load in the background, and `/readyz`
/// waits for them.
pub async fn run(config: CairnConfig) -> Result<RunningService, StartError> {
    let runtime = Runtime::init(&RuntimeConfig { library: config.runtime.onnxruntime_library() })
        .map_err(|error| StartError::Other(error.to_string()))?;
    let mut registry = Client::new(config.services.registry.base_url());
    if let Some(token) = config.serving.registry_token.expose() {
        registry = registry.with_credentials("cairn-serving", token);
    }
    let mut options = SessionOptions::default();
    if config.serving.sessions > 0 {
        options.sessions = config.serving.sessions;
    }
    let feature_store = Client::new(config.services.feature_store.base_url());
    let (max_body_bytes, max_rows) = (config.http.max_body_bytes, config.serving.max_rows);
    let context = cairn_service::start(ServiceKind::Serving, config, &[MIGRATIONS]).await?;
    let settings = &context.config.features;
    let store = NatsOnlineStore::new(
        context.bus.clone(),
        settings.online_replica_mib.saturating_mul(1024 * 1024),
        context.shutdown.clone(),
    );
    let options_online = ReadOptions { null_outside_max_age: settings.null_outside_max_age };
    let features = Arc::new(features::Features::new(store, feature_store, options_online));
    let models = Arc::new(models::Models::new(
        runtime,
        registry,
        context.config.model_cache_dir(),
        options,
        Arc::clone(&features),
    ));
    let endpoints =
        Arc::new(endpoints::Endpoints::new(context.db.clone(), context.outbox.clone(), Arc::clone(&models)));
    let offline = cairn_storage::OfflineStore::from_config(&context.config)
        .map_err(|error| StartError::Other(format!("the offline store: {error}")))?;
    let scoring = Arc::new(scoring::Scoring::new(
        context.db.clone(),
        context.outbox.clone(),
        models,
        Client::new(context.config.services.ingestion.base_url()),
        offline,
        context.config.data_dir.join("serving").join("scoring"),
    ));
    scoring.start(context.shutdown.clone());
    follow::start(&context.bus, Arc::clone(&endpoints), context.shutdown.clone())
        .await
        .map_err(StartError::Other)?;
    // The first round loads every endpoint; the replica reports ready once it has. A short
    // round (no endpoints, small models) is waited for here, a long one continues meanwhile.
    let first = Arc::clone(&endpoints);
    let mut loading = tokio::spawn(async move {
        if let Err(error) = first.reconcile_all().await {
            tracing::warn!(%error, "loading the endpoints; trying again next round");
        }
    });
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut loading).await;
    let log = Arc::new(log::PredictionLog::start(
        context.bus.clone(),
        context.metrics.registry(),
        context.shutdown.clone(),
    ));
    let metrics = metrics::ServingMetrics::register(context.metrics.registry());
    let state = Arc::new(State {
        endpoints: Arc::clone(&endpoints),
        log,
        features,
        scoring,
        metrics,
        max_body_bytes,
        max_rows,
        // Enough for max_rows rows of a few hundred features, and bounded.
        max_elements: max_rows.saturating_mul(1024).min(64 << 20),
    });
    nats::start(&context.bus, Arc::clone(&state), context.shutdown.clone())
        .await
        .map_err(StartError::Other)?;
    streams::start(context.bus.clone(), Arc::clone(&state), context.shutdown.clone());
    let replica = format!(
        "{}:{}",
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim(),
        std::process::id()
    );
    let serving = &context.config.serving;
    let alerts =
        alerts::Alerts::new(state.metrics.clone(), state.log.dropped(), serving.alert_error_rate, replica);
    let alerts = Arc::new(tokio::sync::Mutex::new(alerts));
    let period = std::time::Duration::from_secs(serving.alert_period_secs.max(1));
    cairn_service::every("serving alerts", period, context.shutdown.clone(), {
        let (db, outbox) = (context.db.clone(), context.outbox.clone());
        move || {
            let (alerts, db, outbox) = (Arc::clone(&alerts), db.clone(), outbox.clone());
            async move { alerts.lock().await.raise(&db, &outbox).await }
        }
    });
    let log = Arc::clone(&state.log);
    let state = actix_web::web::Data::from(state);
    // Ready once every endpoint has loaded; NATS or the database away only degrades a replica
    // (loaded models keep answering), as does a prediction log that is losing records.
    let readiness: cairn_service::ReadinessPolicy = Arc::new(move |standard| {
        let mut check = cairn_http::Check { reasons: endpoints.readiness(), degraded: standard.reasons };
        check.degraded.extend(standard.degraded);
        check.degraded.extend(log.loss());
        Box::pin(async move { check })
    });
    context.serve_with_readiness(
        api::openapi(),
        move |cfg| {
            cfg.app_data(state.clone());
            api::configure(cfg);
        },
        Vec::new(),
        Some(readiness),
    )
}
