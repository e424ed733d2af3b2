//! Quantile binning: each feature's values become `u8` bin indices, so histograms have at most
//! 256 entries per feature and the data the trees scan is a quarter of the raw floats.
//!
//! A bin is `upper[b - 1] < x <= upper[b]` with `f32` bounds, so "bin ≤ b" is exactly
//! "x <= upper[b]" in `f32`: the threshold the ONNX model compares with sends every row the way
//! training did.

use std::thread;

/// Rows read to place bin bounds (as LightGBM's `bin_construct_sample_cnt`): quantiles of 200k
/// rows are as good as of all of them, and sorting them is cheap.
const SAMPLE_ROWS: usize = 200_000;

#[derive(Debug, Clone)]
pub(crate) struct BinMapper {
    /// Upper bound of each value bin, increasing; the last is +∞.
    pub(crate) upper: Vec<f32>,
    /// The feature had NaN in training: they get bin `upper.len()`.
    pub(crate) has_missing: bool,
}

impl BinMapper {
    pub(crate) fn value_bins(&self) -> usize {
        self.upper.len()
    }

    pub(crate) fn missing_bin(&self) -> Option<u8> {
        self.has_missing.then_some(self.upper.len() as u8)
    }

    fn bin(&self, value: f32) -> u8 {
        if value.is_nan() {
            // Only reached when `has_missing`, which the column's own scan decided.
            self.upper.len() as u8
        } else {
            self.upper.partition_point(|&upper| upper < value) as u8
        }
    }

    fn fit(column: &[f32], max_bin: usize) -> Self {
        let has_missing = column.iter().any(|value| value.is_nan());
        let step = column.len().div_ceil(SAMPLE_ROWS).max(1);
        let mut sample: Vec<f32> =
            column.iter().step_by(step).copied().filter(|value| !value.is_nan()).collect();
        sample.sort_unstable_by(f32::total_cmp);
        let mut distinct: Vec<(f32, usize)> = Vec::new();
        for value in sample {
            match distinct.last_mut() {
                // -0.0 and 0.0 compare equal in `<=`, so they share a bin.
                Some((last, count)) if *last == value => *count += 1,
                _ => distinct.push((value, 1)),
            }
        }
        let total: usize = distinct.iter().map(|(_, count)| count).sum();
        let per_bin = total as f64 / max_bin as f64;
        let mut upper = Vec::new();
        let mut seen = 0usize;
        for pair in distinct.windows(2) {
            if upper.len() + 1 >= max_bin {
                break;
            }
            seen += pair[0].1;
            // Few distinct values: one bin each. Otherwise cut when a bin's share is reached.
            if distinct.len() <= max_bin || seen as f64 >= (upper.len() + 1) as f64 * per_bin {
                upper.push(midpoint(pair[0].0, pair[1].0));
            }
        }
        upper.push(f32::INFINITY);
        Self { upper, has_missing }
    }
}

/// A bound between two neighbouring values `low < high`: their midpoint in `f32`, kept in
/// `[low, high)` so that `low` falls at or below it and `high` above.
fn midpoint(low: f32, high: f32) -> f32 {
    let mid = ((f64::from(low) + f64::from(high)) / 2.0) as f32;
    if mid >= low && mid < high { mid } else { low }
}

/// The binned training data, column-major.
pub(crate) struct Binned {
    pub(crate) mappers: Vec<BinMapper>,
    pub(crate) columns: Vec<Vec<u8>>,
}

impl Binned {
    pub(crate) fn new(columns: &[Vec<f32>], max_bin: usize, threads: usize) -> Self {
        let bin_one = |column: &Vec<f32>| {
            let mapper = BinMapper::fit(column, max_bin);
            let binned = column.iter().map(|&value| mapper.bin(value)).collect::<Vec<u8>>();
            (mapper, binned)
        };
        let results: Vec<(BinMapper, Vec<u8>)> = if threads <= 1 {
            columns.iter().map(bin_one).collect()
        } else {
            let chunk = columns.len().div_ceil(threads);
            thread::scope(|scope| {
                let handles: Vec<_> = columns
                    .chunks(chunk)
                    .map(|part| scope.spawn(move || part.iter().map(bin_one).collect::<Vec<_>>()))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                    .collect()
            })
        };
        let (mappers, columns) = results.into_iter().unzip();
        Self { mappers, columns }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_a_bin_each_and_bounds_separate_them() {
        let column = vec![3.0, 1.0, 2.0, 1.0, f32::NAN, 3.0];
        let mapper = BinMapper::fit(&column, 255);
        assert_eq!(mapper.upper, vec![1.5, 2.5, f32::INFINITY]);
        assert!(mapper.has_missing);
        let bins: Vec<u8> = column.iter().map(|&value| mapper.bin(value)).collect();
        assert_eq!(bins, vec![2, 0, 1, 0, 3, 2]);
    }

    #[test]
    fn many_values_are_cut_into_at_most_max_bin_bins_by_quantile() {
        let column: Vec<f32> = (0..10_000).map(|i| (i % 1000) as f32).collect();
        let mapper = BinMapper::fit(&column, 10);
        assert_eq!(mapper.value_bins(), 10);
        let mut counts = [0usize; 10];
        for &value in &column {
            counts[mapper.bin(value) as usize] += 1;
        }
        assert!(counts.iter().all(|&count| (900..=1100).contains(&count)), "{counts:?}");
    }

    #[test]
    fn bounds_agree_with_f32_comparison() {
        let column: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.37).sin() * 1e3).collect();
        let mapper = BinMapper::fit(&column, 64);
        for &value in &column {
            let bin = mapper.bin(value) as usize;
            for (b, &upper) in mapper.upper.iter().enumerate() {
                assert_eq!(bin <= b, value <= upper);
            }
        }
    }
}
