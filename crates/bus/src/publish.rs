use std::collections::VecDeque;

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::publish::PublishAck;
use bytes::Bytes;
use cairn_domain::EventId;
use cairn_events::{Event, headers};

use crate::headers::envelope;
use crate::{Bus, BusError};

/// Publish acknowledgements awaited at once by `publish_many`.
const IN_FLIGHT: usize = 256;

/// Where JetStream stored an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub event_id: EventId,
    pub stream: String,
    pub sequence: u64,
    /// The event id was already stored within the duplicate window; nothing new was written.
    pub duplicate: bool,
}

/// An already-encoded event, as kept in a service's outbox.
#[derive(Debug, Clone)]
pub struct RawEvent {
    pub id: EventId,
    pub event_type: String,
    pub subject: String,
    pub payload: Bytes,
    /// The trace context of the operation that produced the event.
    pub traceparent: Option<String>,
}

impl RawEvent {
    pub fn new<E: Event>(event: &E) -> Self {
        let traceparent = cairn_telemetry::propagation::current_headers()
            .into_iter()
            .find_map(|(key, value)| (key == "traceparent").then_some(value));
        Self {
            id: EventId::new(),
            event_type: E::TYPE.to_owned(),
            subject: E::SUBJECT.to_owned(),
            payload: Bytes::from(event.encode_to_vec()),
            traceparent,
        }
    }
}

impl Bus {
    /// Publishes `event` under a new event id and returns once JetStream has stored it.
    pub async fn publish<E: Event>(&self, event: &E) -> Result<Published, BusError> {
        self.publish_raw(&RawEvent::new(event)).await
    }

    /// Publishes `event` under `id`; publishing the same id again within the stream's duplicate
    /// window stores nothing and reports `duplicate`.
    pub async fn publish_with_id<E: Event>(&self, id: EventId, event: &E) -> Result<Published, BusError> {
        self.publish_raw(&RawEvent { id, ..RawEvent::new(event) }).await
    }

    #[tracing::instrument(name = "bus.publish", skip_all, fields(subject = %event.subject, event_id = %event.id))]
    pub async fn publish_raw(&self, event: &RawEvent) -> Result<Published, BusError> {
        let mut published = self.publish_many(std::slice::from_ref(event)).await?;
        published
            .pop()
            .ok_or_else(|| BusError::Publish { subject: event.subject.clone(), reason: "no ack".into() })
    }

    /// Publishes `events` in order with up to 256 acknowledgements outstanding, and returns once
    /// JetStream has stored every one — far faster than one round trip per event. On an error,
    /// the events before it may be stored; re-publishing them is safe (same ids).
    #[tracing::instrument(name = "bus.publish_many", skip_all, fields(events = events.len()))]
    pub async fn publish_many(&self, events: &[RawEvent]) -> Result<Vec<Published>, BusError> {
        let messages = events.iter().map(|event| {
            let headers = envelope(event.id, &event.event_type, self.source, event.traceparent.as_deref());
            (event.subject.as_str(), headers, event.payload.clone())
        });
        let acks = self.pipeline(messages).await?;
        Ok(events
            .iter()
            .zip(acks)
            .map(|(event, ack)| {
                let duplicate = if ack.duplicate { "true" } else { "false" };
                self.metrics
                    .events_published
                    .with_label_values(&[event.event_type.as_str(), duplicate])
                    .inc();
                Published {
                    event_id: event.id,
                    stream: ack.stream,
                    sequence: ack.sequence,
                    duplicate: ack.duplicate,
                }
            })
            .collect())
    }

    /// Publishes messages of records (any bytes, of `content_type`) on `subject`, each with its
    /// idempotency key as `Nats-Msg-Id`, pipelined like `publish_many`; returns once JetStream
    /// stored all, whether each was a duplicate of a message already stored.
    pub async fn publish_records(
        &self,
        subject: &str,
        content_type: &str,
        messages: Vec<(String, Bytes)>,
    ) -> Result<Vec<bool>, BusError> {
        let messages = messages.into_iter().map(|(key, payload)| {
            let mut headers = HeaderMap::new();
            headers.insert(headers::EVENT_ID, key.as_str());
            headers.insert(headers::CONTENT_TYPE, content_type);
            (subject, headers, payload)
        });
        Ok(self.pipeline(messages).await?.iter().map(|ack| ack.duplicate).collect())
    }

    /// Sends messages in order with up to `IN_FLIGHT` acknowledgements outstanding; returns the
    /// acknowledgements in order, once JetStream stored every message.
    async fn pipeline<'a>(
        &self,
        messages: impl Iterator<Item = (&'a str, HeaderMap, Bytes)>,
    ) -> Result<Vec<PublishAck>, BusError> {
        let mut acks = Vec::new();
        let mut in_flight: VecDeque<(&str, PublishAckFuture)> = VecDeque::with_capacity(IN_FLIGHT);
        let error = |subject: &str, reason: String| BusError::Publish { subject: subject.to_owned(), reason };
        for (subject, headers, payload) in messages {
            if in_flight.len() == IN_FLIGHT
                && let Some((subject, ack)) = in_flight.pop_front()
            {
                acks.push(ack.await.map_err(|e| error(subject, e.to_string()))?);
            }
            if cairn_events::topology::stream_for_subject(subject).is_none() {
                return Err(BusError::NoStream(subject.to_owned()));
            }
            let ack = self
                .jetstream
                .publish_with_headers(subject.to_owned(), headers, payload)
                .await
                .map_err(|e| error(subject, e.to_string()))?;
            in_flight.push_back((subject, ack));
        }
        for (subject, ack) in in_flight {
            acks.push(ack.await.map_err(|e| error(subject, e.to_string()))?);
        }
        Ok(acks)
    }
}
