//! W3C trace context in and out of message and request headers.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

struct Map(HashMap<String, String>);

impl Injector for Map {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

impl Extractor for Map {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The trace headers (`traceparent`, `tracestate`) of the current span, to send along.
pub fn current_headers() -> Vec<(String, String)> {
    let context = tracing::Span::current().context();
    let mut map = Map(HashMap::new());
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, &mut map));
    map.0.into_iter().collect()
}

/// Makes `span` a child of the trace context found through `get` (if any).
pub fn set_parent_from(span: &tracing::Span, get: impl Fn(&str) -> Option<String>) {
    let map = Map(["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|key| get(key).map(|value| (key.to_owned(), value)))
        .collect());
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&map));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The trace id of `span` as 32 lowercase hex digits, if it is traced.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}
