//! Gradient histograms: per feature and bin, the sums of gradients and hessians and the row
//! count of a leaf's rows. Every feature gets 256 bins (a `u8` bin index needs no bounds check);
//! a leaf's histogram is `features × 256` bins in one buffer.
//!
//! Built feature-parallel: each feature's histogram is summed by exactly one thread in row
//! order, so the sums — and the model — are the same for any number of threads.

use std::thread;

pub(crate) const BINS: usize = 256;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Bin {
    pub(crate) grad: f64,
    pub(crate) hess: f64,
    pub(crate) count: u32,
}

impl Bin {
    pub(crate) fn sub(self, other: Bin) -> Bin {
        Bin { grad: self.grad - other.grad, hess: self.hess - other.hess, count: self.count - other.count }
    }

    pub(crate) fn add(self, other: Bin) -> Bin {
        Bin { grad: self.grad + other.grad, hess: self.hess + other.hess, count: self.count + other.count }
    }
}

/// A row's gradient and hessian, `f32` to halve the bytes the histogram loop reads.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GradHess {
    pub(crate) grad: f32,
    pub(crate) hess: f32,
}

/// The rows a histogram sums: every row in order (the root without bagging), or a leaf's rows
/// with their gradients gathered into the same order (contiguous reads in the hot loop).
#[derive(Clone, Copy)]
pub(crate) enum Rows<'a> {
    All(&'a [GradHess]),
    Some { rows: &'a [u32], ordered: &'a [GradHess] },
}

/// Fills `hist` (`columns.len() × 256`, zeroed here) for the features marked `active`.
pub(crate) fn build(hist: &mut [Bin], columns: &[Vec<u8>], active: &[bool], rows: Rows<'_>, threads: usize) {
    let features: Vec<usize> = (0..columns.len()).filter(|&feature| active[feature]).collect();
    if threads <= 1 || features.len() < 2 {
        for (feature, part) in hist.chunks_mut(BINS).enumerate() {
            if active[feature] {
                build_feature(part, &columns[feature], rows);
            }
        }
        return;
    }
    // Contiguous runs of features with about the same number of active ones per thread.
    let per_thread = features.len().div_ceil(threads);
    thread::scope(|scope| {
        let mut rest = hist;
        let mut start = 0;
        for group in features.chunks(per_thread) {
            let end = group[group.len() - 1] + 1;
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut((end - start) * BINS);
            rest = tail;
            let first = start;
            scope.spawn(move || {
                for (offset, part) in mine.chunks_mut(BINS).enumerate() {
                    let feature = first + offset;
                    if active[feature] {
                        build_feature(part, &columns[feature], rows);
                    }
                }
            });
            start = end;
        }
    });
}

fn build_feature(part: &mut [Bin], column: &[u8], rows: Rows<'_>) {
    let Ok(hist) = <&mut [Bin; BINS]>::try_from(part) else { return };
    hist.fill(Bin::default());
    match rows {
        Rows::All(gradients) => {
            for (&bin, gh) in column.iter().zip(gradients) {
                accumulate(&mut hist[bin as usize], *gh);
            }
        }
        Rows::Some { rows, ordered } => {
            for (&row, gh) in rows.iter().zip(ordered) {
                accumulate(&mut hist[column[row as usize] as usize], *gh);
            }
        }
    }
}

#[inline(always)]
fn accumulate(bin: &mut Bin, gh: GradHess) {
    bin.grad += f64::from(gh.grad);
    bin.hess += f64::from(gh.hess);
    bin.count += 1;
}

/// `parent` becomes the larger child's histogram: parent − smaller child (LightGBM's histogram
/// subtraction, which halves the rows scanned per split).
pub(crate) fn subtract(parent: &mut [Bin], child: &[Bin], active: &[bool]) {
    for ((feature, parent), child) in parent.chunks_mut(BINS).enumerate().zip(child.chunks(BINS)) {
        if active[feature] {
            for (parent, child) in parent.iter_mut().zip(child) {
                *parent = parent.sub(*child);
            }
        }
    }
}
