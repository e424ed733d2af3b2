//! Growing one tree leaf-wise (best-first, as LightGBM): split the leaf whose best split gains
//! most until `num_leaves` or nothing gains. Each leaf's rows are a contiguous range of one index
//! array; a split partitions its range in place. Only the smaller child's histogram is summed,
//! the larger one is the parent's minus it. Histograms come from a pool and go back to it, so a
//! tree allocates none once the first trees have grown.

use super::bins::Binned;
use super::histogram::{self, Bin, GradHess, Layout, Rows};
use super::split::{Constraints, Split, best_split};
use super::tree::{Node, Tree};

pub(crate) struct Grower<'a> {
    binned: &'a Binned,
    layout: Layout,
    constraints: Constraints,
    num_leaves: usize,
    max_depth: Option<usize>,
    threads: usize,
    /// Row indices, grouped by leaf.
    indices: Vec<u32>,
    scratch: Vec<u32>,
    ordered: Vec<GradHess>,
    free: Vec<Vec<Bin>>,
    /// Per leaf (by its index in the growing tree), the features that may still split it:
    /// `leaves × features`, kept between trees.
    masks: Vec<bool>,
}

/// A leaf while the tree grows.
struct Leaf {
    node: usize,
    start: usize,
    end: usize,
    sums: Bin,
    depth: usize,
    hist: Option<Vec<Bin>>,
    split: Option<Split>,
}

/// A grown tree (leaf values before shrinkage) and, per leaf, its node and its rows' range in
/// [`Grower::rows`].
pub(crate) struct Grown {
    pub(crate) tree: Tree,
    pub(crate) leaves: Vec<(usize, usize, usize)>,
}

impl<'a> Grower<'a> {
    pub(crate) fn new(
        binned: &'a Binned,
        constraints: Constraints,
        num_leaves: usize,
        max_depth: Option<usize>,
        threads: usize,
    ) -> Self {
        Self {
            binned,
            layout: Layout::new(&binned.mappers),
            constraints,
            num_leaves,
            max_depth,
            threads,
            indices: Vec::new(),
            scratch: Vec::new(),
            ordered: Vec::new(),
            free: Vec::new(),
            masks: Vec::new(),
        }
    }

    pub(crate) fn rows(&self, start: usize, end: usize) -> &[u32] {
        &self.indices[start..end]
    }

    /// Grows a tree on `bag` (every row when `None`) with the features marked `active`.
    pub(crate) fn grow(&mut self, gradients: &[GradHess], bag: Option<&[u32]>, active: &[bool]) -> Grown {
        self.indices.clear();
        match bag {
            Some(bag) => self.indices.extend_from_slice(bag),
            None => self.indices.extend(0..gradients.len() as u32),
        }
        let mut sums = Bin::default();
        for &row in &self.indices {
            let gh = gradients[row as usize];
            sums = sums.add(Bin { grad: f64::from(gh.grad), hess: f64::from(gh.hess), count: 1 });
        }
        let features = active.len();
        let mut masks = std::mem::take(&mut self.masks);
        masks.clear();
        masks.resize(self.num_leaves.max(1) * features, false);
        // A feature with a single bin never splits.
        for ((mask, &used), mapper) in masks.iter_mut().zip(active).zip(&self.binned.mappers) {
            *mask = used && mapper.value_bins() + usize::from(mapper.has_missing) > 1;
        }
        let mut hist = self.take_hist();
        let root_mask = &masks[..features];
        if bag.is_none() {
            let rows = Rows::All(gradients);
            histogram::build(&mut hist, &self.layout, &self.binned.columns, root_mask, rows, self.threads);
        } else {
            self.build(&mut hist, gradients, 0, self.indices.len(), root_mask);
        }
        let mut nodes = vec![Node::Leaf { value: 0.0 }];
        let mut leaves = vec![Leaf {
            node: 0,
            start: 0,
            end: self.indices.len(),
            sums,
            depth: 0,
            hist: None,
            split: None,
        }];
        self.consider(&mut leaves[0], hist, &mut masks[..features]);

        while leaves.len() < self.num_leaves {
            let Some(chosen) = best_leaf(&leaves) else { break };
            let leaf = &mut leaves[chosen];
            let (Some(split), Some(mut parent_hist)) = (leaf.split.take(), leaf.hist.take()) else { break };
            let (start, end, depth, node) = (leaf.start, leaf.end, leaf.depth, leaf.node);
            let middle = self.partition(&split, start, end);

            let (left_node, right_node) = (nodes.len(), nodes.len() + 1);
            let mapper = &self.binned.mappers[split.feature];
            nodes[node] = Node::Branch {
                feature: split.feature as u32,
                threshold: mapper.upper[split.threshold_bin as usize],
                threshold_bin: split.threshold_bin,
                default_left: split.default_left,
                left: left_node as u32,
                right: right_node as u32,
            };
            nodes.push(Node::Leaf { value: 0.0 });
            nodes.push(Node::Leaf { value: 0.0 });

            let mut left = Leaf {
                node: left_node,
                start,
                end: middle,
                sums: split.left,
                depth: depth + 1,
                hist: None,
                split: None,
            };
            let mut right = Leaf {
                node: right_node,
                start: middle,
                end,
                sums: split.right,
                depth: depth + 1,
                hist: None,
                split: None,
            };
            let (small, large) = if middle - start <= end - middle {
                (&mut left, &mut right)
            } else {
                (&mut right, &mut left)
            };
            // Both children start with the parent's features: the left one keeps its slot.
            let (parent_slot, right_slot) = (chosen * features, leaves.len() * features);
            masks.copy_within(parent_slot..parent_slot + features, right_slot);
            let parent_mask = &masks[parent_slot..parent_slot + features];
            let mut small_hist = self.take_hist();
            self.build(&mut small_hist, gradients, small.start, small.end, parent_mask);
            histogram::subtract(&mut parent_hist, &small_hist, &self.layout, parent_mask);
            let (left_mask, right_mask) = masks.split_at_mut(right_slot);
            let left_mask = &mut left_mask[parent_slot..parent_slot + features];
            let right_mask = &mut right_mask[..features];
            let (small_mask, large_mask) = if middle - start <= end - middle {
                (left_mask, right_mask)
            } else {
                (right_mask, left_mask)
            };
            self.consider(small, small_hist, small_mask);
            self.consider(large, parent_hist, large_mask);
            leaves[chosen] = left;
            leaves.push(right);
        }

        self.masks = masks;
        for leaf in &mut leaves {
            if let Some(hist) = leaf.hist.take() {
                self.free.push(hist);
            }
            nodes[leaf.node] = Node::Leaf { value: self.constraints.output(leaf.sums) as f32 };
        }
        Grown {
            tree: Tree { nodes },
            leaves: leaves.iter().map(|leaf| (leaf.node, leaf.start, leaf.end)).collect(),
        }
    }

    /// Finds the leaf's best split when it may split, keeping its histogram only then.
    fn consider(&mut self, leaf: &mut Leaf, hist: Vec<Bin>, mask: &mut [bool]) {
        let deep_enough = self.max_depth.is_some_and(|max| leaf.depth >= max);
        let big_enough = leaf.sums.count >= 2 * self.constraints.min_data_in_leaf;
        leaf.split = if deep_enough || !big_enough {
            None
        } else {
            best_split(&hist, &self.layout, &self.binned.mappers, mask, leaf.sums, &self.constraints)
        };
        if leaf.split.is_some() {
            leaf.hist = Some(hist);
        } else {
            self.free.push(hist);
        }
    }

    fn build(&mut self, hist: &mut [Bin], gradients: &[GradHess], start: usize, end: usize, active: &[bool]) {
        let rows = &self.indices[start..end];
        self.ordered.clear();
        self.ordered.extend(rows.iter().map(|&row| gradients[row as usize]));
        let rows = Rows::Some { rows, ordered: &self.ordered };
        histogram::build(hist, &self.layout, &self.binned.columns, active, rows, self.threads);
    }

    /// Stable in-place partition of `indices[start..end]`: left rows first. Returns where the
    /// right rows begin.
    fn partition(&mut self, split: &Split, start: usize, end: usize) -> usize {
        let column = &self.binned.columns[split.feature];
        let missing = self.binned.mappers[split.feature].missing_bin();
        self.scratch.clear();
        let mut middle = start;
        for position in start..end {
            let row = self.indices[position];
            let bin = column[row as usize];
            let go_left = if Some(bin) == missing { split.default_left } else { bin <= split.threshold_bin };
            if go_left {
                self.indices[middle] = row;
                middle += 1;
            } else {
                self.scratch.push(row);
            }
        }
        self.indices[middle..end].copy_from_slice(&self.scratch);
        middle
    }

    fn take_hist(&mut self) -> Vec<Bin> {
        self.free.pop().unwrap_or_else(|| vec![Bin::default(); self.layout.len()])
    }
}

/// The leaf whose split gains most (the first on a tie).
fn best_leaf(leaves: &[Leaf]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (index, leaf) in leaves.iter().enumerate() {
        if let Some(split) = &leaf.split
            && best.is_none_or(|(_, gain)| split.gain > gain)
        {
            best = Some((index, split.gain));
        }
    }
    best.map(|(index, _)| index)
}
