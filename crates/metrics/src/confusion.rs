//! Confusion counts, kept as plain counters so that a monitoring window can add rows chunk by
//! chunk and merge windows: every threshold metric (accuracy, precision, recall, F1) follows from
//! the counts alone. Ratios with a zero denominator are 0, scikit-learn's `zero_division` default.

use serde::{Deserialize, Serialize};

use crate::MetricsError;

/// The predicted class of a binary classifier: `score >= 0.5` is positive.
pub const THRESHOLD: f64 = 0.5;

/// Binary confusion counts at [`THRESHOLD`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryConfusion {
    pub true_positives: u64,
    pub false_positives: u64,
    pub true_negatives: u64,
    pub false_negatives: u64,
}

impl BinaryConfusion {
    /// Adds one row: its true label and its positive-class probability.
    pub fn add(&mut self, label: bool, score: f64) {
        match (label, score >= THRESHOLD) {
            (true, true) => self.true_positives += 1,
            (false, true) => self.false_positives += 1,
            (false, false) => self.true_negatives += 1,
            (true, false) => self.false_negatives += 1,
        }
    }

    pub fn merge(&mut self, other: &BinaryConfusion) {
        self.true_positives += other.true_positives;
        self.false_positives += other.false_positives;
        self.true_negatives += other.true_negatives;
        self.false_negatives += other.false_negatives;
    }

    pub fn rows(&self) -> u64 {
        self.true_positives + self.false_positives + self.true_negatives + self.false_negatives
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.true_positives + self.true_negatives, self.rows())
    }

    pub fn precision(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_positives)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_negatives)
    }

    pub fn f1(&self) -> f64 {
        f1(
            self.true_positives,
            self.true_positives + self.false_negatives,
            self.true_positives + self.false_positives,
        )
    }
}

/// Multiclass confusion counts: `counts[truth * classes + predicted]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub classes: usize,
    /// Row-major `[classes × classes]`, rows the true class, columns the predicted one.
    pub counts: Vec<u64>,
}

impl ConfusionMatrix {
    pub fn new(classes: usize) -> ConfusionMatrix {
        ConfusionMatrix { classes, counts: vec![0; classes * classes] }
    }

    /// Adds one row; class codes at or above `classes` are an error, not a panic.
    pub fn add(&mut self, truth: u32, predicted: u32) -> Result<(), MetricsError> {
        let classes = self.classes;
        for label in [truth, predicted] {
            if label as usize >= classes {
                return Err(MetricsError::UnknownClass { label, classes });
            }
        }
        self.counts[truth as usize * classes + predicted as usize] += 1;
        Ok(())
    }

    /// Adds another window's counts; matrices of different class counts are an error.
    pub fn merge(&mut self, other: &ConfusionMatrix) -> Result<(), MetricsError> {
        if other.classes != self.classes {
            return Err(MetricsError::LengthMismatch {
                what: "confusion matrix classes",
                expected: self.classes,
                found: other.classes,
            });
        }
        self.counts.iter_mut().zip(&other.counts).for_each(|(mine, theirs)| *mine += theirs);
        Ok(())
    }

    pub fn count(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth * self.classes + predicted]
    }

    pub fn rows(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn accuracy(&self) -> f64 {
        let correct = (0..self.classes).map(|class| self.count(class, class)).sum();
        ratio(correct, self.rows())
    }

    /// Unweighted mean of per-class F1 over the classes seen in the truth or the predictions
    /// (scikit-learn's default label set), so a class absent from a window does not count as 0.
    pub fn f1_macro(&self) -> f64 {
        let seen: Vec<ClassCounts> = self.per_class().filter(ClassCounts::seen).collect();
        ratio_f(seen.iter().map(ClassCounts::f1).sum(), seen.len() as f64)
    }

    /// Per-class F1 weighted by the class's true count.
    pub fn f1_weighted(&self) -> f64 {
        let (weighted, total) = self.per_class().fold((0.0, 0u64), |(sum, total), class| {
            (sum + class.f1() * class.truth as f64, total + class.truth)
        });
        ratio_f(weighted, total as f64)
    }

    fn per_class(&self) -> impl Iterator<Item = ClassCounts> + '_ {
        (0..self.classes).map(|class| ClassCounts {
            hits: self.count(class, class),
            truth: (0..self.classes).map(|predicted| self.count(class, predicted)).sum(),
            predicted: (0..self.classes).map(|truth| self.count(truth, class)).sum(),
        })
    }
}

struct ClassCounts {
    hits: u64,
    truth: u64,
    predicted: u64,
}

impl ClassCounts {
    fn seen(&self) -> bool {
        self.truth + self.predicted > 0
    }

    fn f1(&self) -> f64 {
        f1(self.hits, self.truth, self.predicted)
    }
}

/// F1 as scikit-learn writes it, `2·tp / (true + predicted)`, 0 when both are 0.
fn f1(hits: u64, truth: u64, predicted: u64) -> f64 {
    ratio(2 * hits, truth + predicted)
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    ratio_f(numerator as f64, denominator as f64)
}

fn ratio_f(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 { 0.0 } else { numerator / denominator }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_counts_use_an_inclusive_threshold() {
        let mut confusion = BinaryConfusion::default();
        for (label, score) in [(true, 0.5), (false, 0.49), (false, 0.9), (true, 0.1), (true, 1.0)] {
            confusion.add(label, score);
        }
        assert_eq!((confusion.true_positives, confusion.false_positives), (2, 1));
        assert_eq!((confusion.true_negatives, confusion.false_negatives), (1, 1));
        assert_eq!(confusion.accuracy(), 0.6);
        assert_eq!(confusion.precision(), 2.0 / 3.0);
        assert_eq!(confusion.recall(), 2.0 / 3.0);
        assert_eq!(confusion.f1(), 2.0 / 3.0);
    }

    #[test]
    fn nothing_predicted_positive_scores_zero_as_scikit_learn() {
        let mut confusion = BinaryConfusion::default();
        confusion.add(false, 0.1);
        assert_eq!((confusion.precision(), confusion.recall(), confusion.f1()), (0.0, 0.0, 0.0));
    }

    #[test]
    fn merged_windows_equal_one_window() {
        let rows = [(0, 0), (1, 2), (2, 2), (1, 1), (0, 1)];
        let mut whole = ConfusionMatrix::new(3);
        let (mut first, mut second) = (ConfusionMatrix::new(3), ConfusionMatrix::new(3));
        for (index, &(truth, predicted)) in rows.iter().enumerate() {
            whole.add(truth, predicted).unwrap();
            let window = if index < 2 { &mut first } else { &mut second };
            window.add(truth, predicted).unwrap();
        }
        first.merge(&second).unwrap();
        assert_eq!(first, whole);
        assert!(first.merge(&ConfusionMatrix::new(4)).is_err());
        assert_eq!(whole.add(3, 0), Err(MetricsError::UnknownClass { label: 3, classes: 3 }));
    }

    #[test]
    fn macro_f1_skips_classes_never_seen() {
        // Class 2 of 3 never occurs: the mean is over classes 0 and 1, as scikit-learn's default.
        let mut matrix = ConfusionMatrix::new(3);
        for (truth, predicted) in [(0, 0), (0, 1), (1, 1), (1, 1)] {
            matrix.add(truth, predicted).unwrap();
        }
        let (f1_0, f1_1) = (2.0 / 3.0, 0.8);
        assert_eq!(matrix.f1_macro(), (f1_0 + f1_1) / 2.0);
        assert_eq!(matrix.f1_weighted(), (f1_0 * 2.0 + f1_1 * 2.0) / 4.0);
        assert_eq!(matrix.accuracy(), 0.75);
    }
}
