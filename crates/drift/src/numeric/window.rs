use serde::{Deserialize, Serialize};

use super::edges::cell;
use crate::DriftError;

/// Values kept verbatim while a window holds no more than this many: small windows then get
/// exact Wasserstein distances; larger ones drop the copy (memory stays bounded).
pub const SAMPLE_CAP: usize = 1000;

/// The current values of one numeric feature, as counts over its reference's cells: memory is
/// the reference's edge count (≤ a few hundred) plus [`SAMPLE_CAP`] values, whatever the rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericWindow {
    pub(crate) edges: Vec<f64>,
    pub(crate) counts: Vec<u64>,
    pub(crate) count: u64,
    pub(crate) missing: u64,
    /// Sums of the values below the first and above the last edge: the reference has no mass
    /// there, so these make the Wasserstein tails exact.
    pub(crate) sum_below: f64,
    pub(crate) sum_above: f64,
    /// Every value so far while there are at most [`SAMPLE_CAP`], else none.
    pub(crate) sample: Option<Vec<f64>>,
}

impl NumericWindow {
    pub(crate) fn new(edges: Vec<f64>) -> Self {
        let counts = vec![0; 2 * edges.len() + 1];
        NumericWindow {
            edges,
            counts,
            count: 0,
            missing: 0,
            sum_below: 0.0,
            sum_above: 0.0,
            sample: Some(Vec::new()),
        }
    }

    /// One value; NaN and ±∞ count as missing (Evidently drops them before testing).
    #[inline]
    pub fn add(&mut self, value: f64) {
        if !value.is_finite() {
            self.missing += 1;
            return;
        }
        let cell = cell(&self.edges, value);
        self.counts[cell] += 1;
        if cell == 0 {
            self.sum_below += value;
        } else if cell == self.counts.len() - 1 {
            self.sum_above += value;
        }
        self.count += 1;
        if let Some(sample) = &mut self.sample {
            if sample.len() < SAMPLE_CAP {
                sample.push(value);
            } else {
                self.sample = None;
            }
        }
    }

    pub fn add_many(&mut self, values: &[f64]) {
        for &value in values {
            self.add(value);
        }
    }

    /// Adds another window of the same reference (e.g. per-partition windows into one).
    pub fn merge(&mut self, other: &NumericWindow) -> Result<(), DriftError> {
        if self.edges != other.edges {
            return Err(DriftError::ForeignWindow);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.count += other.count;
        self.missing += other.missing;
        self.sum_below += other.sum_below;
        self.sum_above += other.sum_above;
        self.sample = match (self.sample.take(), &other.sample) {
            (Some(mut mine), Some(theirs)) if mine.len() + theirs.len() <= SAMPLE_CAP => {
                mine.extend_from_slice(theirs);
                Some(mine)
            }
            _ => None,
        };
        Ok(())
    }

    /// Finite values added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// NaN and infinite values added.
    pub fn missing(&self) -> u64 {
        self.missing
    }
}
