use bytes::Bytes;
use cairn_domain::EventId;
use cairn_events::Event;

use crate::headers::envelope;
use crate::{Bus, BusError};

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
        let error = |reason: String| BusError::Publish { subject: event.subject.clone(), reason };
        if cairn_events::topology::stream_for_subject(&event.subject).is_none() {
            return Err(BusError::NoStream(event.subject.clone()));
        }
        let headers = envelope(event.id, &event.event_type, self.source, event.traceparent.as_deref());
        let ack = self
            .jetstream
            .publish_with_headers(event.subject.clone(), headers, event.payload.clone())
            .await
            .map_err(|e| error(e.to_string()))?
            .await
            .map_err(|e| error(e.to_string()))?;
        self.metrics
            .events_published
            .with_label_values(&[event.event_type.as_str(), if ack.duplicate { "true" } else { "false" }])
            .inc();
        Ok(Published {
            event_id: event.id,
            stream: ack.stream,
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }
}
