//! What a Kubernetes HPA or KEDA scales on, per endpoint and version: requests by outcome,
//! latency, requests in flight.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct ServingMetrics {
    pub(crate) requests: IntCounterVec,
    latency: HistogramVec,
    in_flight: IntGaugeVec,
}

/// How a request ended, as a label.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Ok,
    /// 4xx: the request's mistake.
    Refused,
    /// 5xx: the server's.
    Failed,
}

impl Outcome {
    /// The outcome of a request that `error` ended.
    pub fn of(error: &crate::infer::InferError) -> Self {
        use crate::infer::InferError;
        match error {
            InferError::NoEndpoint(_)
            | InferError::NoVersion { .. }
            | InferError::TooManyRows { .. }
            | InferError::Input(_) => Outcome::Refused,
            InferError::NotReady { .. } | InferError::Features(_) | InferError::Failed(_) => Outcome::Failed,
        }
    }
}

impl ServingMetrics {
    pub fn register(registry: &Registry) -> Self {
        let requests = IntCounterVec::new(
            Opts::new(
                "predictions_total",
                "Inference requests by endpoint, version and outcome (ok, refused, failed)",
            ),
            &["endpoint", "version", "outcome"],
        );
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "prediction_duration_seconds",
                "Inference request latency, body read to response",
            )
            .buckets(vec![0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5]),
            &["endpoint", "version"],
        );
        let in_flight = IntGaugeVec::new(
            Opts::new("predictions_in_flight", "Inference requests being answered, by endpoint"),
            &["endpoint"],
        );
        // The names and label sets are fixed above, so construction cannot fail.
        let (requests, latency, in_flight) = (
            requests.unwrap_or_else(|error| unreachable!("{error}")),
            latency.unwrap_or_else(|error| unreachable!("{error}")),
            in_flight.unwrap_or_else(|error| unreachable!("{error}")),
        );
        let _ = registry.register(Box::new(requests.clone()));
        let _ = registry.register(Box::new(latency.clone()));
        let _ = registry.register(Box::new(in_flight.clone()));
        Self { requests, latency, in_flight }
    }

    /// Counts a request in flight until the guard drops.
    pub fn start(&self, endpoint: &str) -> InFlight {
        let gauge = self.in_flight.with_label_values(&[endpoint]);
        gauge.inc();
        InFlight(gauge)
    }

    /// One finished request; `version` is empty when none was chosen.
    pub fn finished(&self, endpoint: &str, version: &str, outcome: Outcome, seconds: f64) {
        let outcome = match outcome {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        };
        self.requests.with_label_values(&[endpoint, version, outcome]).inc();
        self.latency.with_label_values(&[endpoint, version]).observe(seconds);
    }
}

pub struct InFlight(prometheus::IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}
