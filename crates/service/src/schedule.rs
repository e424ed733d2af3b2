//! The shapes every service's background work takes: following a durable consumer, a job
//! repeated on a period, and the share of the machine a service's own parallel work may use.

use std::fmt::Display;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use cairn_bus::{ConsumerHandle, Delivery, HandlerError};
use cairn_events::Event;
use cairn_events::topology::ConsumerSpec;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{ServiceContext, StartError};

impl ServiceContext {
    /// Runs `handler` with a clone of `state` for every event on the durable consumer `spec`,
    /// until the service stops.
    pub async fn follow<S, E, H, Fut>(
        &self,
        spec: &'static ConsumerSpec,
        state: S,
        handler: H,
    ) -> Result<ConsumerHandle, StartError>
    where
        S: Clone + Send + Sync + 'static,
        E: Event,
        H: Fn(S, Delivery<E>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send,
    {
        let handle = self
            .bus
            .consume(spec, self.shutdown.clone(), move |delivery| handler(state.clone(), delivery))
            .await?;
        Ok(handle)
    }
}

/// Runs `job` every `period` (the first time one period after the start) until `shutdown`. A
/// failed round is logged under `name` and the next round comes as usual.
pub fn every<F, Fut, E>(
    name: &'static str,
    period: Duration,
    shutdown: CancellationToken,
    mut job: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Display,
{
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(period) => {}
            }
            if let Err(error) = job().await {
                tracing::warn!(job = name, %error, "scheduled round failed; trying again next period");
            }
        }
    })
}

/// Threads a service's own parallel work (decoding, reading, joining) may use: the machine's
/// cores, at most four, so one request cannot take a large machine from the others.
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(4))
}
