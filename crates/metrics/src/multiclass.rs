//! Multiclass classification from class codes and row-major probabilities. The predicted class is
//! the most probable one, the first on ties (NumPy's `argmax`); calibration is measured on that
//! top-class confidence against whether it was right.

use serde::{Deserialize, Serialize};

use crate::calibration::{CalibrationBins, CalibrationCurve};
use crate::confusion::ConfusionMatrix;
use crate::{MetricsError, check, log_loss, ranking};

/// The scalar metrics of a multiclass classifier, serialized as a flat name → value map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MulticlassMetrics {
    pub accuracy: f64,
    pub f1_macro: f64,
    pub f1_weighted: f64,
    pub log_loss: f64,
    /// One-vs-rest macro ROC AUC over the classes present in the truth; `None` with fewer than
    /// two such classes. scikit-learn refuses a class absent from the truth; here it is skipped,
    /// since a monitoring window may miss a rare class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roc_auc_ovr: Option<f64>,
    pub calibration_error: f64,
}

impl MulticlassMetrics {
    /// The metric of that name (see [`crate::names`]); `None` if unknown or undefined.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "accuracy" => Some(self.accuracy),
            "f1_macro" => Some(self.f1_macro),
            "f1_weighted" => Some(self.f1_weighted),
            "log_loss" => Some(self.log_loss),
            "roc_auc_ovr" => self.roc_auc_ovr,
            "calibration_error" => Some(self.calibration_error),
            _ => None,
        }
    }
}

/// The metrics, the confusion matrix and the top-class calibration curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MulticlassEvaluation {
    pub metrics: MulticlassMetrics,
    pub confusion: ConfusionMatrix,
    pub calibration: CalibrationCurve,
}

/// Evaluates `probabilities` (row-major `[labels.len() × classes]`, each in [0, 1]) against
/// class codes `labels` (each below `classes`).
pub fn evaluate_multiclass(
    labels: &[u32],
    probabilities: &[f64],
    classes: usize,
) -> Result<MulticlassEvaluation, MetricsError> {
    if classes < 2 {
        return Err(MetricsError::TooFewClasses(classes));
    }
    check::non_empty(labels.len())?;
    check::same_length("probabilities", labels.len() * classes, probabilities.len())?;
    check::probabilities("probabilities", probabilities)?;
    if let Some(index) = labels.iter().position(|&label| label as usize >= classes) {
        return Err(MetricsError::ClassOutOfRange { index, label: labels[index], classes });
    }
    let mut confusion = ConfusionMatrix::new(classes);
    let mut calibration = CalibrationBins::new(crate::DEFAULT_BINS)?;
    let mut loss = 0.0;
    for (&label, row) in labels.iter().zip(probabilities.chunks_exact(classes)) {
        let (top, confidence) = argmax(row);
        confusion.add(label, top)?;
        calibration.add(top == label, confidence);
        loss += log_loss::row_loss(row[label as usize]);
    }
    let calibration = calibration.curve();
    let metrics = MulticlassMetrics {
        accuracy: confusion.accuracy(),
        f1_macro: confusion.f1_macro(),
        f1_weighted: confusion.f1_weighted(),
        log_loss: loss / labels.len() as f64,
        roc_auc_ovr: roc_auc_ovr(labels, probabilities, classes),
        calibration_error: calibration.expected_error(),
    };
    Ok(MulticlassEvaluation { metrics, confusion, calibration })
}

/// The first most probable class and its probability.
fn argmax(row: &[f64]) -> (u32, f64) {
    let mut best = (0, row[0]);
    for (class, &probability) in row.iter().enumerate().skip(1) {
        if probability > best.1 {
            best = (class as u32, probability);
        }
    }
    best
}

/// Mean of the per-class one-vs-rest AUCs that are defined: one sort per class.
fn roc_auc_ovr(labels: &[u32], probabilities: &[f64], classes: usize) -> Option<f64> {
    let mut rows = Vec::with_capacity(labels.len());
    let aucs: Vec<f64> = (0..classes)
        .filter_map(|class| {
            rows.clear();
            rows.extend(
                labels
                    .iter()
                    .zip(probabilities.chunks_exact(classes))
                    .map(|(&label, row)| (row[class], label as usize == class)),
            );
            ranking::ranking_of(&mut rows).roc_auc
        })
        .collect();
    (aucs.len() >= 2).then(|| aucs.iter().sum::<f64>() / aucs.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBABILITIES: [f64; 12] = [0.5, 0.25, 0.25, 0.2, 0.6, 0.2, 0.1, 0.1, 0.8, 0.4, 0.4, 0.2];

    #[test]
    fn every_metric_of_a_small_case() {
        // Checked with scikit-learn 1.9; the last row ties classes 0 and 1 and predicts 0.
        let evaluation = evaluate_multiclass(&[0, 1, 2, 1], &PROBABILITIES, 3).unwrap();
        let metrics = evaluation.metrics;
        assert_eq!(metrics.accuracy, 0.75);
        assert!((metrics.f1_macro - 0.7777777777777777).abs() < 1e-15);
        assert_eq!(metrics.f1_weighted, 0.75);
        assert!((metrics.log_loss - 0.5858517718785752).abs() < 1e-15);
        assert_eq!(metrics.roc_auc_ovr, Some(1.0));
        assert!((metrics.calibration_error - 0.375).abs() < 1e-15);
        assert_eq!(evaluation.confusion.counts, [1, 0, 0, 1, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn auc_over_one_present_class_is_undefined() {
        let metrics = evaluate_multiclass(&[1, 1, 1, 1], &PROBABILITIES, 3).unwrap().metrics;
        assert_eq!(metrics.roc_auc_ovr, None);
        assert_eq!(metrics.get("roc_auc_ovr"), None);
    }

    #[test]
    fn bad_shapes_and_classes_are_errors() {
        assert_eq!(evaluate_multiclass(&[0], &[1.0], 1), Err(MetricsError::TooFewClasses(1)));
        assert!(matches!(
            evaluate_multiclass(&[0, 1], &PROBABILITIES, 3),
            Err(MetricsError::LengthMismatch { .. })
        ));
        assert_eq!(
            evaluate_multiclass(&[0, 1, 3, 1], &PROBABILITIES, 3),
            Err(MetricsError::ClassOutOfRange { index: 2, label: 3, classes: 3 })
        );
    }
}
