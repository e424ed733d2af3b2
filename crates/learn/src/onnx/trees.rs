//! A boosted ensemble as `TreeEnsembleRegressor` / `TreeEnsembleClassifier` (ai.onnx.ml 3).
//!
//! Binary classification is one score per row with two class labels and `LOGISTIC`, which ONNX
//! Runtime writes as `[1 − p, p]`; the prior is already in the first trees' leaves, so there are
//! no `base_values` (whose binary handling differs between runtimes).

use super::graph::{self, Scorer, floats, int, ints, string, strings};
use crate::gbdt::tree::{Node, Tree};
use crate::{GbdtModel, Task};

/// The columns of the operator's node and leaf attributes, filled tree by tree.
#[derive(Default)]
struct Columns {
    tree_ids: Vec<i64>,
    node_ids: Vec<i64>,
    feature_ids: Vec<i64>,
    modes: Vec<String>,
    values: Vec<f32>,
    true_ids: Vec<i64>,
    false_ids: Vec<i64>,
    missing_tracks_true: Vec<i64>,
    leaf_tree_ids: Vec<i64>,
    leaf_node_ids: Vec<i64>,
    leaf_output_ids: Vec<i64>,
    leaf_weights: Vec<f32>,
}

impl Columns {
    fn add(&mut self, tree_id: i64, output: i64, tree: &Tree) {
        for (node_id, node) in tree.nodes.iter().enumerate() {
            self.tree_ids.push(tree_id);
            self.node_ids.push(node_id as i64);
            match *node {
                Node::Branch { feature, threshold, default_left, left, right, .. } => {
                    self.feature_ids.push(i64::from(feature));
                    self.modes.push("BRANCH_LEQ".into());
                    self.values.push(threshold);
                    self.true_ids.push(i64::from(left));
                    self.false_ids.push(i64::from(right));
                    self.missing_tracks_true.push(i64::from(default_left));
                }
                Node::Leaf { value } => {
                    self.feature_ids.push(0);
                    self.modes.push("LEAF".into());
                    self.values.push(0.0);
                    self.true_ids.push(0);
                    self.false_ids.push(0);
                    self.missing_tracks_true.push(0);
                    self.leaf_tree_ids.push(tree_id);
                    self.leaf_node_ids.push(node_id as i64);
                    self.leaf_output_ids.push(output);
                    self.leaf_weights.push(value);
                }
            }
        }
    }
}

pub(crate) fn export(model: &GbdtModel) -> Vec<u8> {
    let outputs = model.task.outputs();
    let mut columns = Columns::default();
    for (index, tree) in model.trees.iter().enumerate() {
        columns.add(index as i64, (index % outputs) as i64, tree);
    }
    if model.task == Task::Binary && columns.leaf_weights.iter().all(|&weight| weight >= 0.0) {
        // ONNX Runtime decides a binary label by score > 0.5 instead of > 0 when no leaf weight
        // is negative. A tree that always adds +0 (its negative leaf is unreachable: every
        // number is ≤ +∞ and NaN goes the same way) keeps the usual rule.
        let guard = Tree {
            nodes: vec![
                Node::Branch {
                    feature: 0,
                    threshold: f32::INFINITY,
                    threshold_bin: 0,
                    default_left: true,
                    left: 1,
                    right: 2,
                },
                Node::Leaf { value: 0.0 },
                Node::Leaf { value: -1.0 },
            ],
        };
        columns.add(model.trees.len() as i64, 0, &guard);
    }

    let regression = model.task == Task::Regression;
    let prefix = if regression { "target" } else { "class" };
    let mut attributes = vec![
        ints("nodes_treeids", columns.tree_ids),
        ints("nodes_nodeids", columns.node_ids),
        ints("nodes_featureids", columns.feature_ids),
        strings("nodes_modes", columns.modes),
        floats("nodes_values", columns.values),
        ints("nodes_truenodeids", columns.true_ids),
        ints("nodes_falsenodeids", columns.false_ids),
        ints("nodes_missing_value_tracks_true", columns.missing_tracks_true),
        ints(&format!("{prefix}_treeids"), columns.leaf_tree_ids),
        ints(&format!("{prefix}_nodeids"), columns.leaf_node_ids),
        ints(&format!("{prefix}_ids"), columns.leaf_output_ids),
        floats(&format!("{prefix}_weights"), columns.leaf_weights),
    ];
    let op_type = match (model.task, &model.labels) {
        (Task::Regression, _) | (_, None) => {
            attributes.push(int("n_targets", 1));
            attributes.push(string("aggregate_function", "SUM"));
            attributes.push(string("post_transform", "NONE"));
            "TreeEnsembleRegressor"
        }
        (task, Some(labels)) => {
            attributes.push(graph::class_labels(labels, "classlabels_int64s"));
            let transform = if task == Task::Binary { "LOGISTIC" } else { "SOFTMAX" };
            attributes.push(string("post_transform", transform));
            "TreeEnsembleClassifier"
        }
    };
    let params = serde_json::to_string(&model.params).unwrap_or_default();
    let scorer = Scorer {
        op_type,
        attributes,
        task: model.task,
        labels: model.labels.clone(),
        metadata: vec![
            ("cairn.trainer", "gbdt".into()),
            ("cairn.task", graph::task_name(model.task).into()),
            ("cairn.params", params),
            ("cairn.iterations", model.iterations().to_string()),
        ],
    };
    graph::model(&model.features, scorer)
}
