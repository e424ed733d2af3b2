//! How each endpoint's windows are cut and judged: `[monitor]` and its per-endpoint overrides,
//! checked once at start (a misspelled method stops the service, not a window).

use std::collections::{BTreeMap, HashMap};

use cairn_config::{EndpointMonitoring, FeedbackConfig, MonitorConfig};
use cairn_drift::{DriftOptions, Method};

#[derive(Debug, Clone, PartialEq)]
pub struct FeaturePolicy {
    pub drift: DriftOptions,
    pub ignore: bool,
}

#[derive(Debug, Clone)]
pub struct EndpointPolicy {
    pub window_predictions: u64,
    pub window_micros: i64,
    pub min_predictions: u64,
    pub drift_share: f64,
    pub features: HashMap<String, FeaturePolicy>,
    pub feedback: Option<FeedbackConfig>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    default: EndpointPolicy,
    endpoints: BTreeMap<String, EndpointPolicy>,
}

impl Policy {
    pub fn new(config: &MonitorConfig) -> Result<Self, String> {
        let default = EndpointPolicy {
            window_predictions: config.window_predictions,
            window_micros: i64::try_from(config.window_secs).unwrap_or(i64::MAX / 1_000_000) * 1_000_000,
            min_predictions: config.min_window_predictions,
            drift_share: config.drift_share,
            features: HashMap::new(),
            feedback: None,
        };
        let endpoints = config
            .endpoints
            .iter()
            .map(|(name, endpoint)| Ok((name.clone(), overridden(&default, name, endpoint)?)))
            .collect::<Result<_, String>>()?;
        Ok(Self { default, endpoints })
    }

    pub fn endpoint(&self, endpoint: &str) -> &EndpointPolicy {
        self.endpoints.get(endpoint).unwrap_or(&self.default)
    }

    /// The endpoints whose ground truth arrives in `dataset`.
    pub fn feedback_of(&self, dataset: &str) -> Vec<(String, FeedbackConfig)> {
        self.endpoints
            .iter()
            .filter_map(|(name, policy)| Some((name.clone(), policy.feedback.clone()?)))
            .filter(|(_, feedback)| feedback.dataset == dataset)
            .collect()
    }
}

fn overridden(
    default: &EndpointPolicy,
    name: &str,
    endpoint: &EndpointMonitoring,
) -> Result<EndpointPolicy, String> {
    let mut policy = default.clone();
    if let Some(predictions) = endpoint.window_predictions {
        policy.window_predictions = predictions.max(1);
    }
    if let Some(secs) = endpoint.window_secs {
        policy.window_micros = i64::try_from(secs.max(1)).unwrap_or(i64::MAX / 1_000_000) * 1_000_000;
    }
    if let Some(share) = endpoint.drift_share {
        policy.drift_share = share;
    }
    if let Some(feedback) = &endpoint.feedback {
        if !(feedback.tolerance >= 0.0 && feedback.tolerance.is_finite()) {
            return Err(format!(
                "monitor.endpoints.{name}.feedback.tolerance: {} is not a share",
                feedback.tolerance
            ));
        }
        if !feedback.metric.is_empty() && cairn_metrics::direction(&feedback.metric).is_none() {
            return Err(format!(
                "monitor.endpoints.{name}.feedback.metric: `{}` is no metric training reports",
                feedback.metric
            ));
        }
        policy.feedback = Some(feedback.clone());
    }
    for (feature, options) in &endpoint.features {
        let method = options
            .method
            .as_deref()
            .map(|method| {
                serde_json::from_value::<Method>(serde_json::Value::String(method.to_owned())).map_err(|_| {
                    format!(
                        "monitor.endpoints.{name}.features.{feature}.method: `{method}` is none of psi, \
                         wasserstein, jensen_shannon, chi_square, ks, z"
                    )
                })
            })
            .transpose()?;
        if let Some(threshold) = options.threshold.filter(|threshold| !threshold.is_finite()) {
            return Err(format!(
                "monitor.endpoints.{name}.features.{feature}.threshold: {threshold} is not finite"
            ));
        }
        policy.features.insert(
            feature.clone(),
            FeaturePolicy {
                drift: DriftOptions { method, threshold: options.threshold },
                ignore: options.ignore,
            },
        );
    }
    Ok(policy)
}
