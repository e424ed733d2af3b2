//! Work queues: a durable consumer that several workers share, each taking one message at a
//! time. A worker asks for a message only when it is free, so nothing waits (with its
//! acknowledgement timer running) behind a long piece of work, and it reports progress while it
//! works, so that only a worker that died gives its message back.

use std::future::Future;
use std::time::Duration;

use cairn_events::Event;
use cairn_events::topology::ConsumerSpec;
use futures::StreamExt as _;

use crate::consume::pause;
use crate::{Bus, BusError, ConsumerHandle, Delivery, HandlerError};

/// How long one request for work waits for a message before asking again.
const WAIT: Duration = Duration::from_secs(5);

impl Bus {
    /// Runs `handler` for the messages of the shared durable consumer `spec`, one at a time,
    /// until `shutdown`. Acknowledgement follows the handler's outcome as in [`Bus::consume`];
    /// while it runs, progress is reported every third of the consumer's `ack_wait`.
    pub async fn work<E, H, Fut>(
        &self,
        spec: &'static ConsumerSpec,
        shutdown: tokio_util::sync::CancellationToken,
        handler: H,
    ) -> Result<ConsumerHandle, BusError>
    where
        E: Event,
        H: Fn(Delivery<E>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send,
    {
        let consumer = self.ensure_consumer(spec).await?;
        let cancel = shutdown.child_token();
        let token = cancel.clone();
        let bus = self.clone();
        let heartbeat = spec.ack_wait / 3;
        let task = tokio::spawn(async move {
            let mut consumer = consumer;
            while !token.is_cancelled() {
                let request = consumer.batch().max_messages(1).expires(WAIT).messages();
                let next = tokio::select! {
                    () = token.cancelled() => return,
                    messages = request => match messages {
                        Ok(mut messages) => tokio::select! {
                            () = token.cancelled() => return,
                            next = messages.next() => next.map(|item| item.map_err(|error| error.to_string())),
                        },
                        Err(error) => Some(Err(error.to_string())),
                    },
                };
                match next {
                    Some(Ok(message)) => bus.handle(spec, message, &handler, Some(heartbeat)).await,
                    None => {}
                    Some(Err(error)) => {
                        tracing::warn!(consumer = spec.durable, %error, "cannot take work; retrying");
                        pause(&token, Duration::from_secs(1)).await;
                        if let Ok(again) = bus.ensure_consumer(spec).await {
                            consumer = again;
                        }
                    }
                }
            }
        });
        Ok(ConsumerHandle::new(task, cancel))
    }
}
