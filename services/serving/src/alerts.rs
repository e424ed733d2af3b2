//! Alerts serving raises about itself, looked at once a period (`serving.alert_period_secs`): an
//! endpoint's version that failed more than `serving.alert_error_rate` of its requests (at least
//! [`MIN_REQUESTS`] of them) over the period (`ServingErrorRate`), and predictions the log lost
//! (`PredictionLogLoss`). Both go through the outbox, so a loss raised while NATS is away is
//! published once it is back; the monitor relays them to its webhooks, and Prometheus has the
//! counters behind them (`cairn_predictions_total`, `cairn_prediction_log_dropped_total`).

use std::collections::HashMap;

use cairn_db::Database;
use cairn_domain::Timestamp;
use cairn_events::v1::{PredictionLogLoss, ServingErrorRate};
use cairn_service::Outbox;
use prometheus::core::Collector as _;

use crate::metrics::ServingMetrics;

/// Requests a version must have answered in a period before its error rate is judged.
pub const MIN_REQUESTS: u64 = 20;

pub struct Alerts {
    metrics: ServingMetrics,
    dropped: prometheus::IntCounter,
    threshold: f64,
    replica: String,
    /// Failed and total requests per (endpoint, version) at the last look, and when it was.
    last: HashMap<(String, String), (u64, u64)>,
    last_dropped: u64,
    since: i64,
}

/// Requests per (endpoint, version): (failed, total), from the counters.
fn counts(metrics: &ServingMetrics) -> HashMap<(String, String), (u64, u64)> {
    let mut counts: HashMap<(String, String), (u64, u64)> = HashMap::new();
    for family in metrics.requests.collect() {
        for metric in family.get_metric() {
            let label = |name: &str| {
                metric.get_label().iter().find(|pair| pair.name() == name).map(|pair| pair.value().to_owned())
            };
            let (Some(endpoint), Some(version), Some(outcome)) =
                (label("endpoint"), label("version"), label("outcome"))
            else {
                continue;
            };
            let value = metric.get_counter().get_value() as u64;
            let entry = counts.entry((endpoint, version)).or_default();
            entry.1 += value;
            if outcome == "failed" {
                entry.0 += value;
            }
        }
    }
    counts
}

impl Alerts {
    pub fn new(
        metrics: ServingMetrics,
        dropped: prometheus::IntCounter,
        threshold: f64,
        replica: String,
    ) -> Self {
        let last = counts(&metrics);
        let last_dropped = dropped.get();
        Self { metrics, dropped, threshold, replica, last, last_dropped, since: Timestamp::now().as_micros() }
    }

    /// What happened since the last look, as events.
    pub fn look(&mut self, now: i64) -> (Vec<ServingErrorRate>, Option<PredictionLogLoss>) {
        let counts = counts(&self.metrics);
        let mut rates = Vec::new();
        for ((endpoint, version), (failed, total)) in &counts {
            let (failed_before, total_before) =
                self.last.get(&(endpoint.clone(), version.clone())).copied().unwrap_or((0, 0));
            let (failed, total) = (failed.saturating_sub(failed_before), total.saturating_sub(total_before));
            let rate = if total == 0 { 0.0 } else { failed as f64 / total as f64 };
            if total >= MIN_REQUESTS && rate > self.threshold {
                rates.push(ServingErrorRate {
                    deployment: endpoint.clone(),
                    version: version.parse().unwrap_or(0),
                    failed: i64::try_from(failed).unwrap_or(i64::MAX),
                    requests: i64::try_from(total).unwrap_or(i64::MAX),
                    rate,
                    threshold: self.threshold,
                    window_start_unix_micros: self.since,
                    window_end_unix_micros: now,
                    replica: self.replica.clone(),
                });
            }
        }
        let dropped = self.dropped.get();
        let loss = (dropped > self.last_dropped).then(|| PredictionLogLoss {
            dropped: i64::try_from(dropped - self.last_dropped).unwrap_or(i64::MAX),
            window_start_unix_micros: self.since,
            window_end_unix_micros: now,
            replica: self.replica.clone(),
        });
        self.last = counts;
        self.last_dropped = dropped;
        self.since = now;
        (rates, loss)
    }

    /// Looks, and stages what it found in the outbox.
    pub async fn raise(&mut self, db: &Database, outbox: &Outbox) -> Result<(), cairn_db::DbError> {
        let (rates, loss) = self.look(Timestamp::now().as_micros());
        if rates.is_empty() && loss.is_none() {
            return Ok(());
        }
        for rate in &rates {
            tracing::warn!(endpoint = %rate.deployment, version = rate.version, failed = rate.failed,
                requests = rate.requests, "serving error rate above the alert threshold");
        }
        db.call(move |conn| {
            cairn_db::write_transaction(conn, |conn| {
                for rate in &rates {
                    Outbox::stage(conn, rate)?;
                }
                if let Some(loss) = &loss {
                    Outbox::stage(conn, loss)?;
                }
                Ok::<(), cairn_db::DbError>(())
            })
        })
        .await?;
        outbox.wake();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Outcome;

    #[test]
    fn a_version_failing_past_the_threshold_is_raised_once_per_period() {
        let registry = prometheus::Registry::new();
        let metrics = ServingMetrics::register(&registry);
        let dropped = prometheus::IntCounter::new("dropped", "dropped").unwrap();
        metrics.finished("scorer", "1", Outcome::Ok, 0.001);
        let mut alerts = Alerts::new(metrics.clone(), dropped.clone(), 0.05, "r1".into());
        for i in 0..40 {
            metrics.finished("scorer", "1", if i % 4 == 0 { Outcome::Failed } else { Outcome::Ok }, 0.001);
            metrics.finished("scorer", "2", Outcome::Ok, 0.001);
        }
        for _ in 0..5 {
            metrics.finished("other", "1", Outcome::Failed, 0.001); // too few to judge
        }
        dropped.inc_by(3);
        let (rates, loss) = alerts.look(1);
        assert_eq!(rates.len(), 1, "{rates:?}");
        assert_eq!(
            (rates[0].deployment.as_str(), rates[0].version, rates[0].failed, rates[0].requests),
            ("scorer", 1, 10, 40)
        );
        assert_eq!(loss.map(|loss| loss.dropped), Some(3));
        // The next period starts from here: nothing new, nothing raised.
        let (rates, loss) = alerts.look(2);
        assert!(rates.is_empty() && loss.is_none());
    }
}
