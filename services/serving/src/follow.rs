//! How a replica keeps up: it listens (plain NATS subscriptions, so every replica hears every
//! message) to the registry's alias moves and to endpoint changes, reconciling what they name at
//! once, and reconciles everything on a period, which also covers what it missed while NATS was
//! away. Nothing here needs to be durable: the database and the registry are the truth.

use std::sync::Arc;
use std::time::Duration;

use cairn_bus::Bus;
use cairn_events::{Event as _, v1};
use futures::StreamExt as _;
use prost::Message as _;
use tokio_util::sync::CancellationToken;

use crate::endpoints::Endpoints;

/// Every endpoint is reconciled this often even without events.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(10);

/// Subscribes to the events a replica follows; the tasks end with `shutdown`.
pub async fn start(bus: &Bus, endpoints: Arc<Endpoints>, shutdown: CancellationToken) -> Result<(), String> {
    let client = bus.client();
    let mut aliases = client
        .subscribe(v1::ModelAliasChanged::SUBJECT)
        .await
        .map_err(|error| format!("subscribe to alias moves: {error}"))?;
    let mut changes = client
        .subscribe(v1::DeploymentChanged::SUBJECT)
        .await
        .map_err(|error| format!("subscribe to endpoint changes: {error}"))?;
    let following = Arc::clone(&endpoints);
    let stop = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                Some(message) = aliases.next() => {
                    let Ok(moved) = v1::ModelAliasChanged::decode(message.payload) else { continue };
                    if let Err(error) = following.alias_moved(&moved.model, &moved.alias).await {
                        tracing::warn!(%error, "following an alias move; the next round retries");
                    }
                }
                Some(message) = changes.next() => {
                    let Ok(changed) = v1::DeploymentChanged::decode(message.payload) else { continue };
                    if let Err(error) = following.changed(&changed.deployment).await {
                        tracing::warn!(%error, "following an endpoint change; the next round retries");
                    }
                }
                else => break,
            }
        }
    });
    cairn_service::every("reconcile endpoints", RECONCILE_EVERY, shutdown, move || {
        let endpoints = Arc::clone(&endpoints);
        async move { endpoints.reconcile_all().await }
    });
    Ok(())
}
