//! Linear and logistic regression.

mod lbfgs;
mod logistic;
mod model;
pub(crate) mod params;
mod ridge;
mod standardize;

pub use model::LinearModel;
pub use params::LinearParams;

use logistic::{Fitted, Logistic};
use standardize::Standardized;

use crate::gbdt::check_labels;
use crate::{Frame, History, Iteration, LearnError, Predictions, Target, Task};

/// Least squares for a regression target, logistic regression for classes. Missing values are
/// refused (impute them first).
pub fn train(
    params: &LinearParams,
    frame: &Frame,
    target: &Target,
    validation: Option<(&Frame, &Target)>,
) -> Result<(LinearModel, History), LearnError> {
    params.validate()?;
    frame.validate()?;
    target.validate(frame.rows())?;
    if let Some((frame_v, target_v)) = validation {
        let columns = frame_v.select(&frame.names)?;
        if let Some(index) = columns.iter().position(|column| column.iter().any(|value| value.is_nan())) {
            return Err(LearnError::MissingValues { feature: frame.names[index].clone() });
        }
        check_labels(target, target_v, frame_v.rows())?;
    }
    let columns: Vec<&[f32]> = frame.columns.iter().map(Vec::as_slice).collect();
    let data = Standardized::new(&frame.names, &columns)?;
    let task = target.task();
    let l2 = params.l2_for(task);
    let model = |fitted: &Fitted| LinearModel {
        features: frame.names.clone(),
        task,
        labels: match target {
            Target::Regression(_) => None,
            Target::Classes { labels, .. } => Some(labels.clone()),
        },
        coefficients: fitted.coefficients.iter().map(|&value| value as f32).collect(),
        intercepts: fitted.intercepts.iter().map(|&value| value as f32).collect(),
        params: params.clone(),
    };
    let evaluate = |model: &LinearModel, iteration: usize| -> Result<Iteration, LearnError> {
        let train_loss = loss(&model.predict(frame)?, target);
        let validation_loss = match validation {
            Some((frame_v, target_v)) => Some(loss(&model.predict(frame_v)?, target_v)),
            None => None,
        };
        Ok(Iteration { iteration, train_loss, validation_loss })
    };

    let (fitted, mut iterations) = match target {
        Target::Regression(values) => {
            let (coefficients, intercept) = ridge::solve(&data, values, l2)?;
            (Fitted { coefficients, intercepts: vec![intercept] }, Vec::new())
        }
        Target::Classes { codes, .. } => {
            let problem = Logistic { data: &data, codes, outputs: task.outputs(), l2 };
            let mut iterations = Vec::new();
            let mut failure = None;
            let fitted = problem.fit(params.tol, params.max_iter, |fitted| {
                match evaluate(&model(fitted), iterations.len() + 1) {
                    Ok(record) => iterations.push(record),
                    Err(error) => failure = Some(error),
                }
            });
            if let Some(error) = failure {
                return Err(error);
            }
            (fitted, iterations)
        }
    };
    let model = model(&fitted);
    if iterations.is_empty() {
        iterations.push(evaluate(&model, 1)?);
    }
    let name = match task {
        Task::Regression => "l2",
        Task::Binary => "binary_logloss",
        Task::Multiclass { .. } => "multi_logloss",
    };
    Ok((model, History { loss: name, iterations, best_iteration: None }))
}

/// The mean loss of predictions: squared error, or the log loss of the true class.
fn loss(predictions: &Predictions, target: &Target) -> f64 {
    match (predictions, target) {
        (Predictions::Regression(values), Target::Regression(truth)) => {
            values.iter().zip(truth).map(|(p, y)| (p - y) * (p - y)).sum::<f64>() / truth.len() as f64
        }
        (Predictions::Classes { classes, probabilities, .. }, Target::Classes { codes, .. }) => {
            let total: f64 = probabilities
                .chunks(*classes)
                .zip(codes)
                .map(|(row, &code)| -row[code as usize].max(1e-300).ln())
                .sum();
            total / codes.len() as f64
        }
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests;
