//! Webhooks: every monitoring event — a drifted window, a degraded one, a loop's decision, and
//! serving's own alerts (an error rate past its threshold, predictions the log lost) — is
//! POSTed as JSON to each configured URL (`monitor.webhooks`), signed when a secret is set
//! (`Cairn-Signature: sha256=<hex HMAC-SHA256 of the body>`, as GitHub signs its hooks), with
//! the event's id (`Cairn-Event-Id`) so a receiver can drop the repeats that retries bring. A
//! URL that fails makes the event come again with growing backoff (1 s, 2 s, 4 s … at most 5
//! min, twelve tries): delivery is at least once.

use std::sync::Arc;
use std::time::Duration;

use cairn_bus::{Delivery, HandlerError};
use cairn_events::v1::{
    DriftDetected, LoopDecided, PerformanceDegraded, PredictionLogLoss, ServingErrorRate,
};
use prometheus::{IntCounterVec, Opts, Registry};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub struct Webhooks {
    urls: Vec<String>,
    secret: Option<String>,
    http: reqwest::Client,
    deliveries: IntCounterVec,
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`, as hex.
pub fn sign(key: &[u8], message: &[u8]) -> String {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    let outer = Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize();
    outer.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// An event as the webhook body shows it.
pub trait Hook {
    const NAME: &'static str;
    fn body(&self) -> Value;
}

impl Hook for DriftDetected {
    const NAME: &'static str = "drift_detected";
    fn body(&self) -> Value {
        json!({
            "endpoint": self.deployment, "model": self.model, "version": self.version,
            "window_id": self.window_id, "predictions": self.predictions,
            "drifted_features": self.drifted_features, "drifted_share": self.drifted_share,
            "share_threshold": self.share_threshold,
            "most_drifted": {"feature": self.feature, "method": self.statistic, "value": self.value, "threshold": self.threshold},
            "window_start_unix_micros": self.window_start_unix_micros, "window_end_unix_micros": self.window_end_unix_micros,
        })
    }
}

impl Hook for PerformanceDegraded {
    const NAME: &'static str = "performance_degraded";
    fn body(&self) -> Value {
        json!({
            "endpoint": self.deployment, "model": self.model, "version": self.version,
            "window_id": self.window_id, "metric": self.metric, "live": self.live,
            "holdout": self.holdout, "tolerance": self.tolerance, "labelled": self.labelled,
        })
    }
}

impl Hook for LoopDecided {
    const NAME: &'static str = "loop_decided";
    fn body(&self) -> Value {
        let numbers: Value = serde_json::from_str(&self.numbers_json).unwrap_or(Value::Null);
        json!({
            "endpoint": self.deployment, "cycle": self.cycle, "step": self.step,
            "detail": self.detail, "numbers": numbers, "at_unix_micros": self.at_unix_micros,
        })
    }
}

impl Hook for ServingErrorRate {
    const NAME: &'static str = "serving_error_rate";
    fn body(&self) -> Value {
        json!({
            "endpoint": self.deployment, "version": self.version, "failed": self.failed,
            "requests": self.requests, "rate": self.rate, "threshold": self.threshold,
            "replica": self.replica, "window_start_unix_micros": self.window_start_unix_micros,
            "window_end_unix_micros": self.window_end_unix_micros,
        })
    }
}

impl Hook for PredictionLogLoss {
    const NAME: &'static str = "prediction_log_loss";
    fn body(&self) -> Value {
        json!({
            "dropped": self.dropped, "replica": self.replica,
            "window_start_unix_micros": self.window_start_unix_micros,
            "window_end_unix_micros": self.window_end_unix_micros,
        })
    }
}

impl Webhooks {
    pub fn new(urls: Vec<String>, secret: Option<String>, registry: &Registry) -> Self {
        let deliveries = IntCounterVec::new(
            Opts::new("monitor_webhook_deliveries_total", "Webhook POSTs by event and outcome (ok, failed)"),
            &["event", "outcome"],
        )
        .unwrap_or_else(|error| unreachable!("a fixed, valid metric: {error}"));
        let _ = registry.register(Box::new(deliveries.clone()));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Self { urls, secret, http, deliveries }
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// POSTs the event to every URL; any failure brings it back later (backoff by delivery).
    pub async fn deliver<E: Hook>(&self, delivery: &Delivery<E>) -> Result<(), HandlerError> {
        let body =
            json!({"type": E::NAME, "id": delivery.event_id.to_string(), "event": delivery.event.body()});
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut failures = Vec::new();
        for url in &self.urls {
            let mut request = self
                .http
                .post(url)
                .header("content-type", "application/json")
                .header("cairn-event", E::NAME)
                .header("cairn-event-id", delivery.event_id.to_string())
                .body(bytes.clone());
            if let Some(secret) = &self.secret {
                request =
                    request.header("cairn-signature", format!("sha256={}", sign(secret.as_bytes(), &bytes)));
            }
            let outcome = match request.send().await {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(format!("{url} answered {}", response.status())),
                Err(error) => Err(format!("{url}: {error}")),
            };
            let label = if outcome.is_ok() { "ok" } else { "failed" };
            self.deliveries.with_label_values(&[E::NAME, label]).inc();
            if let Err(failure) = outcome {
                failures.push(failure);
            }
        }
        if failures.is_empty() {
            return Ok(());
        }
        let exponent = u32::try_from(delivery.delivered.clamp(1, 9) - 1).unwrap_or(0);
        let after = Duration::from_secs(2u64.pow(exponent)).min(Duration::from_secs(300));
        tracing::warn!(event = E::NAME, failures = %failures.join("; "), ?after, "webhook not delivered; trying again");
        Err(HandlerError::Retry { reason: failures.join("; "), after })
    }
}

/// Delivers every event `E` of the durable consumer `spec` to the webhooks.
pub async fn follow<E: Hook + cairn_events::Event>(
    context: &cairn_service::ServiceContext,
    spec: &'static cairn_events::topology::ConsumerSpec,
    hooks: &Arc<Webhooks>,
) -> Result<cairn_bus::ConsumerHandle, cairn_service::StartError> {
    context
        .follow(spec, Arc::clone(hooks), |hooks, delivery: Delivery<E>| async move {
            hooks.deliver(&delivery).await
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_rfc_4231_hmac_sha256() {
        // RFC 4231, test cases 2 and 6 (a key longer than the block).
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            sign(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
