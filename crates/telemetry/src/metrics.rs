use std::collections::HashMap;

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// The Prometheus metrics of one service, served at `GET /metrics`.
///
/// Each service has its own registry (several can run in one process, as in the end-to-end tests), labelled
/// with `service`. HTTP metrics are keyed by route template, never by raw path.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub events_published: IntCounterVec,
    pub events_consumed: IntCounterVec,
}

impl Metrics {
    pub fn new(service: &str) -> Self {
        let labels = HashMap::from([("service".to_owned(), service.to_owned())]);
        let registry =
            Registry::new_custom(Some("cairn".into()), Some(labels)).unwrap_or_else(|_| Registry::new());
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route template and status"),
            &["method", "route", "status"],
        );
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["method", "route"],
        );
        let events_published = IntCounterVec::new(
            Opts::new("events_published_total", "Events stored by JetStream, by type"),
            &["event_type", "duplicate"],
        );
        let events_consumed = IntCounterVec::new(
            Opts::new("events_consumed_total", "Events handled by durable consumers, by outcome"),
            &["consumer", "outcome"],
        );
        // The names and label sets are fixed above, so construction cannot fail.
        let (http_requests, http_duration, events_published, events_consumed) = (
            http_requests.unwrap_or_else(|e| unreachable!("{e}")),
            http_duration.unwrap_or_else(|e| unreachable!("{e}")),
            events_published.unwrap_or_else(|e| unreachable!("{e}")),
            events_consumed.unwrap_or_else(|e| unreachable!("{e}")),
        );
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(events_published.clone()),
            Box::new(events_consumed.clone()),
        ] {
            let _ = registry.register(collector);
        }
        Self { registry, http_requests, http_duration, events_published, events_consumed }
    }

    /// The registry, for metrics a service adds of its own.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Everything in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}
