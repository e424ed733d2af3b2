//! The same metrics per group of rows (a segment, a region, a model input's bucket) and the
//! widest gap between groups, for fairness and segment checks. A group too small to trust reports
//! no metrics rather than noise; a metric undefined in a group (AUC with one class) is `None`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    BinaryMetrics, MetricsError, MulticlassMetrics, RegressionMetrics, check, evaluate_binary,
    evaluate_multiclass, regression_metrics,
};

/// A task's scalar metrics, looked up by name.
pub trait MetricValues {
    fn get(&self, name: &str) -> Option<f64>;
}

impl MetricValues for BinaryMetrics {
    fn get(&self, name: &str) -> Option<f64> {
        BinaryMetrics::get(self, name)
    }
}

impl MetricValues for MulticlassMetrics {
    fn get(&self, name: &str) -> Option<f64> {
        MulticlassMetrics::get(self, name)
    }
}

impl MetricValues for RegressionMetrics {
    fn get(&self, name: &str) -> Option<f64> {
        RegressionMetrics::get(self, name)
    }
}

/// One group's row count and metrics; `None` under the minimum row count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slice<M> {
    pub rows: usize,
    pub metrics: Option<M>,
}

/// Metrics per group, keyed and ordered by group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slices<M> {
    pub groups: BTreeMap<String, Slice<M>>,
}

/// The groups with the lowest and the highest value of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    pub metric: String,
    pub lowest_group: String,
    pub lowest: f64,
    pub highest_group: String,
    pub highest: f64,
    pub gap: f64,
}

impl<M: MetricValues> Slices<M> {
    /// The largest difference of `metric` between two groups where it is defined; `None` with
    /// fewer than two such groups or an unknown metric.
    pub fn max_gap(&self, metric: &str) -> Option<Gap> {
        let values = self
            .groups
            .iter()
            .filter_map(|(group, slice)| Some((group, slice.metrics.as_ref()?.get(metric)?)));
        let (mut lowest, mut highest, mut defined) = (None::<(&String, f64)>, None::<(&String, f64)>, 0);
        for (group, value) in values {
            defined += 1;
            if lowest.is_none_or(|(_, low)| value < low) {
                lowest = Some((group, value));
            }
            if highest.is_none_or(|(_, high)| value > high) {
                highest = Some((group, value));
            }
        }
        let ((lowest_group, lowest), (highest_group, highest)) = (lowest?, highest?);
        (defined >= 2).then(|| Gap {
            metric: metric.to_owned(),
            lowest_group: lowest_group.clone(),
            lowest,
            highest_group: highest_group.clone(),
            highest,
            gap: highest - lowest,
        })
    }
}

/// Binary metrics per group of `groups` (one key per row); groups under `min_rows` rows get none.
pub fn binary_slices<K: AsRef<str>>(
    groups: &[K],
    labels: &[bool],
    probabilities: &[f64],
    min_rows: usize,
) -> Result<Slices<BinaryMetrics>, MetricsError> {
    check::same_length("probabilities", labels.len(), probabilities.len())?;
    by_group(groups, labels.len(), min_rows, |rows| {
        let labels: Vec<bool> = rows.iter().map(|&row| labels[row]).collect();
        let probabilities: Vec<f64> = rows.iter().map(|&row| probabilities[row]).collect();
        Ok(evaluate_binary(&labels, &probabilities)?.metrics)
    })
}

/// Multiclass metrics per group; `probabilities` row-major `[labels.len() × classes]`.
pub fn multiclass_slices<K: AsRef<str>>(
    groups: &[K],
    labels: &[u32],
    probabilities: &[f64],
    classes: usize,
    min_rows: usize,
) -> Result<Slices<MulticlassMetrics>, MetricsError> {
    check::same_length("probabilities", labels.len() * classes, probabilities.len())?;
    by_group(groups, labels.len(), min_rows, |rows| {
        let labels: Vec<u32> = rows.iter().map(|&row| labels[row]).collect();
        let probabilities: Vec<f64> = rows
            .iter()
            .flat_map(|&row| &probabilities[row * classes..(row + 1) * classes])
            .copied()
            .collect();
        Ok(evaluate_multiclass(&labels, &probabilities, classes)?.metrics)
    })
}

/// Regression metrics per group.
pub fn regression_slices<K: AsRef<str>>(
    groups: &[K],
    truth: &[f64],
    predicted: &[f64],
    min_rows: usize,
) -> Result<Slices<RegressionMetrics>, MetricsError> {
    check::same_length("predicted", truth.len(), predicted.len())?;
    by_group(groups, truth.len(), min_rows, |rows| {
        let truth: Vec<f64> = rows.iter().map(|&row| truth[row]).collect();
        let predicted: Vec<f64> = rows.iter().map(|&row| predicted[row]).collect();
        regression_metrics(&truth, &predicted)
    })
}

fn by_group<K: AsRef<str>, M>(
    groups: &[K],
    rows: usize,
    min_rows: usize,
    metrics: impl Fn(&[usize]) -> Result<M, MetricsError>,
) -> Result<Slices<M>, MetricsError> {
    check::same_length("groups", rows, groups.len())?;
    let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (row, group) in groups.iter().enumerate() {
        members.entry(group.as_ref()).or_default().push(row);
    }
    let groups = members
        .into_iter()
        .map(|(group, rows)| {
            let metrics = if rows.len() >= min_rows.max(1) { Some(metrics(&rows)?) } else { None };
            Ok((group.to_owned(), Slice { rows: rows.len(), metrics }))
        })
        .collect::<Result<_, MetricsError>>()?;
    Ok(Slices { groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_report_undefined_metrics_as_none() {
        let groups = ["eu", "eu", "eu", "us", "us", "asia"];
        let labels = [true, false, true, true, true, false];
        let probabilities = [0.9, 0.2, 0.4, 0.8, 0.3, 0.1];
        let slices = binary_slices(&groups, &labels, &probabilities, 2).unwrap();
        let eu = slices.groups["eu"].metrics.unwrap();
        assert_eq!(eu.roc_auc, Some(1.0));
        assert_eq!(eu.accuracy, 2.0 / 3.0);
        // "us" has positives only: no AUC but an accuracy; "asia" is under the minimum.
        let us = slices.groups["us"].metrics.unwrap();
        assert_eq!((us.roc_auc, us.accuracy), (None, 0.5));
        assert_eq!(slices.groups["asia"], Slice { rows: 1, metrics: None });
        assert_eq!(slices.max_gap("roc_auc"), None);
        let gap = slices.max_gap("accuracy").unwrap();
        assert_eq!((gap.lowest_group.as_str(), gap.highest_group.as_str()), ("us", "eu"));
        assert!((gap.gap - (2.0 / 3.0 - 0.5)).abs() < 1e-15);
    }

    #[test]
    fn regression_and_multiclass_slices() {
        let groups = vec!["a".to_owned(), "b".to_owned(), "a".to_owned(), "b".to_owned()];
        let slices = regression_slices(&groups, &[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 6.0], 2).unwrap();
        assert_eq!(slices.max_gap("mae").unwrap().gap, 1.0);
        let probabilities = [0.8, 0.2, 0.3, 0.7, 0.6, 0.4, 0.1, 0.9];
        let slices = multiclass_slices(&groups, &[0, 1, 1, 1], &probabilities, 2, 1).unwrap();
        assert_eq!(slices.groups["a"].metrics.unwrap().accuracy, 0.5);
        assert_eq!(slices.groups["b"].metrics.unwrap().accuracy, 1.0);
    }

    #[test]
    fn mismatched_groups_are_an_error() {
        assert!(matches!(
            regression_slices(&["a"], &[1.0, 2.0], &[1.0, 2.0], 1),
            Err(MetricsError::LengthMismatch { what: "groups", .. })
        ));
    }
}
