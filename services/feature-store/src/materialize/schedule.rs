//! Materialization on a schedule: every online view version from its watermark.

use std::sync::Arc;
use std::time::Duration;

use cairn_api::MaterializeRequest;
use cairn_db::DbError;
use tokio_util::sync::CancellationToken;

use crate::features::{Features, online_versions};
use crate::lock;

/// Materializes every online view version, each from its watermark, every `interval`. A round
/// that cannot list the online versions is logged and the next one tries again.
pub(crate) fn schedule(features: Arc<Features>, interval: Duration, shutdown: CancellationToken) {
    cairn_service::every("materialization schedule", interval, shutdown, move || {
        let features = features.clone();
        async move { start_due(&features).await }
    });
}

/// Starts a run for each version reads resolve to that has none running.
async fn start_due(features: &Arc<Features>) -> Result<(), DbError> {
    let online = online_versions(&features.db, false).await?;
    let catalog = features.online.catalog();
    for (name, version) in online {
        // Only the versions reads resolve to: the latest live one of each view.
        if catalog.view(&name, None).is_none_or(|view| view.version != version) {
            continue;
        }
        let busy = lock(&features.running)
            .values()
            .any(|run| run.feature_view.as_str() == name && run.version == version);
        if busy {
            continue;
        }
        let request = MaterializeRequest { version: Some(version), ..MaterializeRequest::default() };
        if let Err(error) = features.start(&name, request).await {
            tracing::warn!(feature_view = name, version, %error, "scheduled materialization did not start");
        }
    }
    Ok(())
}
