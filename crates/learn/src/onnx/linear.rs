//! A linear model as `LinearRegressor` / `LinearClassifier` (ai.onnx.ml 1).
//!
//! Binary classification is written as two rows of coefficients, `−w` and `w` with `LOGISTIC`:
//! the probabilities are then `[σ(−z), σ(z)]` (which sum to one) and the label is the larger.

use super::graph::{self, Scorer, floats, int, string};
use crate::{LinearModel, Task};

pub(crate) fn export(model: &LinearModel) -> Vec<u8> {
    let mut attributes = Vec::new();
    let op_type = match (model.task, &model.labels) {
        (Task::Regression, _) | (_, None) => {
            attributes.push(floats("coefficients", model.coefficients.clone()));
            attributes.push(floats("intercepts", model.intercepts.clone()));
            attributes.push(int("targets", 1));
            "LinearRegressor"
        }
        (task, Some(labels)) => {
            let (coefficients, intercepts, transform) = if task == Task::Binary {
                let negated = |values: &[f32]| values.iter().map(|value| -value).collect::<Vec<_>>();
                let coefficients = [negated(&model.coefficients), model.coefficients.clone()].concat();
                let intercepts = [negated(&model.intercepts), model.intercepts.clone()].concat();
                (coefficients, intercepts, "LOGISTIC")
            } else {
                (model.coefficients.clone(), model.intercepts.clone(), "SOFTMAX")
            };
            attributes.push(floats("coefficients", coefficients));
            attributes.push(floats("intercepts", intercepts));
            attributes.push(graph::class_labels(labels, "classlabels_ints"));
            attributes.push(int("multi_class", i64::from(task != Task::Binary)));
            attributes.push(string("post_transform", transform));
            "LinearClassifier"
        }
    };
    let params = serde_json::to_string(&model.params).unwrap_or_default();
    let scorer = Scorer {
        op_type,
        attributes,
        task: model.task,
        labels: model.labels.clone(),
        metadata: vec![
            ("cairn.trainer", "linear".into()),
            ("cairn.task", graph::task_name(model.task).into()),
            ("cairn.params", params),
        ],
    };
    graph::model(&model.features, scorer)
}
