use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{AckKind, Message};
use cairn_domain::{EventId, Timestamp};
use cairn_events::topology::ConsumerSpec;
use cairn_events::{Event, headers as names};
use futures::StreamExt as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::headers::get;
use crate::{Bus, BusError};

/// One event handed to a consumer's handler.
#[derive(Debug, Clone)]
pub struct Delivery<E> {
    pub event: E,
    pub event_id: EventId,
    pub source: Option<String>,
    pub time: Option<Timestamp>,
    /// 1 on first delivery; more after naks, ack timeouts or a restart.
    pub delivered: i64,
    pub stream_sequence: u64,
    /// The trace the event belongs to (the publisher's), as 32 hex digits.
    pub trace_id: Option<String>,
}

/// How a handler failed, which decides what happens to the message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A transient failure (a database away, a dependency timing out): redeliver after `after`.
    #[error("retry in {after:?}: {reason}")]
    Retry { reason: String, after: Duration },
    /// The event can never be handled (invalid content): stop redelivering it.
    #[error("rejected: {0}")]
    Reject(String),
}

/// How long a transient failure waits before its event comes again.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

impl HandlerError {
    /// A transient failure: the event comes again after [`RETRY_AFTER`].
    pub fn retry(reason: impl std::fmt::Display) -> Self {
        HandlerError::Retry { reason: reason.to_string(), after: RETRY_AFTER }
    }

    /// A failure no redelivery can mend: the event is terminated.
    pub fn reject(reason: impl std::fmt::Display) -> Self {
        HandlerError::Reject(reason.to_string())
    }
}

/// Whether an error is worth handling the event again: each crate's error type says it once,
/// with an exhaustive match, and `?` in a handler turns it into the right acknowledgement
/// (transient → nak with delay, otherwise → term).
pub trait Disposition: std::fmt::Display {
    fn is_transient(&self) -> bool;
}

impl<E: Disposition> From<E> for HandlerError {
    fn from(error: E) -> Self {
        if error.is_transient() { HandlerError::retry(error) } else { HandlerError::reject(error) }
    }
}

/// Every database failure may pass: the database comes back, a lock is released. Corrupt stored
/// data too is retried (and logged each time) rather than dropping an acknowledged event.
impl Disposition for cairn_db::DbError {
    fn is_transient(&self) -> bool {
        true
    }
}

/// A running consumer loop; `stop` lets the in-flight event finish.
pub struct ConsumerHandle {
    task: JoinHandle<()>,
    cancel: CancellationToken,
}

impl ConsumerHandle {
    pub(crate) fn new(task: JoinHandle<()>, cancel: CancellationToken) -> Self {
        Self { task, cancel }
    }

    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

const BATCH: usize = 16;

impl Bus {
    /// Runs `handler` for every event on the durable consumer `spec` until `stop` (or `shutdown`).
    ///
    /// `Ok` acks (and waits for the server to confirm the ack), `Retry` naks with the given
    /// delay, `Reject` and undecodable messages are terminated. Messages fetched but not yet
    /// handled at shutdown are not acked, so JetStream redelivers them to the next instance.
    /// Handlers must be idempotent: after a crash between effect and ack an event comes again.
    pub async fn consume<E, H, Fut>(
        &self,
        spec: &'static ConsumerSpec,
        shutdown: CancellationToken,
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
        let task = tokio::spawn(async move {
            let mut consumer = consumer;
            while !token.is_cancelled() {
                let messages = consumer.stream().max_messages_per_batch(BATCH).messages().await;
                let mut messages = match messages {
                    Ok(messages) => messages,
                    Err(error) => {
                        tracing::warn!(consumer = spec.durable, %error, "cannot pull; retrying");
                        pause(&token, Duration::from_secs(1)).await;
                        if let Ok(again) = bus.ensure_consumer(spec).await {
                            consumer = again;
                        }
                        continue;
                    }
                };
                loop {
                    let next = tokio::select! {
                        () = token.cancelled() => return,
                        next = messages.next() => next,
                    };
                    match next {
                        Some(Ok(message)) => bus.handle(spec, message, &handler, None).await,
                        Some(Err(error)) => {
                            tracing::warn!(consumer = spec.durable, %error, "pull interrupted");
                            break;
                        }
                        None => break,
                    }
                }
                pause(&token, Duration::from_secs(1)).await;
            }
        });
        Ok(ConsumerHandle { task, cancel })
    }

    /// Hands `message` to `handler` and acknowledges it by the outcome; with `heartbeat`, tells
    /// the server every so often that the handler is still at it, so that a long piece of work
    /// is not redelivered while it runs.
    pub(crate) async fn handle<E, H, Fut>(
        &self,
        spec: &ConsumerSpec,
        message: Message,
        handler: &H,
        heartbeat: Option<Duration>,
    ) where
        E: Event,
        H: Fn(Delivery<E>) -> Fut,
        Fut: Future<Output = Result<(), HandlerError>>,
    {
        let headers = message.headers.as_ref();
        let span = tracing::info_span!(
            "bus.consume",
            consumer = spec.durable,
            subject = %message.subject,
            event_id = tracing::field::Empty,
        );
        cairn_telemetry::propagation::set_parent_from(&span, |key| get(headers, key));
        let trace_id = cairn_telemetry::propagation::trace_id(&span);
        let outcome = async {
            let (delivered, stream_sequence) =
                message.info().map(|info| (info.delivered, info.stream_sequence)).unwrap_or((1, 0));
            let event_id = get(headers, names::EVENT_ID).and_then(|id| id.parse::<EventId>().ok());
            let Some(event_id) = event_id else {
                return Err(HandlerError::Reject("missing or malformed Nats-Msg-Id".into()));
            };
            tracing::Span::current().record("event_id", tracing::field::display(event_id));
            let event = E::decode(message.payload.clone())
                .map_err(|error| HandlerError::Reject(format!("cannot decode {}: {error}", E::TYPE)))?;
            let delivery = Delivery {
                event,
                event_id,
                source: get(headers, names::SOURCE),
                time: get(headers, names::TIME).and_then(|t| Timestamp::parse_rfc3339(&t).ok()),
                delivered,
                stream_sequence,
                trace_id,
            };
            let last_try = delivered >= spec.max_deliver;
            let work = handler(delivery);
            let outcome = match heartbeat {
                None => work.await,
                Some(every) => {
                    tokio::pin!(work);
                    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                    loop {
                        tokio::select! {
                            outcome = &mut work => break outcome,
                            _ = ticks.tick() => {
                                if let Err(error) = message.ack_with(AckKind::Progress).await {
                                    tracing::warn!(%error, "cannot report progress");
                                }
                            }
                        }
                    }
                }
            };
            outcome.inspect_err(|error| {
                if last_try {
                    tracing::error!(%error, "giving up on event after {delivered} deliveries");
                }
            })
        }
        .instrument(span.clone())
        .await;

        let (ack, label) = match &outcome {
            Ok(()) => (message.double_ack().await, "ok"),
            Err(HandlerError::Retry { after, .. }) => {
                let delivered = message.info().map_or(1, |info| info.delivered);
                (message.ack_with(AckKind::Nak(Some(backoff(*after, delivered)))).await, "retry")
            }
            Err(HandlerError::Reject(_)) => (message.ack_with(AckKind::Term).await, "rejected"),
        };
        if let Err(error) = &outcome {
            span.in_scope(|| tracing::warn!(%error, "event not handled"));
        }
        if let Err(error) = ack {
            // Redelivery follows; the handler's idempotency keeps it harmless.
            span.in_scope(|| tracing::warn!(%error, "acknowledgement not confirmed"));
        }
        self.metrics.events_consumed.with_label_values(&[spec.durable, label]).inc();
    }
}

/// The longest wait between two deliveries of an event that keeps failing transiently.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A transient failure's wait doubles with each delivery, from the handler's own delay up to
/// [`MAX_BACKOFF`]: a consumer's `max_deliver` (20) then spans about a quarter of an hour of a
/// database outage before the event is given up, where a fixed 2 s spanned forty seconds.
fn backoff(after: Duration, delivered: i64) -> Duration {
    let doublings = u32::try_from(delivered.saturating_sub(1).max(0)).unwrap_or(u32::MAX).min(16);
    after.saturating_mul(1 << doublings).min(MAX_BACKOFF).max(after)
}

/// Sleeps for `duration` or until cancelled.
pub(crate) async fn pause(token: &CancellationToken, duration: Duration) {
    tokio::select! {
        () = token.cancelled() => {}
        () = tokio::time::sleep(duration) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_event_waits_twice_as_long_each_time_up_to_a_minute() {
        let waits: Vec<u64> = (1..=8).map(|delivered| backoff(RETRY_AFTER, delivered).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
        let total: Duration = (1..20).map(|delivered| backoff(RETRY_AFTER, delivered)).sum();
        assert!(total >= Duration::from_secs(14 * 60), "19 waits span {total:?}");
        assert_eq!(backoff(Duration::from_secs(90), 3), Duration::from_secs(90), "a longer delay is kept");
        assert_eq!(
            backoff(Duration::from_millis(300), 1),
            Duration::from_millis(300),
            "the first wait is the handler's"
        );
        assert_eq!(backoff(RETRY_AFTER, i64::MAX), MAX_BACKOFF);
    }
}
