//! Finding a leaf's best split from its histogram: every feature, every bin boundary, and —
//! when the leaf has missing values — both sides for them (LightGBM's default direction).

use super::bins::BinMapper;
use super::histogram::{Bin, Layout};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Split {
    pub(crate) feature: usize,
    /// Rows with a value bin ≤ this go left.
    pub(crate) threshold_bin: u8,
    /// Where a missing value (NaN) goes.
    pub(crate) default_left: bool,
    pub(crate) gain: f64,
    pub(crate) left: Bin,
    pub(crate) right: Bin,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Constraints {
    pub(crate) min_data_in_leaf: u32,
    pub(crate) min_sum_hessian_in_leaf: f64,
    pub(crate) lambda_l2: f64,
}

impl Constraints {
    fn score(&self, sums: Bin) -> f64 {
        sums.grad * sums.grad / (sums.hess + self.lambda_l2)
    }

    fn allows(&self, side: Bin) -> bool {
        side.count >= self.min_data_in_leaf && side.hess >= self.min_sum_hessian_in_leaf
    }

    /// The leaf's output before shrinkage: the Newton step −G / (H + λ).
    pub(crate) fn output(&self, sums: Bin) -> f64 {
        -sums.grad / (sums.hess + self.lambda_l2)
    }
}

/// The best split of a leaf whose rows sum to `total`, or `None` when no split gains. Ties keep
/// the first found (lower feature, missing-right before missing-left, lower bin), so the result
/// does not depend on how histograms were built.
///
/// Scans the features marked in `splittable` and unmarks those with no bin boundary leaving
/// `min_data_in_leaf` rows on both sides: a child's rows are a subset of its parent's, so such a
/// feature cannot split the leaf's descendants either (on small data with few distinct values,
/// most features soon hold one value within a leaf), and their histograms need not be built.
pub(crate) fn best_split(
    hist: &[Bin],
    layout: &Layout,
    mappers: &[BinMapper],
    splittable: &mut [bool],
    total: Bin,
    constraints: &Constraints,
) -> Option<Split> {
    let parent = constraints.score(total);
    let min_count = constraints.min_data_in_leaf;
    let mut best: Option<Split> = None;
    for (feature, (mapper, usable)) in mappers.iter().zip(splittable.iter_mut()).enumerate() {
        if !*usable {
            continue;
        }
        let bins = &hist[layout.range(feature)];
        let value_bins = mapper.value_bins();
        let missing = if mapper.has_missing { bins[value_bins] } else { Bin::default() };
        let mut any_allowed = false;
        for missing_left in [false, true] {
            if missing_left && missing.count == 0 {
                continue;
            }
            let mut left = if missing_left { missing } else { Bin::default() };
            for (threshold, &bin) in bins[..value_bins].iter().enumerate() {
                left = left.add(bin);
                let right = total.sub(left);
                any_allowed |= left.count >= min_count && right.count >= min_count;
                if !constraints.allows(left) || !constraints.allows(right) {
                    continue;
                }
                let gain = constraints.score(left) + constraints.score(right) - parent;
                if gain > best.map_or(0.0, |best| best.gain) {
                    // With no missing value here, NaN at prediction follows the larger child.
                    let default_left =
                        if missing.count > 0 { missing_left } else { left.count >= right.count };
                    best = Some(Split {
                        feature,
                        threshold_bin: threshold as u8,
                        default_left,
                        gain,
                        left,
                        right,
                    });
                }
            }
        }
        *usable = any_allowed;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_that_cannot_split_the_leaf_is_dropped_for_its_descendants() {
        let mappers = [
            BinMapper { upper: vec![1.5, 2.5, f32::INFINITY], has_missing: false },
            BinMapper { upper: vec![0.5, f32::INFINITY], has_missing: true },
        ];
        let layout = Layout::new(&mappers);
        let bin = |grad: f64, count: u32| Bin { grad, hess: f64::from(count), count };
        let mut hist = vec![Bin::default(); layout.len()];
        // Feature 0 holds one value in this leaf; feature 1 separates the gradients.
        hist[layout.range(0)][1] = bin(0.0, 40);
        hist[layout.range(1)].copy_from_slice(&[bin(-20.0, 20), bin(20.0, 20), Bin::default()]);
        let constraints = Constraints { min_data_in_leaf: 20, min_sum_hessian_in_leaf: 1e-3, lambda_l2: 0.0 };
        let mut splittable = [true, true];
        let split =
            best_split(&hist, &layout, &mappers, &mut splittable, bin(0.0, 40), &constraints).unwrap();
        assert_eq!((split.feature, split.threshold_bin, split.left.count), (1, 0, 20));
        assert_eq!(splittable, [false, true]);
    }
}
