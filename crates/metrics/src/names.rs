//! The metric names a pipeline spec may use, per task, and which way each is better, so a gate
//! can compare a candidate with a baseline without knowing the metric.

use serde::{Deserialize, Serialize};

/// The kind of model being evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Binary,
    Multiclass,
    Regression,
}

/// Whether a larger value of a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Higher,
    Lower,
}

const BINARY: &[&str] =
    &["roc_auc", "pr_auc", "log_loss", "accuracy", "f1", "precision", "recall", "calibration_error"];
const MULTICLASS: &[&str] =
    &["accuracy", "f1_macro", "f1_weighted", "log_loss", "roc_auc_ovr", "calibration_error"];
const REGRESSION: &[&str] = &["rmse", "mae", "r2"];

/// The metric names computed for `task`.
pub fn names(task: Task) -> &'static [&'static str] {
    match task {
        Task::Binary => BINARY,
        Task::Multiclass => MULTICLASS,
        Task::Regression => REGRESSION,
    }
}

/// Which way `name` is better; `None` for a name no task computes.
pub fn direction(name: &str) -> Option<Direction> {
    match name {
        "log_loss" | "calibration_error" | "rmse" | "mae" => Some(Direction::Lower),
        "roc_auc" | "pr_auc" | "accuracy" | "f1" | "precision" | "recall" | "f1_macro" | "f1_weighted"
        | "roc_auc_ovr" | "r2" => Some(Direction::Higher),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_a_direction() {
        for task in [Task::Binary, Task::Multiclass, Task::Regression] {
            for name in names(task) {
                assert!(direction(name).is_some(), "{name} has no direction");
            }
        }
        assert_eq!(direction("log_loss"), Some(Direction::Lower));
        assert_eq!(direction("roc_auc_ovr"), Some(Direction::Higher));
        assert_eq!(direction("auc"), None);
    }

    #[test]
    fn names_are_those_the_metrics_answer_to() {
        let binary = crate::evaluate_binary(&[true, false], &[0.9, 0.2]).unwrap().metrics;
        assert!(names(Task::Binary).iter().all(|name| binary.get(name).is_some()));
        let json = serde_json::to_value(binary).unwrap();
        assert_eq!(json.as_object().unwrap().len(), names(Task::Binary).len());
        let regression = crate::regression_metrics(&[1.0, 2.0], &[1.0, 2.5]).unwrap();
        assert!(names(Task::Regression).iter().all(|name| regression.get(name).is_some()));
    }
}
