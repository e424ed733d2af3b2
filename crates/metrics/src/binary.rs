//! Binary classification: labels and positive-class probabilities in, every metric out after one
//! sort (for the ranking metrics) and one pass (for the rest).

use serde::{Deserialize, Serialize};

use crate::calibration::{CalibrationBins, CalibrationCurve};
use crate::confusion::BinaryConfusion;
use crate::{MetricsError, check, log_loss, ranking};

/// The scalar metrics of a binary classifier, serialized as a flat name → value map (undefined
/// metrics left out). Threshold metrics use `probability >= 0.5` as the positive prediction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roc_auc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr_auc: Option<f64>,
    pub log_loss: f64,
    pub accuracy: f64,
    pub f1: f64,
    pub precision: f64,
    pub recall: f64,
    pub calibration_error: f64,
}

impl BinaryMetrics {
    /// The metric of that name (see [`crate::names`]); `None` if unknown or undefined.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "roc_auc" => self.roc_auc,
            "pr_auc" => self.pr_auc,
            "log_loss" => Some(self.log_loss),
            "accuracy" => Some(self.accuracy),
            "f1" => Some(self.f1),
            "precision" => Some(self.precision),
            "recall" => Some(self.recall),
            "calibration_error" => Some(self.calibration_error),
            _ => None,
        }
    }
}

/// Everything a binary evaluation report shows: the metrics, the confusion counts and the
/// calibration curve they came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryEvaluation {
    pub metrics: BinaryMetrics,
    pub confusion: BinaryConfusion,
    pub calibration: CalibrationCurve,
}

/// Evaluates positive-class `probabilities` (each in [0, 1]) against `labels`, with
/// [`crate::DEFAULT_BINS`] calibration bins.
pub fn evaluate_binary(labels: &[bool], probabilities: &[f64]) -> Result<BinaryEvaluation, MetricsError> {
    evaluate_binary_with_bins(labels, probabilities, crate::DEFAULT_BINS)
}

/// [`evaluate_binary`] with `bins` equal-width calibration bins.
pub fn evaluate_binary_with_bins(
    labels: &[bool],
    probabilities: &[f64],
    bins: usize,
) -> Result<BinaryEvaluation, MetricsError> {
    check::same_length("probabilities", labels.len(), probabilities.len())?;
    check::non_empty(labels.len())?;
    check::probabilities("probabilities", probabilities)?;
    let mut confusion = BinaryConfusion::default();
    let mut calibration = CalibrationBins::new(bins)?;
    let mut loss = 0.0;
    for (&label, &probability) in labels.iter().zip(probabilities) {
        confusion.add(label, probability);
        calibration.add(label, probability);
        loss += log_loss::row_loss(if label { probability } else { 1.0 - probability });
    }
    let mut rows: Vec<(f64, bool)> = probabilities.iter().copied().zip(labels.iter().copied()).collect();
    let ranking = ranking::ranking_of(&mut rows);
    let calibration = calibration.curve();
    let metrics = BinaryMetrics {
        roc_auc: ranking.roc_auc,
        pr_auc: ranking.average_precision,
        log_loss: loss / labels.len() as f64,
        accuracy: confusion.accuracy(),
        f1: confusion.f1(),
        precision: confusion.precision(),
        recall: confusion.recall(),
        calibration_error: calibration.expected_error(),
    };
    Ok(BinaryEvaluation { metrics, confusion, calibration })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_of_a_small_case() {
        // Checked with scikit-learn 1.9 (roc_auc_score, average_precision_score, log_loss, …).
        let evaluation = evaluate_binary(&[true, false, true, false], &[0.1, 0.3, 0.5, 0.5]).unwrap();
        let metrics = evaluation.metrics;
        assert_eq!(metrics.roc_auc, Some(0.375));
        assert_eq!(metrics.pr_auc, Some(0.5));
        assert!((metrics.log_loss - 1.011388599513167).abs() < 1e-12);
        assert_eq!((metrics.accuracy, metrics.f1, metrics.precision, metrics.recall), (0.5, 0.5, 0.5, 0.5));
        assert!((metrics.calibration_error - 0.3).abs() < 1e-15);
        let counts: Vec<u64> = evaluation.calibration.bins.iter().map(|bin| bin.count).collect();
        assert_eq!(counts, [1, 1, 2]);
    }

    #[test]
    fn a_confident_miss_costs_the_clipped_loss() {
        let metrics = evaluate_binary(&[true, false], &[0.0, 1.0]).unwrap().metrics;
        assert_eq!(metrics.log_loss, -f64::EPSILON.ln());
        assert!(metrics.log_loss.is_finite());
    }

    #[test]
    fn one_class_serializes_without_the_undefined_metrics() {
        let metrics = evaluate_binary(&[false, false], &[0.2, 0.6]).unwrap().metrics;
        assert_eq!((metrics.roc_auc, metrics.pr_auc), (None, None));
        assert_eq!(metrics.get("roc_auc"), None);
        assert_eq!(metrics.get("accuracy"), Some(0.5));
        assert_eq!(metrics.get("rmse"), None);
        let json = serde_json::to_value(metrics).unwrap();
        let names: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(names.len(), 6);
        assert!(!names.contains(&"roc_auc") && names.contains(&"calibration_error"));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(evaluate_binary(&[], &[]), Err(MetricsError::Empty));
        assert!(matches!(evaluate_binary(&[true], &[]), Err(MetricsError::LengthMismatch { .. })));
        assert!(matches!(evaluate_binary(&[true], &[-0.1]), Err(MetricsError::NotProbability { .. })));
        assert!(matches!(evaluate_binary(&[true], &[f64::NAN]), Err(MetricsError::NotFinite { .. })));
    }
}
