#![doc = include_str!("../README.md")]

use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use cairn_service::{RunningService, StartError};

/// Starts the registry service; the returned handle knows its bound address.
pub async fn run(config: CairnConfig) -> Result<RunningService, StartError> {
    let context = cairn_service::start(ServiceKind::Registry, config, &[]).await?;
    let openapi = utoipa::openapi::OpenApiBuilder::new().build();
    context.serve(openapi, |_| {}, Vec::new())
}
