//! What training reports per iteration, so the platform logs metrics per iteration.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    /// The loss reported: `l2` (mean squared error), `binary_logloss` or `multi_logloss`, as
    /// LightGBM names them.
    pub loss: &'static str,
    pub iterations: Vec<Iteration>,
    /// When early stopping cut training: how many iterations the model keeps (1-based, as
    /// LightGBM's `best_iteration`).
    pub best_iteration: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Iteration {
    /// 1-based.
    pub iteration: usize,
    pub train_loss: f64,
    pub validation_loss: Option<f64>,
}
