//! The losses boosted: squared error, binary log loss and softmax cross-entropy, with their
//! gradients, hessians and starting scores (LightGBM's `boost_from_average`).

use super::histogram::GradHess;
use crate::Task;

/// The training labels as the objectives read them.
#[derive(Clone, Copy)]
pub(crate) enum Labels<'a> {
    Values(&'a [f64]),
    Codes(&'a [u32]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Objective(pub(crate) Task);

impl Objective {
    pub(crate) fn name(self) -> &'static str {
        match self.0 {
            Task::Regression => "l2",
            Task::Binary => "binary_logloss",
            Task::Multiclass { .. } => "multi_logloss",
        }
    }

    /// The prior: the mean, the log-odds of the positive class, the log of each class's share.
    pub(crate) fn initial_scores(self, labels: Labels<'_>) -> Vec<f64> {
        match (self.0, labels) {
            (Task::Regression, Labels::Values(values)) => vec![mean(values.iter().copied())],
            (Task::Binary, Labels::Codes(codes)) => {
                let p = mean(codes.iter().map(|&code| f64::from(code)));
                vec![(p / (1.0 - p)).ln()]
            }
            (Task::Multiclass { classes }, Labels::Codes(codes)) => {
                let mut counts = vec![0usize; classes];
                for &code in codes {
                    counts[code as usize] += 1;
                }
                counts.iter().map(|&count| (count as f64 / codes.len() as f64).ln()).collect()
            }
            _ => vec![0.0; self.0.outputs()],
        }
    }

    /// Fills `gradients[k]` (one per output) for `scores` (`outputs × rows`, output-major) and
    /// returns the mean loss at `scores`.
    pub(crate) fn gradients(
        self,
        scores: &[f64],
        labels: Labels<'_>,
        gradients: &mut [Vec<GradHess>],
    ) -> f64 {
        let rows = scores.len() / self.0.outputs();
        let mut total = 0.0;
        match (self.0, labels) {
            (Task::Regression, Labels::Values(values)) => {
                for ((gh, &score), &value) in gradients[0].iter_mut().zip(scores).zip(values) {
                    let residual = score - value;
                    *gh = GradHess { grad: residual as f32, hess: 1.0 };
                    total += residual * residual;
                }
            }
            (Task::Binary, Labels::Codes(codes)) => {
                for ((gh, &score), &code) in gradients[0].iter_mut().zip(scores).zip(codes) {
                    // One exp serves both the probability and the loss (the hot loop).
                    let e = (-score).exp();
                    let p = 1.0 / (1.0 + e);
                    let y = f64::from(code);
                    *gh = GradHess { grad: (p - y) as f32, hess: (p * (1.0 - p)) as f32 };
                    let softplus_neg = e.ln_1p();
                    total += if code == 1 { softplus_neg } else { score + softplus_neg };
                }
            }
            (Task::Multiclass { classes }, Labels::Codes(codes)) => {
                // LightGBM's factor K / (K - 1) on the softmax hessian.
                let factor = classes as f64 / (classes as f64 - 1.0);
                let mut row_scores = vec![0.0; classes];
                for (row, &code) in codes.iter().enumerate() {
                    for (class, score) in row_scores.iter_mut().enumerate() {
                        *score = scores[class * rows + row];
                    }
                    let log_sum = log_sum_exp(&row_scores);
                    total += log_sum - row_scores[code as usize];
                    for (class, &score) in row_scores.iter().enumerate() {
                        let p = (score - log_sum).exp();
                        let y = if class == code as usize { 1.0 } else { 0.0 };
                        gradients[class][row] =
                            GradHess { grad: (p - y) as f32, hess: (factor * p * (1.0 - p)) as f32 };
                    }
                }
            }
            _ => {}
        }
        total / rows as f64
    }

    /// The mean loss at `scores` (as [`Objective::gradients`] returns it).
    pub(crate) fn loss(self, scores: &[f64], labels: Labels<'_>) -> f64 {
        let rows = scores.len() / self.0.outputs();
        let total: f64 = match (self.0, labels) {
            (Task::Regression, Labels::Values(values)) => {
                scores.iter().zip(values).map(|(score, value)| (score - value) * (score - value)).sum()
            }
            (Task::Binary, Labels::Codes(codes)) => {
                scores.iter().zip(codes).map(|(&score, &code)| binary_loss(score, code)).sum()
            }
            (Task::Multiclass { classes }, Labels::Codes(codes)) => {
                let mut row_scores = vec![0.0; classes];
                codes
                    .iter()
                    .enumerate()
                    .map(|(row, &code)| {
                        for (class, score) in row_scores.iter_mut().enumerate() {
                            *score = scores[class * rows + row];
                        }
                        log_sum_exp(&row_scores) - row_scores[code as usize]
                    })
                    .sum()
            }
            _ => 0.0,
        };
        total / rows as f64
    }
}

fn mean(values: impl ExactSizeIterator<Item = f64>) -> f64 {
    let count = values.len();
    values.sum::<f64>() / count as f64
}

pub(crate) fn sigmoid(score: f64) -> f64 {
    1.0 / (1.0 + (-score).exp())
}

/// −log p(code) for a log-odds `score`, without overflow for large scores.
fn binary_loss(score: f64, code: u32) -> f64 {
    let margin = if code == 1 { -score } else { score };
    softplus(margin)
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

pub(crate) fn log_sum_exp(scores: &[f64]) -> f64 {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + scores.iter().map(|score| (score - max).exp()).sum::<f64>().ln()
}
