#![doc = include_str!("../README.md")]

#[cfg_attr(not(test), expect(unused, reason = "the OIP handlers, written next, call it"))]
mod oip;

use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use cairn_service::{RunningService, StartError};

/// Starts the serving service; the returned handle knows its bound address.
pub async fn run(config: CairnConfig) -> Result<RunningService, StartError> {
    let context = cairn_service::start(ServiceKind::Serving, config, &[]).await?;
    let openapi = utoipa::openapi::OpenApiBuilder::new().build();
    context.serve(openapi, |_| {}, Vec::new())
}
