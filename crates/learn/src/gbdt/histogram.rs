//! Gradient histograms: per feature and bin, the sums of gradients and hessians and the row
//! count of a leaf's rows. Each feature gets as many bins as its mapper made (a feature with a
//! dozen distinct values has a dozen), laid end to end in one buffer per leaf: small data with
//! few distinct values then clears, subtracts and scans a few hundred bins per leaf, not
//! `features × 256`. A feature with many bins gets all 256, so that its hot loop indexes with
//! a `u8` and no bounds check.
//!
//! Built feature-parallel: each feature's histogram is summed by exactly one thread in row
//! order, so the sums — and the model — are the same for any number of threads.

use std::ops::{IndexMut, Range};
use std::thread;

use super::bins::BinMapper;

/// Every bin a `u8` index can name.
const FULL: usize = 256;
/// Features with more bins than this get [`FULL`] bins.
const FULL_FROM: usize = 64;

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

/// Where each feature's bins sit in a leaf's histogram buffer.
pub(crate) struct Layout {
    /// Feature `f` owns `offsets[f]..offsets[f + 1]`.
    offsets: Vec<usize>,
}

impl Layout {
    pub(crate) fn new(mappers: &[BinMapper]) -> Self {
        let mut offsets = Vec::with_capacity(mappers.len() + 1);
        let mut end = 0;
        offsets.push(end);
        for mapper in mappers {
            let bins = mapper.value_bins() + usize::from(mapper.has_missing);
            end += if bins > FULL_FROM { FULL } else { bins };
            offsets.push(end);
        }
        Self { offsets }
    }

    /// Bins in one leaf's histogram.
    pub(crate) fn len(&self) -> usize {
        self.offsets[self.offsets.len() - 1]
    }

    pub(crate) fn range(&self, feature: usize) -> Range<usize> {
        self.offsets[feature]..self.offsets[feature + 1]
    }

    /// The features with the bins of each, in feature order.
    fn parts<'h>(&self, hist: &'h mut [Bin]) -> impl Iterator<Item = &'h mut [Bin]> + use<'h, '_> {
        let mut rest = hist;
        self.offsets.windows(2).map(move |pair| {
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(pair[1] - pair[0]);
            rest = tail;
            part
        })
    }
}

/// Fills `hist` (laid out by `layout`, zeroed here) for the features marked `active`.
pub(crate) fn build(
    hist: &mut [Bin],
    layout: &Layout,
    columns: &[Vec<u8>],
    active: &[bool],
    rows: Rows<'_>,
    threads: usize,
) {
    let features: Vec<usize> = (0..columns.len()).filter(|&feature| active[feature]).collect();
    if threads <= 1 || features.len() < 2 {
        for (feature, part) in layout.parts(hist).enumerate() {
            if active[feature] {
                build_feature(part, &columns[feature], rows);
            }
        }
        return;
    }
    // Contiguous runs of features with about the same number of active ones per thread.
    let per_thread = features.len().div_ceil(threads);
    let mut parts: Vec<Option<&mut [Bin]>> = layout.parts(hist).map(Some).collect();
    thread::scope(|scope| {
        for group in features.chunks(per_thread) {
            let mine: Vec<(usize, &mut [Bin])> =
                group.iter().filter_map(|&feature| Some((feature, parts[feature].take()?))).collect();
            scope.spawn(move || {
                for (feature, part) in mine {
                    build_feature(part, &columns[feature], rows);
                }
            });
        }
    });
}

fn build_feature(hist: &mut [Bin], column: &[u8], rows: Rows<'_>) {
    hist.fill(Bin::default());
    match <&mut [Bin; FULL]>::try_from(&mut *hist) {
        Ok(full) => sum(full, column, rows),
        // Every bin index in the column is below the feature's bin count, the length of `hist`.
        Err(_) => sum(hist, column, rows),
    }
}

fn sum<H: IndexMut<usize, Output = Bin> + ?Sized>(hist: &mut H, column: &[u8], rows: Rows<'_>) {
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
pub(crate) fn subtract(parent: &mut [Bin], child: &[Bin], layout: &Layout, active: &[bool]) {
    for (feature, &used) in active.iter().enumerate() {
        if used {
            let range = layout.range(feature);
            for (parent, child) in parent[range.clone()].iter_mut().zip(&child[range]) {
                *parent = parent.sub(*child);
            }
        }
    }
}
