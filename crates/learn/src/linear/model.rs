//! A trained linear model: coefficients on the raw features, kept as the `f32` values the ONNX
//! model carries so that both predict alike.

use crate::gbdt::{first_max, sigmoid, softmax_rows};
use crate::{ClassLabels, Frame, LearnError, LinearParams, Predictions, Task};

#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    pub(crate) features: Vec<String>,
    pub(crate) task: Task,
    pub(crate) labels: Option<ClassLabels>,
    /// `outputs × features`, row-major (one row for regression and binary classification).
    pub(crate) coefficients: Vec<f32>,
    pub(crate) intercepts: Vec<f32>,
    pub(crate) params: LinearParams,
}

impl LinearModel {
    pub fn features(&self) -> &[String] {
        &self.features
    }

    pub fn task(&self) -> Task {
        self.task
    }

    pub fn params(&self) -> &LinearParams {
        &self.params
    }

    /// Coefficients per output (`outputs × features`, row-major) on the raw features.
    pub fn coefficients(&self) -> &[f32] {
        &self.coefficients
    }

    pub fn intercepts(&self) -> &[f32] {
        &self.intercepts
    }

    /// Margins per row (`rows × outputs`, row-major), in `f64`.
    pub fn margins(&self, frame: &Frame) -> Result<Vec<f64>, LearnError> {
        let columns = frame.select(&self.features)?;
        let rows = frame.rows();
        let outputs = self.intercepts.len();
        let mut margins = vec![0.0; rows * outputs];
        for (row, out) in margins.chunks_mut(outputs).enumerate() {
            for (output, margin) in out.iter_mut().enumerate() {
                let weights = &self.coefficients[output * columns.len()..(output + 1) * columns.len()];
                *margin = f64::from(self.intercepts[output])
                    + weights
                        .iter()
                        .zip(&columns)
                        .map(|(&w, column)| f64::from(w) * f64::from(column[row]))
                        .sum::<f64>();
            }
        }
        Ok(margins)
    }

    pub fn predict(&self, frame: &Frame) -> Result<Predictions, LearnError> {
        let margins = self.margins(frame)?;
        Ok(match self.task {
            Task::Regression => Predictions::Regression(margins),
            Task::Binary => {
                let probabilities = margins.iter().flat_map(|&z| [sigmoid(-z), sigmoid(z)]).collect();
                let labels = margins.iter().map(|&z| first_max(&[-z, z])).collect();
                Predictions::Classes { classes: 2, probabilities, labels }
            }
            Task::Multiclass { classes } => softmax_rows(&margins, classes),
        })
    }
}
