use async_nats::HeaderMap;
use cairn_domain::{EventId, ServiceKind, Timestamp};
use cairn_events::headers;

/// Builds the header envelope of one event, including the current trace context.
pub(crate) fn envelope(
    id: EventId,
    event_type: &str,
    source: ServiceKind,
    traceparent: Option<&str>,
) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert(headers::EVENT_ID, id.to_string().as_str());
    map.insert(headers::EVENT_TYPE, event_type);
    map.insert(headers::SOURCE, source.as_str());
    map.insert(headers::TIME, Timestamp::now().to_string().as_str());
    map.insert(headers::CONTENT_TYPE, headers::PROTOBUF);
    match traceparent {
        Some(traceparent) => map.insert(headers::TRACEPARENT, traceparent),
        None => {
            for (key, value) in cairn_telemetry::propagation::current_headers() {
                map.insert(key.as_str(), value.as_str());
            }
        }
    }
    map
}

pub(crate) fn get(map: Option<&HeaderMap>, key: &str) -> Option<String> {
    map?.get(key).map(|value| value.as_str().to_owned())
}
