//! A trained model of either trainer: what the platform predicts with and exports.

use crate::{ClassLabels, Frame, GbdtModel, LearnError, LinearModel, Task};

#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    Gbdt(GbdtModel),
    Linear(LinearModel),
}

/// Predictions for a frame, computed in `f64` by the trainer's own code.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    Regression(Vec<f64>),
    Classes {
        classes: usize,
        /// `rows × classes`, row-major; column `k` is the class with code `k`.
        probabilities: Vec<f64>,
        /// Each row's predicted class code (an index into the class labels).
        labels: Vec<u32>,
    },
}

impl Model {
    pub fn predict(&self, frame: &Frame) -> Result<Predictions, LearnError> {
        match self {
            Self::Gbdt(model) => model.predict(frame),
            Self::Linear(model) => model.predict(frame),
        }
    }

    /// The model as an ONNX-ML file (see the crate doc for its graph). The same model always
    /// gives the same bytes.
    pub fn to_onnx(&self) -> Vec<u8> {
        match self {
            Self::Gbdt(model) => crate::onnx::trees::export(model),
            Self::Linear(model) => crate::onnx::linear::export(model),
        }
    }

    /// The features the model reads, in the order of the ONNX model's inputs.
    pub fn features(&self) -> &[String] {
        match self {
            Self::Gbdt(model) => model.features(),
            Self::Linear(model) => model.features(),
        }
    }

    pub fn task(&self) -> Task {
        match self {
            Self::Gbdt(model) => model.task(),
            Self::Linear(model) => model.task(),
        }
    }

    /// The class labels, for a classifier.
    pub fn class_labels(&self) -> Option<&ClassLabels> {
        match self {
            Self::Gbdt(model) => model.labels.as_ref(),
            Self::Linear(model) => model.labels.as_ref(),
        }
    }
}
