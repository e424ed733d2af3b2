#![doc = include_str!("../README.md")]

mod binary;
mod calibration;
mod check;
mod confusion;
mod error;
mod histogram;
mod log_loss;
mod multiclass;
mod names;
mod ranking;
mod regression;
mod residuals;
mod slices;

pub use binary::{BinaryEvaluation, BinaryMetrics, evaluate_binary, evaluate_binary_with_bins};
pub use calibration::{CalibrationBin, CalibrationCurve, DEFAULT_BINS, calibration_curve};
pub use confusion::{BinaryConfusion, ConfusionMatrix, THRESHOLD};
pub use error::MetricsError;
pub use histogram::Histogram;
pub use multiclass::{MulticlassEvaluation, MulticlassMetrics, evaluate_multiclass};
pub use names::{Direction, Task, direction, names};
pub use ranking::{Ranking, ranking, roc_auc};
pub use regression::{
    RegressionAccumulator, RegressionEvaluation, RegressionMetrics, evaluate_regression, regression_metrics,
};
pub use residuals::{
    PREDICTION_BINS, PredictionBin, Quantile, RESIDUAL_BINS, RESIDUAL_QUANTILES, ResidualSummary,
};
pub use slices::{Gap, MetricValues, Slice, Slices, binary_slices, multiclass_slices, regression_slices};
