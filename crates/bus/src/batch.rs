//! Reading a stream in ordered batches from a position the reader keeps itself, for streams of
//! many small messages (streamed ingestion) where one acknowledgement per message would be the
//! bottleneck.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{Message, consumer};
use bytes::Bytes;
use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;

use crate::consume::pause;
use crate::{Bus, BusError, ConsumerHandle, HandlerError};

fn delivery(message: &Message) -> RawDelivery {
    RawDelivery {
        subject: message.subject.to_string(),
        content_type: message
            .headers
            .as_ref()
            .and_then(|headers| headers.get(cairn_events::headers::CONTENT_TYPE))
            .map(|value| value.as_str().to_owned()),
        payload: message.payload.clone(),
        stream_sequence: message.info().map(|info| info.stream_sequence).unwrap_or_default(),
    }
}

/// One message of a batch: its subject, content type, payload and stream position.
#[derive(Debug, Clone)]
pub struct RawDelivery {
    pub subject: String,
    pub content_type: Option<String>,
    pub payload: Bytes,
    pub stream_sequence: u64,
}

/// How a reader batches: up to `max_weight` (messages, or what `weight` counts in each), waiting
/// at most `max_wait` after the first.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_weight: usize,
    pub max_wait: Duration,
    /// What one message counts towards `max_weight`; `None`: 1 each.
    pub weight: Option<fn(&RawDelivery) -> usize>,
}

impl Bus {
    /// Reads `stream` (messages on `filter`) in order from `start_sequence`, handing `handler`
    /// batches of up to `limits.max_weight` (or what arrived within `limits.max_wait`).
    ///
    /// The reader keeps no state in NATS: the handler stores its position with its effects
    /// (in its database, one transaction), and the reader is started from that position. `Ok`
    /// moves on past the batch; `Retry` reads the batch again after the delay. Behind it is an
    /// ordered consumer, recreated from the last handled position whenever the connection or
    /// the server is lost, so every message reaches the handler, in order, at least once.
    pub fn read_from<H, Fut>(
        &self,
        stream: &'static str,
        filter: String,
        start_sequence: u64,
        limits: BatchLimits,
        shutdown: CancellationToken,
        handler: H,
    ) -> ConsumerHandle
    where
        H: Fn(Vec<RawDelivery>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send,
    {
        let cancel = shutdown.child_token();
        let token = cancel.clone();
        let bus = self.clone();
        let task = tokio::spawn(async move {
            let mut next = start_sequence.max(1);
            while !token.is_cancelled() {
                match bus.read_some(stream, &filter, next, limits, &token, &handler).await {
                    Ok(Some(after)) => next = after,
                    Ok(None) => return,
                    Err(wait) => pause(&token, wait).await,
                }
            }
        });
        ConsumerHandle::new(task, cancel)
    }

    /// Reads batches from `next` until something goes wrong (returns how long to pause before
    /// starting over from the last handled position) or shutdown (`Ok(None)`).
    async fn read_some<H, Fut>(
        &self,
        stream: &str,
        filter: &str,
        mut next: u64,
        limits: BatchLimits,
        token: &CancellationToken,
        handler: &H,
    ) -> Result<Option<u64>, Duration>
    where
        H: Fn(Vec<RawDelivery>) -> Fut,
        Fut: Future<Output = Result<(), HandlerError>>,
    {
        let retry = Duration::from_millis(500);
        let consumer = async {
            let stream = self.jetstream.get_stream(stream).await.map_err(|e| e.to_string())?;
            let config = consumer::pull::OrderedConfig {
                filter_subject: filter.to_owned(),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: next },
                ..Default::default()
            };
            stream.create_consumer(config).await.map_err(|e| e.to_string())
        };
        let mut messages = match consumer.await {
            Ok(consumer) => consumer.messages().await.map_err(|error| {
                tracing::warn!(stream, %error, "cannot read; retrying");
                retry
            })?,
            Err(error) => {
                tracing::warn!(stream, %error, "cannot read; retrying");
                return Err(retry);
            }
        };
        loop {
            let mut batch = Vec::new();
            let (mut weight, mut deadline) = (0, None);
            while weight < limits.max_weight {
                let wait = async {
                    match deadline {
                        Some(deadline) => tokio::time::sleep_until(deadline).await,
                        None => std::future::pending().await,
                    }
                };
                let item = tokio::select! {
                    () = token.cancelled() => return Ok(None),
                    () = wait => break,
                    item = messages.next() => item,
                };
                match item {
                    Some(Ok(message)) => {
                        let delivery = delivery(&message);
                        // An ordered consumer that resets itself after a server restart may start
                        // over from an earlier message: what was handled is never handed again.
                        if delivery.stream_sequence < next {
                            continue;
                        }
                        deadline.get_or_insert_with(|| tokio::time::Instant::now() + limits.max_wait);
                        weight += limits.weight.map_or(1, |weigh| weigh(&delivery));
                        batch.push(delivery);
                    }
                    Some(Err(error)) => {
                        tracing::warn!(stream, %error, "reading interrupted; resuming from the last handled record");
                        return Err(retry);
                    }
                    None => return Err(retry),
                }
            }
            let last = batch.iter().map(|d| d.stream_sequence).max().unwrap_or(next.saturating_sub(1));
            let count = batch.len() as u64;
            match handler(batch).await {
                Ok(()) => {
                    next = last + 1;
                    self.metrics.events_consumed.with_label_values(&[stream, "ok"]).inc_by(count);
                }
                Err(HandlerError::Retry { reason, after }) => {
                    tracing::warn!(stream, %reason, "batch will be read again");
                    self.metrics.events_consumed.with_label_values(&[stream, "retry"]).inc_by(count);
                    return Err(after);
                }
                Err(HandlerError::Reject(reason)) => {
                    // Nothing can be done with it but not lose the rest: skip it, loudly.
                    tracing::error!(stream, %reason, skipped = count, "batch rejected");
                    self.metrics.events_consumed.with_label_values(&[stream, "rejected"]).inc_by(count);
                    next = last + 1;
                }
            }
            if token.is_cancelled() {
                return Ok(None);
            }
        }
    }

    /// Removes every message of `stream` before `sequence` (what its reader has committed).
    pub async fn purge_before(&self, stream: &str, sequence: u64) -> Result<(), BusError> {
        let error = |reason: String| BusError::Stream { stream: stream.to_owned(), reason };
        let stream_handle = self.jetstream.get_stream(stream).await.map_err(|e| error(e.to_string()))?;
        stream_handle.purge().sequence(sequence).await.map_err(|e| error(e.to_string()))?;
        Ok(())
    }
}
