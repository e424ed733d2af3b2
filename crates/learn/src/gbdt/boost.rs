//! The boosting loop: gradients at the current scores, one tree per output, scores updated,
//! losses recorded, early stopping on the validation loss.

use super::bins::Binned;
use super::grow::Grower;
use super::histogram::GradHess;
use super::model::GbdtModel;
use super::objective::{Labels, Objective};
use super::split::Constraints;
use super::tree::Tree;
use crate::rng::SplitMix64;
use crate::{ClassLabels, Frame, GbdtParams, History, Iteration, LearnError, Target};

pub(crate) fn boost(
    params: &GbdtParams,
    frame: &Frame,
    target: &Target,
    validation: Option<(&Frame, &Target)>,
) -> Result<(GbdtModel, History), LearnError> {
    params.validate()?;
    frame.validate()?;
    target.validate(frame.rows())?;
    let task = target.task();
    let validation = match validation {
        Some((frame_v, target_v)) => {
            let columns = frame_v.select(&frame.names)?;
            check_labels(target, target_v, frame_v.rows())?;
            Some((columns, labels(target_v)))
        }
        None if params.early_stopping_round > 0 => {
            return Err(LearnError::InvalidParameter {
                name: "early_stopping_round",
                expected: "0 when no validation frame is given",
                got: params.early_stopping_round.to_string(),
            });
        }
        None => None,
    };

    let rows = frame.rows();
    let features = frame.columns.len();
    let threads = params.threads.min(features).max(1);
    let binned = Binned::new(&frame.columns, params.max_bin, threads);
    let objective = Objective(task);
    let train_labels = labels(target);
    let outputs = task.outputs();
    let initial = objective.initial_scores(train_labels);
    let mut scores: Vec<f64> = initial.iter().flat_map(|&score| std::iter::repeat_n(score, rows)).collect();
    let mut valid_scores: Vec<f64> = match &validation {
        Some((columns, _)) => {
            let rows_v = columns.first().map_or(0, |column| column.len());
            initial.iter().flat_map(|&score| std::iter::repeat_n(score, rows_v)).collect()
        }
        None => Vec::new(),
    };
    let constraints = Constraints {
        min_data_in_leaf: params.min_data_in_leaf.min(u32::MAX as usize) as u32,
        min_sum_hessian_in_leaf: params.min_sum_hessian_in_leaf,
        lambda_l2: params.lambda_l2,
    };
    let max_depth = usize::try_from(params.max_depth).ok();
    let mut grower = Grower::new(&binned, constraints, params.num_leaves, max_depth, threads);
    let mut gradients = vec![vec![GradHess::default(); rows]; outputs];
    let mut rng = SplitMix64::new(params.seed);
    let mut bag: Option<Vec<u32>> = None;
    let mut trees: Vec<Tree> = Vec::new();
    let mut history = History { loss: objective.name(), iterations: Vec::new(), best_iteration: None };
    let mut best: Option<(usize, f64)> = None;

    for iteration in 0..params.num_iterations {
        let loss = objective.gradients(&scores, train_labels, &mut gradients);
        if let Some(previous) = history.iterations.last_mut() {
            previous.train_loss = loss;
        }
        if params.bagging_freq > 0 && params.bagging_fraction < 1.0 && iteration % params.bagging_freq == 0 {
            bag = Some((0..rows as u32).filter(|_| rng.next_f64() < params.bagging_fraction).collect());
        }
        let active = sample_features(features, params.feature_fraction, &mut rng);
        for (output, gradients) in gradients.iter().enumerate() {
            let grown = grower.grow(gradients, bag.as_deref(), &active);
            let mut tree = grown.tree;
            for value in tree.leaf_values_mut() {
                let shrunk = f64::from(*value) * params.learning_rate;
                // The prior rides in the first trees' leaves: the ONNX model then needs no
                // base_values, whose handling differs between ONNX Runtime's operators.
                let folded = if iteration == 0 { shrunk + initial[output] } else { shrunk };
                *value = folded as f32;
            }
            let part = &mut scores[output * rows..(output + 1) * rows];
            // Scores become exactly what the model predicts: the prior is in the first leaves.
            if iteration == 0 {
                part.fill(0.0);
            }
            if bag.is_some() {
                for (row, score) in part.iter_mut().enumerate() {
                    *score += f64::from(tree.value_binned(&binned.columns, &binned.mappers, row));
                }
            } else {
                for &(node, start, end) in &grown.leaves {
                    let value = match tree.nodes[node] {
                        super::tree::Node::Leaf { value } => f64::from(value),
                        super::tree::Node::Branch { .. } => 0.0,
                    };
                    for &row in grower.rows(start, end) {
                        part[row as usize] += value;
                    }
                }
            }
            if let Some((columns, _)) = &validation {
                let rows_v = valid_scores.len() / outputs;
                let part = &mut valid_scores[output * rows_v..(output + 1) * rows_v];
                if iteration == 0 {
                    part.fill(0.0);
                }
                for (row, score) in part.iter_mut().enumerate() {
                    *score += f64::from(tree.value(columns, row));
                }
            }
            trees.push(tree);
        }
        let validation_loss = validation.as_ref().map(|(_, labels)| objective.loss(&valid_scores, *labels));
        history.iterations.push(Iteration {
            iteration: iteration + 1,
            train_loss: f64::NAN,
            validation_loss,
        });
        if let Some(loss) = validation_loss
            && params.early_stopping_round > 0
        {
            if best.is_none_or(|(_, best_loss)| loss < best_loss) {
                best = Some((iteration, loss));
            } else if best.is_some_and(|(at, _)| iteration - at >= params.early_stopping_round) {
                break;
            }
        }
    }
    if let Some(last) = history.iterations.last_mut() {
        last.train_loss = objective.loss(&scores, train_labels);
    }
    if let Some((at, _)) = best
        && at + 1 < history.iterations.len()
    {
        trees.truncate((at + 1) * outputs);
        history.best_iteration = Some(at + 1);
    }

    let labels = match target {
        Target::Regression(_) => None,
        Target::Classes { labels, .. } => Some(labels.clone()),
    };
    let model = GbdtModel::new(frame.names.clone(), task, labels, trees, params.clone());
    Ok((model, history))
}

fn labels(target: &Target) -> Labels<'_> {
    match target {
        Target::Regression(values) => Labels::Values(values),
        Target::Classes { codes, .. } => Labels::Codes(codes),
    }
}

/// The validation target must be of the training target's kind, with the same class labels.
pub(crate) fn check_labels(train: &Target, validation: &Target, rows: usize) -> Result<(), LearnError> {
    if validation.len() != rows {
        return Err(LearnError::Target(format!("validation: {} values for {rows} rows", validation.len())));
    }
    let same = match (train, validation) {
        (Target::Regression(_), Target::Regression(values)) => values.iter().all(|value| value.is_finite()),
        (Target::Classes { labels, .. }, Target::Classes { labels: labels_v, codes }) => {
            same_labels(labels, labels_v) && codes.iter().all(|&code| (code as usize) < labels.len())
        }
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(LearnError::Target(
            "the validation target differs in kind or class labels from the training target, or has \
             a non-finite value or an unknown class code"
                .into(),
        ))
    }
}

fn same_labels(a: &ClassLabels, b: &ClassLabels) -> bool {
    a == b
}

/// The features one tree may use (`feature_fraction` of them, at least one), in feature order.
fn sample_features(features: usize, fraction: f64, rng: &mut SplitMix64) -> Vec<bool> {
    if fraction >= 1.0 {
        return vec![true; features];
    }
    let take = ((features as f64 * fraction).round() as usize).clamp(1, features);
    let mut order: Vec<usize> = (0..features).collect();
    for position in 0..take {
        let pick = position + rng.below(features - position);
        order.swap(position, pick);
    }
    let mut active = vec![false; features];
    for &feature in &order[..take] {
        active[feature] = true;
    }
    active
}
