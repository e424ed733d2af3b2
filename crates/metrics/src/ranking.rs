//! Ranking metrics (ROC AUC, average precision) from one sort of the scores. Rows with equal
//! scores form one threshold, as in scikit-learn's `_binary_clf_curve`: ties count half in ROC
//! AUC (the trapezoid over the tied block) and enter average precision as one step.

use crate::{MetricsError, check};

/// ROC AUC and average precision of one binary ranking; `None` where undefined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranking {
    /// `None` unless both classes are present.
    pub roc_auc: Option<f64>,
    /// scikit-learn's `average_precision_score` (step-wise); `None` without positives.
    pub average_precision: Option<f64>,
}

/// ROC AUC and average precision of `scores` (any finite values, higher meaning more likely
/// positive) against `labels`.
pub fn ranking(labels: &[bool], scores: &[f64]) -> Result<Ranking, MetricsError> {
    check::same_length("scores", labels.len(), scores.len())?;
    check::non_empty(labels.len())?;
    check::finite("scores", scores)?;
    let mut rows: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    Ok(ranking_of(&mut rows))
}

/// ROC AUC of `scores` against `labels`; `None` when only one class is present.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Result<Option<f64>, MetricsError> {
    ranking(labels, scores).map(|ranking| ranking.roc_auc)
}

/// Sorts `rows` (score, label) in place, highest score first, and walks the thresholds once.
pub(crate) fn ranking_of(rows: &mut [(f64, bool)]) -> Ranking {
    rows.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0u64, 0u64);
    let (mut area, mut precision_sum) = (0.0f64, 0.0f64);
    let mut start = 0;
    while start < rows.len() {
        // `==`, not `total_cmp`, ends a block: -0.0 and 0.0 are one threshold, as in NumPy.
        let score = rows[start].0;
        let end = start + rows[start..].iter().take_while(|row| row.0 == score).count();
        let positives = rows[start..end].iter().filter(|row| row.1).count() as u64;
        let (tp_before, fp_before) = (tp, fp);
        tp += positives;
        fp += (end - start) as u64 - positives;
        area += (fp - fp_before) as f64 * (tp + tp_before) as f64 / 2.0;
        precision_sum += (tp - tp_before) as f64 * (tp as f64 / (tp + fp) as f64);
        start = end;
    }
    let roc_auc = (tp > 0 && fp > 0).then(|| area / (tp as f64 * fp as f64));
    let average_precision = (tp > 0).then(|| precision_sum / tp as f64);
    Ranking { roc_auc, average_precision }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tied_scores_count_half_and_step_once() {
        // Checked with scikit-learn: roc_auc_score 0.375, average_precision_score 0.5.
        let ranking = ranking(&[true, false, true, false], &[0.1, 0.3, 0.5, 0.5]).unwrap();
        assert_eq!(ranking.roc_auc, Some(0.375));
        assert_eq!(ranking.average_precision, Some(0.5));
    }

    #[test]
    fn perfect_and_uninformative_rankings() {
        let perfect = ranking(&[false, false, true, true], &[0.1, 0.2, 0.8, 0.9]).unwrap();
        assert_eq!((perfect.roc_auc, perfect.average_precision), (Some(1.0), Some(1.0)));
        let tied = ranking(&[false, true, true, false], &[0.5; 4]).unwrap();
        assert_eq!((tied.roc_auc, tied.average_precision), (Some(0.5), Some(0.5)));
        // Signed zeros are one threshold, as NumPy compares them.
        assert_eq!(roc_auc(&[true, false], &[-0.0, 0.0]).unwrap(), Some(0.5));
    }

    #[test]
    fn one_class_is_undefined_not_nan() {
        let positives = ranking(&[true, true], &[0.2, 0.7]).unwrap();
        assert_eq!((positives.roc_auc, positives.average_precision), (None, Some(1.0)));
        let negatives = ranking(&[false, false], &[0.2, 0.7]).unwrap();
        assert_eq!((negatives.roc_auc, negatives.average_precision), (None, None));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(roc_auc(&[], &[]), Err(MetricsError::Empty));
        assert!(matches!(roc_auc(&[true], &[0.1, 0.2]), Err(MetricsError::LengthMismatch { .. })));
        assert_eq!(
            roc_auc(&[true, false], &[0.1, f64::NAN]),
            Err(MetricsError::NotFinite { what: "scores", index: 1 })
        );
    }
}
