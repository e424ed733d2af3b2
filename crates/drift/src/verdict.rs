use serde::{Deserialize, Serialize};

use crate::{DriftError, Kind, Method};

/// Evidently's `drift_share`: the dataset drifts when at least this share of its columns do.
pub const DEFAULT_DRIFT_SHARE: f64 = 0.5;

/// A feature's method and threshold when not Evidently's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftOptions {
    pub method: Option<Method>,
    pub threshold: Option<f64>,
}

/// One feature's answer: the statistic, the threshold it was held to, and whether it drifted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub method: Method,
    pub value: f64,
    pub threshold: f64,
    pub drifted: bool,
}

impl Verdict {
    pub(crate) fn decide(
        kind: Kind,
        options: &DriftOptions,
        default: Method,
        value_of: impl FnOnce(Method) -> f64,
    ) -> Result<Verdict, DriftError> {
        let method = options.method.unwrap_or(default);
        if !method.applies_to(kind) {
            let kind = if kind == Kind::Numeric { "numeric" } else { "categorical" };
            return Err(DriftError::NotApplicable { method, kind });
        }
        let threshold = options.threshold.unwrap_or(method.default_threshold());
        if !threshold.is_finite() {
            return Err(DriftError::BadThreshold(threshold));
        }
        let value = value_of(method);
        Ok(Verdict { method, value, threshold, drifted: method.drifted(value, threshold) })
    }
}

/// Whether a dataset drifted: Evidently's `get_dataset_drift`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    pub columns: usize,
    pub drifted_columns: usize,
    pub share: f64,
    pub share_threshold: f64,
    pub drifted: bool,
}

/// The share of drifted verdicts against `share_threshold` (drifted when share ≥ threshold, as
/// Evidently). No verdicts is share 0 and no drift rather than Evidently's division by zero.
pub fn dataset_drift(verdicts: &[Verdict], share_threshold: f64) -> Result<DatasetDrift, DriftError> {
    if !(0.0..=1.0).contains(&share_threshold) {
        return Err(DriftError::BadShare(share_threshold));
    }
    let drifted_columns = verdicts.iter().filter(|verdict| verdict.drifted).count();
    let columns = verdicts.len();
    let share = if columns == 0 { 0.0 } else { drifted_columns as f64 / columns as f64 };
    let drifted = columns > 0 && share >= share_threshold;
    Ok(DatasetDrift { columns, drifted_columns, share, share_threshold, drifted })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(drifted: bool) -> Verdict {
        Verdict { method: Method::Psi, value: 0.0, threshold: 0.1, drifted }
    }

    #[test]
    fn half_the_columns_is_dataset_drift() {
        let two = dataset_drift(&[verdict(true), verdict(false)], DEFAULT_DRIFT_SHARE).unwrap();
        assert!(two.drifted);
        assert_eq!(two.share, 0.5);
        let three = dataset_drift(&[verdict(true), verdict(false), verdict(false)], 0.5).unwrap();
        assert!(!three.drifted);
        assert!(!dataset_drift(&[], 0.5).unwrap().drifted);
        assert_eq!(dataset_drift(&[], 1.5), Err(DriftError::BadShare(1.5)));
    }
}
