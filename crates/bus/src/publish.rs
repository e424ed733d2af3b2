use std::collections::VecDeque;

use async_nats::jetstream::context::PublishAckFuture;
use bytes::Bytes;
use cairn_domain::EventId;
use cairn_events::Event;

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
        let ack = self.send(event).await?;
        self.confirm(event, ack).await
    }

    /// Publishes `events` in order with up to 256 acknowledgements outstanding, and returns once
    /// JetStream has stored every one — far faster than one round trip per event. On an error,
    /// the events before it may be stored; re-publishing them is safe (same ids).
    #[tracing::instrument(name = "bus.publish_many", skip_all, fields(events = events.len()))]
    pub async fn publish_many(&self, events: &[RawEvent]) -> Result<Vec<Published>, BusError> {
        let mut published = Vec::with_capacity(events.len());
        let mut in_flight = VecDeque::with_capacity(IN_FLIGHT);
        for event in events {
            if in_flight.len() == IN_FLIGHT
                && let Some((event, ack)) = in_flight.pop_front()
            {
                published.push(self.confirm(event, ack).await?);
            }
            in_flight.push_back((event, self.send(event).await?));
        }
        for (event, ack) in in_flight {
            published.push(self.confirm(event, ack).await?);
        }
        Ok(published)
    }

    async fn send(&self, event: &RawEvent) -> Result<PublishAckFuture, BusError> {
        if cairn_events::topology::stream_for_subject(&event.subject).is_none() {
            return Err(BusError::NoStream(event.subject.clone()));
        }
        let headers = envelope(event.id, &event.event_type, self.source, event.traceparent.as_deref());
        self.jetstream
            .publish_with_headers(event.subject.clone(), headers, event.payload.clone())
            .await
            .map_err(|e| BusError::Publish { subject: event.subject.clone(), reason: e.to_string() })
    }

    async fn confirm(&self, event: &RawEvent, ack: PublishAckFuture) -> Result<Published, BusError> {
        let ack = ack
            .await
            .map_err(|e| BusError::Publish { subject: event.subject.clone(), reason: e.to_string() })?;
        let duplicate = if ack.duplicate { "true" } else { "false" };
        self.metrics.events_published.with_label_values(&[event.event_type.as_str(), duplicate]).inc();
        Ok(Published {
            event_id: event.id,
            stream: ack.stream,
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }
}
