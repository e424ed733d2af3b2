//! One regression tree as trained and exported: branches compare an `f32` feature value with an
//! `f32` threshold (`x <= threshold` goes left, NaN goes the learnt default way), leaves hold the
//! `f32` value the ONNX model will add.

use super::bins::BinMapper;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Branch {
        feature: u32,
        threshold: f32,
        /// The same split on binned data, for scoring training rows.
        threshold_bin: u8,
        default_left: bool,
        left: u32,
        right: u32,
    },
    Leaf {
        value: f32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
}

impl Tree {
    /// The leaf value for row `row` of raw columns (in the model's feature order).
    pub(crate) fn value(&self, columns: &[&[f32]], row: usize) -> f32 {
        let mut index = 0;
        loop {
            match self.nodes[index] {
                Node::Leaf { value } => return value,
                Node::Branch { feature, threshold, default_left, left, right, .. } => {
                    let x = columns[feature as usize][row];
                    let go_left = if x.is_nan() { default_left } else { x <= threshold };
                    index = if go_left { left } else { right } as usize;
                }
            }
        }
    }

    /// The leaf value for row `row` of the binned training data; the same leaf as [`Tree::value`]
    /// on the raw row, since bins are bounded by the thresholds.
    pub(crate) fn value_binned(&self, columns: &[Vec<u8>], mappers: &[BinMapper], row: usize) -> f32 {
        let mut index = 0;
        loop {
            match self.nodes[index] {
                Node::Leaf { value } => return value,
                Node::Branch { feature, threshold_bin, default_left, left, right, .. } => {
                    let bin = columns[feature as usize][row];
                    let go_left = if mappers[feature as usize].missing_bin() == Some(bin) {
                        default_left
                    } else {
                        bin <= threshold_bin
                    };
                    index = if go_left { left } else { right } as usize;
                }
            }
        }
    }

    pub(crate) fn leaf_values_mut(&mut self) -> impl Iterator<Item = &mut f32> {
        self.nodes.iter_mut().filter_map(|node| match node {
            Node::Leaf { value } => Some(value),
            Node::Branch { .. } => None,
        })
    }
}
