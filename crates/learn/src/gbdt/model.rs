//! A trained boosted ensemble: the trees (iteration-major, one per output per iteration, the
//! prior folded into the first ones) and what the export needs to name inputs and classes.

use super::objective::{log_sum_exp, sigmoid};
use super::tree::Tree;
use crate::{ClassLabels, Frame, GbdtParams, LearnError, Predictions, Task};

#[derive(Debug, Clone, PartialEq)]
pub struct GbdtModel {
    pub(crate) features: Vec<String>,
    pub(crate) task: Task,
    pub(crate) labels: Option<ClassLabels>,
    pub(crate) trees: Vec<Tree>,
    pub(crate) params: GbdtParams,
}

impl GbdtModel {
    pub(crate) fn new(
        features: Vec<String>,
        task: Task,
        labels: Option<ClassLabels>,
        trees: Vec<Tree>,
        params: GbdtParams,
    ) -> Self {
        Self { features, task, labels, trees, params }
    }

    pub fn features(&self) -> &[String] {
        &self.features
    }

    pub fn task(&self) -> Task {
        self.task
    }

    pub fn params(&self) -> &GbdtParams {
        &self.params
    }

    /// Trees per output (the iterations kept).
    pub fn iterations(&self) -> usize {
        self.trees.len() / self.task.outputs()
    }

    /// Raw scores per row (`rows × outputs`, row-major): the sum of the trees' leaf values in
    /// `f64`.
    pub fn raw_scores(&self, frame: &Frame) -> Result<Vec<f64>, LearnError> {
        let columns = frame.select(&self.features)?;
        let outputs = self.task.outputs();
        let rows = frame.rows();
        let mut scores = vec![0.0; rows * outputs];
        for (index, tree) in self.trees.iter().enumerate() {
            let output = index % outputs;
            for row in 0..rows {
                scores[row * outputs + output] += f64::from(tree.value(&columns, row));
            }
        }
        Ok(scores)
    }

    pub fn predict(&self, frame: &Frame) -> Result<Predictions, LearnError> {
        let scores = self.raw_scores(frame)?;
        Ok(match self.task {
            Task::Regression => Predictions::Regression(scores),
            Task::Binary => {
                let probabilities =
                    scores.iter().flat_map(|&score| [sigmoid(-score), sigmoid(score)]).collect();
                // As ONNX Runtime decides a binary label: a positive score.
                let labels = scores.iter().map(|&score| u32::from(score > 0.0)).collect();
                Predictions::Classes { classes: 2, probabilities, labels }
            }
            Task::Multiclass { classes } => softmax_rows(&scores, classes),
        })
    }
}

/// Probabilities and labels from per-class scores, `classes` per row.
pub(crate) fn softmax_rows(scores: &[f64], classes: usize) -> Predictions {
    let mut probabilities = Vec::with_capacity(scores.len());
    let mut labels = Vec::with_capacity(scores.len() / classes);
    for row in scores.chunks(classes) {
        let log_sum = log_sum_exp(row);
        probabilities.extend(row.iter().map(|score| (score - log_sum).exp()));
        labels.push(first_max(row));
    }
    Predictions::Classes { classes, probabilities, labels }
}

/// The index of the first largest value (ONNX Runtime's tie rule).
pub(crate) fn first_max(values: &[f64]) -> u32 {
    let mut best = 0;
    for (index, &value) in values.iter().enumerate() {
        if value > values[best] {
            best = index;
        }
    }
    best as u32
}
