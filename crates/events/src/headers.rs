//! Names of the NATS headers that carry the event envelope (see `envelope.proto`).

/// JetStream's de-duplication header; carries the event id.
pub const EVENT_ID: &str = "Nats-Msg-Id";
pub const EVENT_TYPE: &str = "Cairn-Event-Type";
pub const SOURCE: &str = "Cairn-Source";
pub const TIME: &str = "Cairn-Time";
/// W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";
pub const CONTENT_TYPE: &str = "Content-Type";
pub const PROTOBUF: &str = "application/protobuf";
