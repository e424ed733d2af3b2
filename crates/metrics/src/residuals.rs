//! What a regression report draws, bounded in size whatever the row count: quantiles and a
//! histogram of the residuals (truth − predicted), and truth against prediction in bins of the
//! prediction. Quantiles need the residuals sorted, the one O(n log n) step of a regression.

use serde::{Deserialize, Serialize};

use crate::histogram::{Binning, Histogram, range};
use crate::{MetricsError, check};

/// Quantile levels reported for the residuals.
pub const RESIDUAL_QUANTILES: [f64; 9] = [0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0];
/// Bins of the residual histogram.
pub const RESIDUAL_BINS: usize = 20;
/// Bins of the prediction range for truth against prediction.
pub const PREDICTION_BINS: usize = 10;

/// One quantile of the residuals (NumPy's default, linear interpolation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantile {
    pub level: f64,
    pub value: f64,
}

/// Rows whose prediction fell in `[lower, upper)` (the last bin closed), with their means;
/// the means are `None` in an empty bin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictionBin {
    pub lower: f64,
    pub upper: f64,
    pub count: u64,
    pub mean_predicted: Option<f64>,
    pub mean_truth: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidualSummary {
    pub quantiles: Vec<Quantile>,
    pub histogram: Histogram,
    pub by_prediction: Vec<PredictionBin>,
}

impl ResidualSummary {
    pub fn new(truth: &[f64], predicted: &[f64]) -> Result<ResidualSummary, MetricsError> {
        check::same_length("predicted", truth.len(), predicted.len())?;
        check::non_empty(truth.len())?;
        check::finite("truth", truth)?;
        check::finite("predicted", predicted)?;
        let mut residuals: Vec<f64> =
            truth.iter().zip(predicted).map(|(y, prediction)| y - prediction).collect();
        let (low, high) = range(&residuals);
        let histogram = Binning::new(low, high, RESIDUAL_BINS).histogram(&residuals);
        residuals.sort_unstable_by(f64::total_cmp);
        let quantiles = RESIDUAL_QUANTILES
            .iter()
            .map(|&level| Quantile { level, value: quantile(&residuals, level) })
            .collect();
        Ok(ResidualSummary { quantiles, histogram, by_prediction: by_prediction(truth, predicted) })
    }
}

/// NumPy's `quantile(method="linear")` of sorted, non-empty `values`.
fn quantile(values: &[f64], level: f64) -> f64 {
    let position = (values.len() - 1) as f64 * level;
    let below = position.floor() as usize;
    let above = (below + 1).min(values.len() - 1);
    let (a, b, t) = (values[below], values[above], position - below as f64);
    // NumPy's `_lerp`, which interpolates from the nearer end for accuracy.
    let difference = b - a;
    if t >= 0.5 { b - difference * (1.0 - t) } else { a + difference * t }
}

fn by_prediction(truth: &[f64], predicted: &[f64]) -> Vec<PredictionBin> {
    let (low, high) = range(predicted);
    let binning = Binning::new(low, high, PREDICTION_BINS);
    let mut sums = vec![(0u64, 0.0, 0.0); binning.bins()];
    for (&y, &prediction) in truth.iter().zip(predicted) {
        let sum = &mut sums[binning.bin(prediction)];
        *sum = (sum.0 + 1, sum.1 + prediction, sum.2 + y);
    }
    sums.iter()
        .enumerate()
        .map(|(bin, &(count, predicted, truth))| PredictionBin {
            lower: binning.edges[bin],
            upper: binning.edges[bin + 1],
            count,
            mean_predicted: (count > 0).then(|| predicted / count as f64),
            mean_truth: (count > 0).then(|| truth / count as f64),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_as_numpy() {
        // Residuals −0.5, 0, 1 (checked with numpy.quantile).
        let summary = ResidualSummary::new(&[1.0, 2.0, 3.0], &[1.5, 2.0, 2.0]).unwrap();
        let values: Vec<f64> = summary.quantiles.iter().map(|quantile| quantile.value).collect();
        let numpy = [-0.5, -0.49, -0.45, -0.25, 0.0, 0.5, 0.8999999999999999, 0.98, 1.0];
        for (ours, theirs) in values.iter().zip(numpy) {
            assert!((ours - theirs).abs() < 1e-15, "{ours} vs {theirs}");
        }
    }

    #[test]
    fn the_summary_is_bounded_whatever_the_rows() {
        let truth: Vec<f64> = (0..100_000).map(|row| f64::from(row % 977)).collect();
        let predicted: Vec<f64> = truth.iter().map(|y| y * 0.9 + 3.0).collect();
        let summary = ResidualSummary::new(&truth, &predicted).unwrap();
        assert_eq!(summary.quantiles.len(), RESIDUAL_QUANTILES.len());
        assert_eq!(summary.histogram.counts.len(), RESIDUAL_BINS);
        assert_eq!(summary.histogram.counts.iter().sum::<u64>(), 100_000);
        assert_eq!(summary.by_prediction.len(), PREDICTION_BINS);
        assert!(summary.by_prediction.iter().all(|bin| bin.count > 0 && bin.mean_truth.is_some()));
    }

    #[test]
    fn empty_input_is_an_error() {
        assert_eq!(ResidualSummary::new(&[], &[]), Err(MetricsError::Empty));
    }
}
