//! Equal-width histograms binned as `numpy.histogram` bins them (edges from `linspace`, every bin
//! half-open but the last), so a report drawn here matches one drawn in a notebook.

use serde::{Deserialize, Serialize};

use crate::calibration::linspace;

/// Counts of values in `counts.len()` equal-width bins between `edges[0]` and the last edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

/// Maps values to bins over `[low, high]`, which NumPy widens by 0.5 each side when equal.
#[derive(Debug, Clone)]
pub(crate) struct Binning {
    pub(crate) edges: Vec<f64>,
}

impl Binning {
    /// `bins` must be at least 1; `low <= high`, both finite.
    pub(crate) fn new(low: f64, high: f64, bins: usize) -> Binning {
        let (low, high) = if low == high { (low - 0.5, high + 0.5) } else { (low, high) };
        Binning { edges: linspace(low, high, bins) }
    }

    pub(crate) fn bins(&self) -> usize {
        self.edges.len() - 1
    }

    /// The bin of `value`, which must lie within the edges.
    pub(crate) fn bin(&self, value: f64) -> usize {
        let bins = self.bins();
        let (first, last) = (self.edges[0], self.edges[bins]);
        // NumPy's estimate from the scaled offset, then corrected against the edges themselves.
        let estimate = ((value - first) / (last - first) * bins as f64) as usize;
        let mut bin = estimate.min(bins - 1);
        if value < self.edges[bin] && bin > 0 {
            bin -= 1;
        } else if value >= self.edges[bin + 1] && bin != bins - 1 {
            bin += 1;
        }
        bin
    }

    pub(crate) fn histogram(&self, values: &[f64]) -> Histogram {
        let mut counts = vec![0; self.bins()];
        values.iter().for_each(|&value| counts[self.bin(value)] += 1);
        Histogram { edges: self.edges.clone(), counts }
    }
}

/// Smallest and largest of finite, non-empty `values`.
pub(crate) fn range(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), &value| (low.min(value), high.max(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_bin_is_closed_and_equal_values_widen_the_range() {
        let binning = Binning::new(0.0, 1.0, 4);
        let histogram = binning.histogram(&[0.0, 0.25, 0.5, 0.9999, 1.0]);
        assert_eq!(histogram.counts, [1, 1, 1, 2]);
        let constant = Binning::new(3.0, 3.0, 2).histogram(&[3.0, 3.0]);
        assert_eq!(constant.edges, [2.5, 3.0, 3.5]);
        assert_eq!(constant.counts, [0, 2]);
    }
}
