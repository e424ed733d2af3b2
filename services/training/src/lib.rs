#![doc = include_str!("../README.md")]

mod api;
mod evaluate;
mod frame;
mod orchestrator;
mod pipelines;
mod random;
mod runs;
mod search;
mod tracking;
mod trainers;
mod triggers;
mod worker;

use std::sync::Arc;

use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_db::Migrations;
use cairn_domain::{EventId, ServiceKind};
use cairn_events::topology::{TRAINING_DATASETS, TRAINING_DRIFT, TRAINING_TRIALS};
use cairn_runtime::{Runtime, RuntimeConfig};
use cairn_service::{RunningService, StartError};
use diesel_migrations::embed_migrations;

pub use worker::{RunningWorker, work};

/// How often schedules are looked at: a run starts within this of its slot.
const SCHEDULE_TICK: std::time::Duration = std::time::Duration::from_secs(15);

pub const MIGRATIONS: Migrations = Migrations {
    name: "cairn-training",
    sqlite: &embed_migrations!("migrations/sqlite"),
    postgres: &embed_migrations!("migrations/postgres"),
};

/// What the handlers share.
pub(crate) struct State {
    pub(crate) pipelines: Arc<pipelines::Pipelines>,
    pub(crate) runs: Arc<runs::Runs>,
}

/// Starts the training service (the orchestrator; workers run apart, `cairn worker`). ONNX
/// Runtime must load: the orchestrator measures every candidate through it.
pub async fn run(config: CairnConfig) -> Result<RunningService, StartError> {
    let runtime = Runtime::init(&RuntimeConfig { library: config.runtime.onnxruntime_library() })
        .map_err(|error| StartError::Other(error.to_string()))?;
    let services = &config.services;
    let (ingestion, features) =
        (Client::new(services.ingestion.base_url()), Client::new(services.feature_store.base_url()));
    let mut registry = Client::new(services.registry.base_url());
    if let Some(token) = config.serving.registry_token.expose() {
        registry = registry.with_credentials("cairn-training", token);
    }
    let context = cairn_service::start(ServiceKind::Training, config, &[MIGRATIONS]).await?;
    let store = cairn_storage::OfflineStore::from_config(&context.config)
        .map_err(|error| StartError::Other(format!("the offline store: {error}")))?;
    let (runs, started) = runs::Runs::new(context.db.clone());
    let runs = Arc::new(runs);
    let orchestrator = Arc::new(orchestrator::Orchestrator::new(
        Arc::clone(&runs),
        orchestrator::Services {
            ingestion: ingestion.clone(),
            features: features.clone(),
            registry,
            store,
            runtime,
            bus: context.bus.clone(),
        },
    ));
    orchestrator.start(started, context.shutdown.clone());
    let reports = Arc::clone(&orchestrator);
    let consumer = context
        .bus
        .consume(&TRAINING_TRIALS, context.shutdown.clone(), move |delivery| {
            let orchestrator = Arc::clone(&reports);
            async move {
                orchestrator::trials::reported(&orchestrator, delivery.event)
                    .await
                    .map_err(cairn_bus::HandlerError::retry)
            }
        })
        .await?;
    let pipelines = Arc::new(pipelines::Pipelines::new(context.db.clone(), ingestion, features));
    let triggers =
        Arc::new(triggers::Triggers::new(context.db.clone(), Arc::clone(&pipelines), Arc::clone(&runs)));
    let consumers = vec![
        consumer,
        context
            .bus
            .consume(&TRAINING_DATASETS, context.shutdown.clone(), {
                let triggers = Arc::clone(&triggers);
                move |delivery: cairn_bus::Delivery<cairn_events::v1::DatasetVersionCreated>| {
                    let triggers = Arc::clone(&triggers);
                    async move {
                        let event = delivery.event;
                        Ok(triggers
                            .dataset_version(&event.dataset, event.version, event.created_at_unix_micros)
                            .await?)
                    }
                }
            })
            .await?,
        context
            .bus
            .consume(&TRAINING_DRIFT, context.shutdown.clone(), {
                let triggers = Arc::clone(&triggers);
                move |delivery: cairn_bus::Delivery<cairn_events::v1::DriftDetected>| {
                    let triggers = Arc::clone(&triggers);
                    async move {
                        let event = delivery.event;
                        let report =
                            format!("{}@{}:{}", event.model, event.version, event.window_end_unix_micros);
                        Ok(triggers.drift(&event.model, report, event.window_end_unix_micros).await?)
                    }
                }
            })
            .await?,
    ];
    cairn_service::every("pipeline schedules", SCHEDULE_TICK, context.shutdown.clone(), {
        let triggers = Arc::clone(&triggers);
        move || {
            let triggers = Arc::clone(&triggers);
            async move { triggers.tick(chrono::Utc::now()).await }
        }
    });
    let state = actix_web::web::Data::new(State { pipelines, runs });
    context.serve(
        api::openapi(),
        move |cfg| {
            cfg.app_data(state.clone());
            api::configure(cfg);
        },
        consumers,
    )
}

/// An event id that is the same for the same key: publishing the same thing twice (after a
/// restart) is then a duplicate JetStream drops.
pub(crate) fn derived_id(key: &str) -> EventId {
    EventId::from(uuid::Uuid::from_u128(twox_hash::XxHash3_128::oneshot(key.as_bytes())))
}
