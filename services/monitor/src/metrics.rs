//! What existing alerting scrapes: per endpoint, model version and feature, the latest window's
//! drift, and how far the monitor is behind the prediction log.

use cairn_api::MonitorWindow;
use prometheus::{Gauge, GaugeVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct MonitorMetrics {
    predictions: IntCounterVec,
    windows: IntCounterVec,
    feature_drift: GaugeVec,
    feature_drifted: IntGaugeVec,
    drift_share: GaugeVec,
    dataset_drift: IntGaugeVec,
    pub lag: Gauge,
    pub unreadable: IntCounter,
    unknown_feedback: IntCounterVec,
}

fn registered<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    let _ = registry.register(Box::new(metric.clone()));
    metric
}

impl MonitorMetrics {
    #[expect(clippy::unwrap_used, reason = "fixed, valid metric definitions")]
    pub fn register(registry: &Registry) -> Self {
        let version = ["endpoint", "model", "version"];
        let feature = ["endpoint", "model", "version", "feature"];
        Self {
            predictions: registered(
                registry,
                IntCounterVec::new(
                    Opts::new("monitor_predictions_total", "Predictions read from the log"),
                    &version,
                )
                .unwrap(),
            ),
            windows: registered(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "monitor_windows_total",
                        "Windows closed and judged, by whether the dataset drifted",
                    ),
                    &["endpoint", "model", "version", "drift"],
                )
                .unwrap(),
            ),
            feature_drift: registered(
                registry,
                GaugeVec::new(
                    Opts::new("monitor_feature_drift", "The latest window's drift statistic per feature"),
                    &["endpoint", "model", "version", "feature", "method"],
                )
                .unwrap(),
            ),
            feature_drifted: registered(
                registry,
                IntGaugeVec::new(
                    Opts::new(
                        "monitor_feature_drifted",
                        "Whether the feature drifted in the latest window (1/0)",
                    ),
                    &feature,
                )
                .unwrap(),
            ),
            drift_share: registered(
                registry,
                GaugeVec::new(
                    Opts::new("monitor_drift_share", "The latest window's share of drifted features"),
                    &version,
                )
                .unwrap(),
            ),
            dataset_drift: registered(
                registry,
                IntGaugeVec::new(
                    Opts::new("monitor_dataset_drift", "Whether the latest window drifted as a whole (1/0)"),
                    &version,
                )
                .unwrap(),
            ),
            lag: registered(
                registry,
                Gauge::new(
                    "monitor_log_lag_seconds",
                    "Seconds between serving's answer and the monitor's reading of the latest prediction",
                )
                .unwrap(),
            ),
            unknown_feedback: registered(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "monitor_feedback_unknown_total",
                        "Feedback rows naming a request id the monitor has no prediction for",
                    ),
                    &["endpoint"],
                )
                .unwrap(),
            ),
            unreadable: registered(
                registry,
                IntCounter::new(
                    "monitor_unreadable_total",
                    "Logged predictions whose inputs could not be read",
                )
                .unwrap(),
            ),
        }
    }

    pub fn feedback_unknown(&self, endpoint: &str, rows: u64) {
        self.unknown_feedback.with_label_values(&[endpoint]).inc_by(rows);
    }

    pub fn predicted(&self, endpoint: &str, model: &str, version: i64, rows: u64) {
        self.predictions.with_label_values(&[endpoint, model, &version.to_string()]).inc_by(rows);
    }

    pub fn judged(&self, window: &MonitorWindow) {
        let version = window.version.to_string();
        let labels = [window.endpoint.as_str(), window.model.as_str(), version.as_str()];
        let drift = if window.dataset_drift { "true" } else { "false" };
        self.windows.with_label_values(&[labels[0], labels[1], labels[2], drift]).inc();
        self.drift_share.with_label_values(&labels).set(window.share);
        self.dataset_drift.with_label_values(&labels).set(i64::from(window.dataset_drift));
        for feature in &window.features {
            let name = feature.column.as_str();
            self.feature_drift
                .with_label_values(&[labels[0], labels[1], labels[2], name, feature.method.as_str()])
                .set(feature.value);
            self.feature_drifted
                .with_label_values(&[labels[0], labels[1], labels[2], name])
                .set(i64::from(feature.drifted));
        }
    }
}
