//! Reliability of probabilities: equal-width bins over [0, 1] exactly as scikit-learn's
//! `calibration_curve(strategy="uniform")` draws them (edges from `linspace`, a value on an edge
//! belongs to the lower bin, empty bins dropped), and the expected calibration error over them.

use serde::{Deserialize, Serialize};

use crate::MetricsError;

/// Bins of the calibration curve unless the caller asks otherwise.
pub const DEFAULT_BINS: usize = 10;

/// One non-empty bin of the calibration curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lower: f64,
    pub upper: f64,
    pub mean_predicted: f64,
    pub fraction_positive: f64,
    pub count: u64,
}

/// The calibration curve: non-empty bins in increasing order of probability.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CalibrationCurve {
    pub bins: Vec<CalibrationBin>,
}

impl CalibrationCurve {
    /// Expected calibration error: |mean predicted − fraction positive| weighted by bin share;
    /// 0 for an empty curve.
    pub fn expected_error(&self) -> f64 {
        let total: u64 = self.bins.iter().map(|bin| bin.count).sum();
        if total == 0 {
            return 0.0;
        }
        let weighted: f64 = self
            .bins
            .iter()
            .map(|bin| bin.count as f64 * (bin.mean_predicted - bin.fraction_positive).abs())
            .sum();
        weighted / total as f64
    }
}

/// The calibration curve of `probabilities` (each in [0, 1]) against `labels`, in `bins` bins.
pub fn calibration_curve(
    labels: &[bool],
    probabilities: &[f64],
    bins: usize,
) -> Result<CalibrationCurve, MetricsError> {
    crate::check::same_length("probabilities", labels.len(), probabilities.len())?;
    crate::check::probabilities("probabilities", probabilities)?;
    let mut binner = CalibrationBins::new(bins)?;
    labels.iter().zip(probabilities).for_each(|(&label, &probability)| binner.add(label, probability));
    Ok(binner.curve())
}

/// Running sums per bin, filled in the same pass as the other metrics.
#[derive(Debug, Clone)]
pub(crate) struct CalibrationBins {
    edges: Vec<f64>,
    predicted: Vec<f64>,
    positives: Vec<u64>,
    counts: Vec<u64>,
}

impl CalibrationBins {
    pub(crate) fn new(bins: usize) -> Result<CalibrationBins, MetricsError> {
        if bins == 0 {
            return Err(MetricsError::NoBins(bins));
        }
        Ok(CalibrationBins {
            edges: linspace(0.0, 1.0, bins),
            predicted: vec![0.0; bins],
            positives: vec![0; bins],
            counts: vec![0; bins],
        })
    }

    /// `probability` must be in [0, 1] (checked by the caller).
    pub(crate) fn add(&mut self, label: bool, probability: f64) {
        // NumPy's `searchsorted(edges[1:-1], p)`: the number of inner edges strictly below p.
        let inner = &self.edges[1..self.edges.len() - 1];
        let bin = inner.partition_point(|&edge| edge < probability);
        self.predicted[bin] += probability;
        self.positives[bin] += u64::from(label);
        self.counts[bin] += 1;
    }

    pub(crate) fn curve(&self) -> CalibrationCurve {
        let bins = (0..self.counts.len())
            .filter(|&bin| self.counts[bin] > 0)
            .map(|bin| {
                let count = self.counts[bin];
                CalibrationBin {
                    lower: self.edges[bin],
                    upper: self.edges[bin + 1],
                    mean_predicted: self.predicted[bin] / count as f64,
                    fraction_positive: self.positives[bin] as f64 / count as f64,
                    count,
                }
            })
            .collect();
        CalibrationCurve { bins }
    }
}

/// `numpy.linspace(first, last, bins + 1)` bit for bit: `i * step + first`, the last edge exact.
pub(crate) fn linspace(first: f64, last: f64, bins: usize) -> Vec<f64> {
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + first).collect();
    edges[bins] = last;
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_on_an_edge_belong_to_the_lower_bin() {
        // 0.1 is the first inner edge: bin 0, as `searchsorted(side="left")`; 0 and 1 are inside.
        let curve = calibration_curve(&[true, false, true, false], &[0.0, 0.1, 0.15, 1.0], 10).unwrap();
        let counts: Vec<(f64, u64)> = curve.bins.iter().map(|bin| (bin.lower, bin.count)).collect();
        assert_eq!(counts, [(0.0, 2), (0.1, 1), (0.9, 1)]);
        assert_eq!(curve.bins[0].mean_predicted, 0.05);
        assert_eq!(curve.bins[0].fraction_positive, 0.5);
    }

    #[test]
    fn expected_error_weights_bins_by_share() {
        // Bin [0.2, 0.3): predicted 0.25, 1 of 2 positive; bin [0.9, 1]: predicted 0.95, 1 of 1.
        let curve = calibration_curve(&[true, false, true], &[0.25, 0.25, 0.95], 10).unwrap();
        let expected = (2.0 * 0.25 + 1.0 * (1.0f64 - 0.95)) / 3.0;
        assert!((curve.expected_error() - expected).abs() < 1e-15);
        assert_eq!(CalibrationCurve::default().expected_error(), 0.0);
    }

    #[test]
    fn bad_bins_and_probabilities_are_errors() {
        assert_eq!(calibration_curve(&[true], &[0.5], 0), Err(MetricsError::NoBins(0)));
        assert!(matches!(
            calibration_curve(&[true], &[1.5], 10),
            Err(MetricsError::NotProbability { index: 0, .. })
        ));
    }

    #[test]
    fn edges_match_numpy_linspace() {
        let edges = linspace(0.0, 1.0, 10);
        assert_eq!(edges[3], 0.30000000000000004);
        assert_eq!(edges[10], 1.0);
    }
}
