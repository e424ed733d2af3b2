//! K–S and Wasserstein from cell counts.

use super::NumericReference;
use super::window::NumericWindow;
use crate::stats::{Ks, ks_p_value};

/// The K–S statistic is the largest CDF gap after each cell. Exact when every reference value
/// is an edge (references of ≤ 1000 values): the reference CDF is then flat inside open cells,
/// so the gap peaks at a cell's end. For larger references it is the largest gap at the edges
/// (a lower bound, within the ~1 % of mass between two quantile edges).
pub(crate) fn ks(reference: &NumericReference, window: &NumericWindow) -> Ks {
    let (n1, n2) = (reference.count as f64, window.count as f64);
    let (mut r, mut c) = (0u64, 0u64);
    let mut d: f64 = 0.0;
    for (ref_count, cur_count) in reference.counts.iter().zip(&window.counts) {
        r += ref_count;
        c += cur_count;
        d = d.max((r as f64 / n1 - c as f64 / n2).abs());
    }
    ks_p_value(d, reference.count, window.count)
}

/// ∫ |F_ref − F_cur| with each open cell's mass spread evenly over it (CDFs linear inside),
/// point cells as point masses, and the tails exact from the window's sums beyond the edges.
pub(crate) fn wasserstein(reference: &NumericReference, window: &NumericWindow) -> f64 {
    let edges = &reference.edges;
    let (n1, n2) = (reference.count as f64, window.count as f64);
    let last = window.counts.len() - 1;
    let (Some(first_edge), Some(last_edge)) = (edges.first(), edges.last()) else {
        return f64::NAN;
    };
    // Below the first edge the reference has no mass: ∫ F_cur = Σ (e₀ − x) / n.
    let mut area = (window.counts[0] as f64 * first_edge - window.sum_below) / n2;
    // Beyond the last edge the reference CDF is 1: ∫ (1 − F_cur) = Σ (x − e_last) / n.
    area += (window.sum_above - window.counts[last] as f64 * last_edge) / n2;
    let (mut r, mut c) = (0u64, window.counts[0]);
    for i in 0..edges.len() {
        // Point cell {eᵢ}: a jump, no width.
        r += reference.counts[2 * i + 1];
        c += window.counts[2 * i + 1];
        let Some(next) = edges.get(i + 1) else { break };
        let width = next - edges[i];
        let start = r as f64 / n1 - c as f64 / n2;
        r += reference.counts[2 * i + 2];
        c += window.counts[2 * i + 2];
        let end = r as f64 / n1 - c as f64 / n2;
        area += width * linear_abs_mean(start, end);
    }
    area
}

/// The mean of |d| over a segment where d goes linearly from `a` to `b`.
fn linear_abs_mean(a: f64, b: f64) -> f64 {
    if a * b >= 0.0 { (a.abs() + b.abs()) / 2.0 } else { (a * a + b * b) / (2.0 * (a.abs() + b.abs())) }
}
