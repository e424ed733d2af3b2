//! Regression metrics from running sums, so the same code serves a holdout (one call) and a
//! monitoring window (chunks added as labels arrive, windows merged).

use serde::{Deserialize, Serialize};

use crate::residuals::ResidualSummary;
use crate::{MetricsError, check};

/// The scalar metrics of a regressor, serialized as a flat name → value map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    pub rmse: f64,
    pub mae: f64,
    /// scikit-learn's `r2_score` (`force_finite=True`): 1 for a perfect fit, 0 for an imperfect
    /// fit of a constant truth; `None` under two rows, where scikit-learn returns NaN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r2: Option<f64>,
}

impl RegressionMetrics {
    /// The metric of that name (see [`crate::names`]); `None` if unknown or undefined.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "rmse" => Some(self.rmse),
            "mae" => Some(self.mae),
            "r2" => self.r2,
            _ => None,
        }
    }
}

/// The metrics and the bounded residual summary for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionEvaluation {
    pub metrics: RegressionMetrics,
    pub residuals: ResidualSummary,
}

/// Evaluates `predicted` against `truth`: the metrics and the residual summary.
pub fn evaluate_regression(truth: &[f64], predicted: &[f64]) -> Result<RegressionEvaluation, MetricsError> {
    let metrics = regression_metrics(truth, predicted)?;
    let residuals = ResidualSummary::new(truth, predicted)?;
    Ok(RegressionEvaluation { metrics, residuals })
}

/// RMSE, MAE and R² of `predicted` against `truth` in one pass.
pub fn regression_metrics(truth: &[f64], predicted: &[f64]) -> Result<RegressionMetrics, MetricsError> {
    let mut accumulator = RegressionAccumulator::default();
    accumulator.add(truth, predicted)?;
    accumulator.metrics()
}

/// Running sums for the regression metrics. Truth's variance uses Welford's update and Chan's
/// merge, which stay accurate where `Σy² − n·ȳ²` would cancel.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RegressionAccumulator {
    rows: u64,
    squared_error: f64,
    absolute_error: f64,
    truth_mean: f64,
    truth_m2: f64,
    /// Whether every truth seen so far equals `first_truth`: R²'s constant-truth case must be
    /// decided exactly, not by a rounding-error variance.
    constant: bool,
    first_truth: f64,
}

impl RegressionAccumulator {
    /// Adds a chunk of rows; on error nothing is added.
    pub fn add(&mut self, truth: &[f64], predicted: &[f64]) -> Result<(), MetricsError> {
        check::same_length("predicted", truth.len(), predicted.len())?;
        check::finite("truth", truth)?;
        check::finite("predicted", predicted)?;
        let mut chunk = RegressionAccumulator::default();
        for (&y, &prediction) in truth.iter().zip(predicted) {
            chunk.push(y, prediction);
        }
        self.merge(&chunk);
        Ok(())
    }

    fn push(&mut self, y: f64, prediction: f64) {
        if self.rows == 0 {
            self.constant = true;
            self.first_truth = y;
        }
        self.constant &= y == self.first_truth;
        self.rows += 1;
        let error = y - prediction;
        self.squared_error += error * error;
        self.absolute_error += error.abs();
        let delta = y - self.truth_mean;
        self.truth_mean += delta / self.rows as f64;
        self.truth_m2 += delta * (y - self.truth_mean);
    }

    /// Adds another accumulator's rows.
    pub fn merge(&mut self, other: &RegressionAccumulator) {
        if other.rows == 0 {
            return;
        }
        if self.rows == 0 {
            *self = *other;
            return;
        }
        let (n_a, n_b) = (self.rows as f64, other.rows as f64);
        let n = n_a + n_b;
        let delta = other.truth_mean - self.truth_mean;
        self.truth_mean += delta * n_b / n;
        self.truth_m2 += other.truth_m2 + delta * delta * n_a * n_b / n;
        self.constant = self.constant && other.constant && self.first_truth == other.first_truth;
        self.rows += other.rows;
        self.squared_error += other.squared_error;
        self.absolute_error += other.absolute_error;
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The metrics of every row added; no rows is an error.
    pub fn metrics(&self) -> Result<RegressionMetrics, MetricsError> {
        check::non_empty(self.rows as usize)?;
        let n = self.rows as f64;
        let r2 = (self.rows >= 2).then(|| {
            if self.squared_error == 0.0 {
                1.0
            } else if self.constant || self.truth_m2 == 0.0 {
                0.0
            } else {
                1.0 - self.squared_error / self.truth_m2
            }
        });
        Ok(RegressionMetrics { rmse: (self.squared_error / n).sqrt(), mae: self.absolute_error / n, r2 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_of_a_small_case() {
        // Checked with scikit-learn 1.9.
        let metrics = regression_metrics(&[1.0, 2.0, 3.0], &[1.5, 2.0, 2.0]).unwrap();
        assert!((metrics.rmse - 0.6454972243679028).abs() < 1e-15);
        assert_eq!(metrics.mae, 0.5);
        assert!((metrics.r2.unwrap() - 0.375).abs() < 1e-15);
    }

    #[test]
    fn constant_truth_follows_scikit_learn() {
        assert_eq!(regression_metrics(&[0.1; 3], &[0.1; 3]).unwrap().r2, Some(1.0));
        // 0.1 × 3 has a rounding-error variance in floating point: still exactly constant here.
        assert_eq!(regression_metrics(&[0.1; 3], &[0.2, 0.1, 0.0]).unwrap().r2, Some(0.0));
        assert_eq!(regression_metrics(&[4.0], &[3.0]).unwrap().r2, None);
    }

    #[test]
    fn chunks_merge_to_the_whole() {
        let truth = [3.0, -1.0, 2.5, 7.0, 0.0, 1e6];
        let predicted = [2.5, 0.0, 2.0, 8.0, 0.5, 1e6 + 3.0];
        let whole = regression_metrics(&truth, &predicted).unwrap();
        let (mut first, mut second) = (RegressionAccumulator::default(), RegressionAccumulator::default());
        first.add(&truth[..2], &predicted[..2]).unwrap();
        second.add(&truth[2..], &predicted[2..]).unwrap();
        first.merge(&second);
        let merged = first.metrics().unwrap();
        assert_eq!(first.rows(), 6);
        assert!((merged.rmse - whole.rmse).abs() < 1e-12);
        assert!((merged.r2.unwrap() - whole.r2.unwrap()).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_an_error_and_adds_nothing() {
        let mut accumulator = RegressionAccumulator::default();
        assert!(matches!(
            accumulator.add(&[1.0, f64::INFINITY], &[1.0, 2.0]),
            Err(MetricsError::NotFinite { .. })
        ));
        assert_eq!(accumulator.rows(), 0);
        assert_eq!(accumulator.metrics(), Err(MetricsError::Empty));
        assert!(matches!(regression_metrics(&[1.0], &[]), Err(MetricsError::LengthMismatch { .. })));
    }
}
