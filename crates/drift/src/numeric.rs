//! A numeric feature's reference (from the training data's values) and its windows.

mod cells;
mod edges;
mod window;

use serde::{Deserialize, Serialize};

pub use window::{NumericWindow, SAMPLE_CAP};

use crate::method::SMALL_REFERENCE;
use crate::{DriftError, DriftOptions, Kind, Method, Verdict, binned};

/// At most this many distinct reference values: bins are the values themselves (Evidently's
/// `get_binned_data` counts values instead of building a histogram up to 20).
pub const DISCRETE_MAX: usize = 20;
/// Quantile cut points added to a large reference's Sturges edges, so the Wasserstein distance
/// computed from bins resolves 1 % of the reference's mass even for skewed data.
pub const QUANTILE_EDGES: usize = 100;
/// Evidently's floor on the reference's standard deviation when norming Wasserstein.
pub const MIN_NORM: f64 = 0.001;

/// The reference distribution of one numeric feature. Built once per model version from the
/// training values and stored with it (serde); windows are counted against its edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericReference {
    count: u64,
    missing: u64,
    mean: f64,
    std: f64,
    edges: Vec<f64>,
    counts: Vec<u64>,
    bins: Vec<Bin>,
    /// Distinct values, when there are at most [`DISCRETE_MAX`].
    distinct: Option<usize>,
    /// All values, sorted, when there are at most [`SMALL_REFERENCE`].
    sample: Option<Vec<f64>>,
}

/// A run of cells counted as one bin for PSI, Jensen–Shannon, chi-squared and Z.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Bin {
    end: usize,
    /// Evidently's own bins stay when empty on both sides; the tails and gaps we add do not.
    keep_empty: bool,
}

impl NumericReference {
    /// NaN and ±∞ are counted as missing and otherwise ignored.
    pub fn from_values(values: &[f64]) -> Result<Self, DriftError> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let missing = (values.len() - sorted.len()) as u64;
        if sorted.is_empty() {
            return Err(DriftError::EmptyReference);
        }
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let std = (sorted.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
        let mut distinct_values = sorted.clone();
        distinct_values.dedup();
        let (min, max) = (sorted[0], sorted[n - 1]);

        let discrete = distinct_values.len() <= DISCRETE_MAX;
        let (edges, bins) = if discrete {
            let k = distinct_values.len();
            let bins = (1..=2 * k + 1).map(|end| Bin { end, keep_empty: false }).collect();
            (distinct_values.clone(), bins)
        } else {
            let sturges = edges::sturges(min, max, n);
            let points = if n as u64 <= SMALL_REFERENCE {
                distinct_values.clone()
            } else {
                (1..QUANTILE_EDGES).map(|j| sorted[j * (n - 1) / QUANTILE_EDGES]).collect()
            };
            let edges = edges::union(&sturges, &points);
            let bins = sturges_bins(&edges, &sturges);
            (edges, bins)
        };
        let mut window = NumericWindow::new(edges);
        window.add_many(&sorted);
        Ok(NumericReference {
            count: n as u64,
            missing,
            mean,
            std,
            edges: window.edges,
            counts: window.counts,
            bins,
            distinct: discrete.then_some(distinct_values.len()),
            sample: (n as u64 <= SMALL_REFERENCE).then_some(sorted),
        })
    }

    /// An empty window over this reference's cells.
    pub fn window(&self) -> NumericWindow {
        NumericWindow::new(self.edges.clone())
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn missing(&self) -> u64 {
        self.missing
    }

    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Population standard deviation (`numpy.std`, ddof 0), as Evidently norms by.
    pub fn std(&self) -> f64 {
        self.std
    }

    /// The cut points the windows count against.
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// Reference and current counts per bin (PSI / Jensen–Shannon / chi-squared bins): the
    /// Sturges bins, or the distinct values and the gaps between them, plus the tails.
    pub fn bin_counts(&self, window: &NumericWindow) -> Result<Vec<(u64, u64)>, DriftError> {
        self.check(window)?;
        let mut start = 0;
        let mut bins = Vec::with_capacity(self.bins.len());
        for bin in &self.bins {
            let sum = |counts: &[u64]| counts[start..bin.end].iter().sum::<u64>();
            let pair = (sum(&self.counts), sum(&window.counts));
            if bin.keep_empty || pair != (0, 0) {
                bins.push(pair);
            }
            start = bin.end;
        }
        Ok(bins)
    }

    /// [`NumericReference::bin_counts`] with each bin's range as text (`12.5 – 25`, `< 0`, `3`),
    /// for showing the two distributions side by side.
    pub fn labelled_bins(&self, window: &NumericWindow) -> Result<Vec<(String, u64, u64)>, DriftError> {
        self.check(window)?;
        let edges = &self.edges;
        let lower = |cell: usize| match cell {
            0 => None,
            c if c % 2 == 1 => edges.get((c - 1) / 2).copied(),
            c => edges.get(c / 2 - 1).copied(),
        };
        let upper = |cell: usize| {
            if cell % 2 == 1 { edges.get((cell - 1) / 2).copied() } else { edges.get(cell / 2).copied() }
        };
        let mut start = 0;
        let mut bins = Vec::with_capacity(self.bins.len());
        for bin in &self.bins {
            let sum = |counts: &[u64]| counts[start..bin.end].iter().sum::<u64>();
            let pair = (sum(&self.counts), sum(&window.counts));
            if bin.keep_empty || pair != (0, 0) {
                let label = match (lower(start), upper(bin.end - 1)) {
                    (Some(low), Some(high)) if low == high => short(low),
                    (Some(low), Some(high)) => format!("{} – {}", short(low), short(high)),
                    (None, Some(high)) => format!("< {}", short(high)),
                    (Some(low), None) => format!("> {}", short(low)),
                    (None, None) => "all".to_owned(),
                };
                bins.push((label, pair.0, pair.1));
            }
            start = bin.end;
        }
        Ok(bins)
    }

    /// Evidently's default method for this reference and window.
    pub fn default_method(&self, window: &NumericWindow) -> Method {
        let distinct = match self.distinct {
            // Current values between or beyond the reference's: at least one new value per gap.
            Some(known) => known + window.counts.iter().step_by(2).filter(|count| **count > 0).count(),
            None => DISCRETE_MAX + 1,
        };
        Method::default_for(Kind::Numeric, self.count, distinct)
    }

    /// The statistic of `method` for `window` (see each method's notes in the README).
    pub fn statistic(&self, window: &NumericWindow, method: Method) -> Result<f64, DriftError> {
        self.check(window)?;
        if window.count == 0 {
            return Err(DriftError::EmptyWindow);
        }
        Ok(match method {
            Method::Ks => cells::ks(self, window).p_value,
            Method::Wasserstein => {
                let distance = match (&self.sample, &window.sample) {
                    (Some(reference), Some(current)) => {
                        let mut current = current.clone();
                        current.sort_by(f64::total_cmp);
                        crate::stats::wasserstein_distance(reference, &current)
                    }
                    _ => cells::wasserstein(self, window),
                };
                distance / self.std.max(MIN_NORM)
            }
            Method::ChiSquare | Method::Z | Method::JensenShannon | Method::Psi => {
                let bins = self.bin_counts(window)?;
                binned::statistic(method, &bins).unwrap_or(f64::NAN)
            }
        })
    }

    /// The drift verdict for `window`: Evidently's method and threshold unless `options` say
    /// otherwise.
    pub fn verdict(&self, window: &NumericWindow, options: &DriftOptions) -> Result<Verdict, DriftError> {
        self.check(window)?;
        if window.count == 0 {
            return Err(DriftError::EmptyWindow);
        }
        let mut result = Ok(0.0);
        let verdict = Verdict::decide(Kind::Numeric, options, self.default_method(window), |method| {
            result = self.statistic(window, method);
            *result.as_ref().unwrap_or(&f64::NAN)
        })?;
        result.map(|_| verdict)
    }

    fn check(&self, window: &NumericWindow) -> Result<(), DriftError> {
        if window.edges == self.edges { Ok(()) } else { Err(DriftError::ForeignWindow) }
    }
}

/// A number in at most four significant digits, without trailing zeros.
fn short(value: f64) -> String {
    if value != 0.0 && !(1e-3..1e5).contains(&value.abs()) {
        return format!("{value:.2e}");
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let magnitude = value.abs().log10().floor().clamp(-10.0, 10.0) as i32;
    let digits = (3 - magnitude).clamp(0, 6) as usize;
    let text = format!("{value:.digits$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

/// Bins [S_j, S_{j+1}) of the Sturges edges (the last closed, as NumPy), as runs of cells over
/// `edges` (which contain them), with the two tails as their own bins.
fn sturges_bins(edges: &[f64], sturges: &[f64]) -> Vec<Bin> {
    let index = |edge: f64| edges.partition_point(|e| *e < edge);
    let mut bins = vec![Bin { end: 1, keep_empty: false }];
    let last = sturges.len() - 1;
    for (j, edge) in sturges.iter().enumerate().skip(1) {
        let end = if j == last { 2 * index(*edge) + 2 } else { 2 * index(*edge) + 1 };
        bins.push(Bin { end, keep_empty: true });
    }
    bins.push(Bin { end: 2 * edges.len() + 1, keep_empty: false });
    bins
}

#[cfg(test)]
mod tests;
