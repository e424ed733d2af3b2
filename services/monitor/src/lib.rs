#![doc = include_str!("../README.md")]

mod api;
mod batch;
mod columns;
mod error;
mod feedback;
mod loops;
mod metrics;
mod policy;
mod predictions;
mod reference;
mod report;
mod store;
mod watch;
mod webhooks;
mod window;

use std::sync::Arc;
use std::time::Duration;

use cairn_bus::{BatchLimits, Delivery, HandlerError};
use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_db::Migrations;
use cairn_domain::{ServiceKind, Timestamp};
use cairn_events::Event as _;
use cairn_events::topology::{
    MONITOR_FEEDBACK, MONITOR_LOOP_DEGRADED, MONITOR_LOOP_DRIFT, MONITOR_WEBHOOK_DEGRADED,
    MONITOR_WEBHOOK_DRIFT, MONITOR_WEBHOOK_ERRORS, MONITOR_WEBHOOK_LOOP, MONITOR_WEBHOOK_LOSS,
    PREDICTIONS_STREAM,
};
use cairn_events::v1::{
    DatasetVersionCreated, DriftDetected, LoopDecided, PerformanceDegraded, PredictionLogBatch,
    PredictionLogLoss, ServingErrorRate,
};
use cairn_runtime::{Runtime, RuntimeConfig};
use cairn_service::{RunningService, StartError};
use diesel_migrations::embed_migrations;

pub const MIGRATIONS: Migrations = Migrations {
    name: "cairn-monitor",
    sqlite: &embed_migrations!("migrations/sqlite"),
    postgres: &embed_migrations!("migrations/postgres"),
};

/// How often open windows are looked at for having lasted their period.
const EXPIRY_TICK: Duration = Duration::from_secs(5);

/// What the handlers share.
pub(crate) struct State {
    pub(crate) batch: batch::BatchDrift,
    pub(crate) watch: Arc<watch::Watch>,
    pub(crate) loops: Arc<loops::Loops>,
    pub(crate) db: cairn_db::Database,
}

/// How often loops look at their runs, canaries and approvals.
const LOOP_TICK: Duration = Duration::from_secs(2);

/// Starts the monitor service; the returned handle knows its bound address.
pub async fn run(config: CairnConfig) -> Result<RunningService, StartError> {
    let policy = Arc::new(policy::Policy::new(&config.monitor).map_err(StartError::Other)?);
    // Prediction drift runs versions through the model runtime; without it the monitor judges
    // the features alone (and says so on each version's reference).
    let runtime = match Runtime::init(&RuntimeConfig { library: config.runtime.onnxruntime_library() }) {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            tracing::warn!(%error, "ONNX Runtime not loaded: prediction drift is not judged");
            None
        }
    };
    let ingestion = Client::new(config.services.ingestion.base_url());
    let (training, serving) =
        (Client::new(config.services.training.base_url()), Client::new(config.services.serving.base_url()));
    let mut registry = Client::new(config.services.registry.base_url());
    if let Some(token) = config.serving.registry_token.expose() {
        registry = registry.with_credentials("cairn-monitor", token);
    }
    let context = cairn_service::start(ServiceKind::Monitor, config, &[MIGRATIONS]).await?;
    let store = cairn_storage::OfflineStore::from_config(&context.config)
        .map_err(|error| StartError::Other(format!("the offline store: {error}")))?;
    let columns = Arc::new(columns::Columns::new(ingestion, store));
    let metrics = metrics::MonitorMetrics::register(context.metrics.registry());
    let (watch, next) = watch::Watch::load(
        context.db.clone(),
        context.outbox.clone(),
        registry.clone(),
        Arc::clone(&columns),
        Arc::clone(&policy),
        metrics.clone(),
        runtime,
    )
    .await
    .map_err(|error| StartError::Other(format!("the monitor's state: {error}")))?;
    let watch = Arc::new(watch);
    let limits = BatchLimits { max_weight: 64, max_wait: Duration::from_millis(100), weight: None };
    let reader = context.bus.read_from(
        PREDICTIONS_STREAM,
        PredictionLogBatch::SUBJECT.to_owned(),
        next,
        limits,
        context.shutdown.clone(),
        {
            let watch = Arc::clone(&watch);
            move |deliveries| {
                let watch = Arc::clone(&watch);
                async move {
                    let last = deliveries.iter().map(|delivery| delivery.stream_sequence).max().unwrap_or(0);
                    let payloads = deliveries.into_iter().map(|delivery| delivery.payload).collect();
                    // Every failure is retried: a skipped batch would be predictions never counted.
                    watch.read(payloads, last).await.map_err(HandlerError::retry)
                }
            }
        },
    );
    let loops = Arc::new(loops::Loops::new(
        context.db.clone(),
        loops::Services { training, serving, registry },
        Arc::clone(&policy),
    ));
    let feedback = Arc::new(feedback::Feedback::new(
        context.db.clone(),
        context.outbox.clone(),
        Arc::clone(&columns),
        policy,
        metrics,
    ));
    let webhooks = Arc::new(webhooks::Webhooks::new(
        context.config.monitor.webhooks.clone(),
        context.config.monitor.webhook_secret.expose().map(str::to_owned),
        context.metrics.registry(),
    ));
    let mut consumers = vec![
        reader,
        context
            .follow(
                &MONITOR_FEEDBACK,
                (feedback, Arc::clone(&loops)),
                |(feedback, loops), delivery: Delivery<DatasetVersionCreated>| async move {
                    let (event, id) = (&delivery.event, delivery.event_id.to_string());
                    feedback.version_created(event, &id).await?;
                    loops.new_data(&event.dataset, event.version).await.map_err(HandlerError::from)
                },
            )
            .await?,
        context
            .follow(
                &MONITOR_LOOP_DRIFT,
                Arc::clone(&loops),
                |loops, delivery: Delivery<DriftDetected>| async move {
                    let (detail, numbers) = loops::drift_signal(&delivery.event);
                    loops
                        .signal(&delivery.event.deployment, "drift", detail, numbers)
                        .await
                        .map_err(HandlerError::from)
                },
            )
            .await?,
        context
            .follow(
                &MONITOR_LOOP_DEGRADED,
                Arc::clone(&loops),
                |loops, delivery: Delivery<PerformanceDegraded>| async move {
                    let (detail, numbers) = loops::degraded_signal(&delivery.event);
                    let endpoint = &delivery.event.deployment;
                    loops.signal(endpoint, "degradation", detail, numbers).await.map_err(HandlerError::from)
                },
            )
            .await?,
    ];
    if !webhooks.is_empty() {
        consumers.extend([
            webhooks::follow::<DriftDetected>(&context, &MONITOR_WEBHOOK_DRIFT, &webhooks).await?,
            webhooks::follow::<PerformanceDegraded>(&context, &MONITOR_WEBHOOK_DEGRADED, &webhooks).await?,
            webhooks::follow::<LoopDecided>(&context, &MONITOR_WEBHOOK_LOOP, &webhooks).await?,
            webhooks::follow::<ServingErrorRate>(&context, &MONITOR_WEBHOOK_ERRORS, &webhooks).await?,
            webhooks::follow::<PredictionLogLoss>(&context, &MONITOR_WEBHOOK_LOSS, &webhooks).await?,
        ]);
    }
    cairn_service::every("loops", LOOP_TICK, context.shutdown.clone(), {
        let loops = Arc::clone(&loops);
        move || {
            let loops = Arc::clone(&loops);
            async move { loops.tick().await }
        }
    });
    cairn_service::every("window expiry", EXPIRY_TICK, context.shutdown.clone(), {
        let watch = Arc::clone(&watch);
        move || {
            let watch = Arc::clone(&watch);
            async move { watch.expire(Timestamp::now().as_micros()).await }
        }
    });
    let state = actix_web::web::Data::new(State {
        batch: batch::BatchDrift::new(columns),
        watch,
        loops,
        db: context.db.clone(),
    });
    context.serve(
        api::openapi(),
        move |cfg| {
            cfg.app_data(state.clone());
            api::configure(cfg);
        },
        consumers,
    )
}
