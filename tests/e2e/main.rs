//! End-to-end tests: the services together, over real HTTP and a real nats-server.

#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

mod batches;
mod contract;
mod datasets;
mod drift;
mod errors;
mod exactly_once;
mod features;
mod imports;
mod migrations;
mod monitor;
mod online;
mod readiness;
mod serving;
mod streams;
mod training;
mod transforms;

pub use cairn_e2e::{Platform, Store, eventually};

/// The last `E` on the bus, once there is one that `wanted` accepts.
pub(crate) async fn last_event<E: cairn_events::Event>(
    platform: &Platform,
    wanted: impl Fn(&E) -> bool,
) -> E {
    let bus = cairn_bus::Bus::connect(
        &platform.config.nats,
        cairn_domain::ServiceKind::Monitor,
        cairn_telemetry::Metrics::new("t"),
    )
    .await
    .unwrap();
    let stream = cairn_events::topology::stream_for_subject(E::SUBJECT).unwrap();
    let stream = bus.jetstream().get_stream(stream.name).await.unwrap();
    eventually(E::SUBJECT, || async {
        let message = stream.get_last_raw_message_by_subject(E::SUBJECT).await.ok()?;
        let event: E = prost::Message::decode(message.payload).ok()?;
        wanted(&event).then_some(event)
    })
    .await
}
