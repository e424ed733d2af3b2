//! Bin edges and the cells they cut the line into.
//!
//! Edges e₀ < … < e_{k−1} make 2k + 1 cells: (−∞, e₀), {e₀}, (e₀, e₁), {e₁}, …, {e_{k−1}},
//! (e_{k−1}, ∞). Every edge is also a point cell, so any bin [eᵢ, eⱼ) NumPy would count is a run
//! of cells, and the CDF is known exactly at and just below every edge (what K–S needs).

/// The cell of a finite `x`: one binary search over the edges.
#[inline]
pub(crate) fn cell(edges: &[f64], x: f64) -> usize {
    let i = edges.partition_point(|edge| *edge < x);
    if edges.get(i).is_some_and(|edge| *edge == x) { 2 * i + 1 } else { 2 * i }
}

/// `numpy.histogram_bin_edges(values, bins="sturges")` for values spanning [min, max] with `n`
/// values: ⌈ptp / (ptp / (log₂ n + 1))⌉ equal bins, edges as `numpy.linspace` computes them.
pub(crate) fn sturges(min: f64, max: f64, n: usize) -> Vec<f64> {
    let (first, last) = if min == max { (min - 0.5, max + 0.5) } else { (min, max) };
    let ptp = max - min;
    let width = ptp / ((n as f64).log2() + 1.0);
    let bins = if width > 0.0 { ((last - first) / width).ceil() as usize } else { 1 };
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + first).collect();
    if let Some(end) = edges.last_mut() {
        *end = last;
    }
    edges
}

/// Sorted union of two sorted edge lists, without repeats.
pub(crate) fn union(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(f64::total_cmp);
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fall_in_point_and_open_cells() {
        let edges = [0.0, 1.0, 2.0];
        assert_eq!(cell(&edges, -1.0), 0);
        assert_eq!(cell(&edges, 0.0), 1);
        assert_eq!(cell(&edges, 0.5), 2);
        assert_eq!(cell(&edges, 2.0), 5);
        assert_eq!(cell(&edges, 7.0), 6);
    }

    #[test]
    fn sturges_matches_numpy() {
        // np.histogram_bin_edges(np.arange(100.0), bins="sturges"): 8 bins of 99/8.
        let edges = sturges(0.0, 99.0, 100);
        assert_eq!(edges.len(), 9);
        assert_eq!(edges[1], 12.375);
        assert_eq!(sturges(3.0, 3.0, 10), vec![2.5, 3.5]);
    }
}
