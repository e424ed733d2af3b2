#![doc = include_str!("../README.md")]

mod api;
mod batch;

use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use cairn_service::{RunningService, StartError};

/// What the handlers share.
pub(crate) struct State {
    pub(crate) batch: batch::BatchDrift,
}

/// Starts the monitor service; the returned handle knows its bound address.
pub async fn run(config: CairnConfig) -> Result<RunningService, StartError> {
    let ingestion = Client::new(config.services.ingestion.base_url());
    let context = cairn_service::start(ServiceKind::Monitor, config, &[]).await?;
    let store = cairn_storage::OfflineStore::from_config(&context.config)
        .map_err(|error| StartError::Other(format!("the offline store: {error}")))?;
    let state = actix_web::web::Data::new(State { batch: batch::BatchDrift::new(ingestion, store) });
    context.serve(
        api::openapi(),
        move |cfg| {
            cfg.app_data(state.clone());
            api::configure(cfg);
        },
        Vec::new(),
    )
}
