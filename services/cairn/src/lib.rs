//! The composition root: starts any of the six services by kind, for `cairn up` and the
//! end-to-end tests.

use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use cairn_service::{RunningService, StartError};

/// Starts the service `kind` on `config`.
pub async fn start_service(kind: ServiceKind, config: CairnConfig) -> Result<RunningService, StartError> {
    match kind {
        ServiceKind::Ingestion => cairn_ingestion::run(config).await,
        ServiceKind::FeatureStore => cairn_feature_store::run(config).await,
        ServiceKind::Training => cairn_training::run(config).await,
        ServiceKind::Registry => cairn_registry::run(config).await,
        ServiceKind::Serving => cairn_serving::run(config).await,
        ServiceKind::Monitor => cairn_monitor::run(config).await,
    }
}
