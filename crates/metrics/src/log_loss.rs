//! Log loss as scikit-learn 1.x computes it: probabilities clipped to [ε, 1 − ε] with ε the
//! machine epsilon of f64 (no `eps` argument since 1.5), so a confident miss costs about 36, not ∞.

/// −ln of the probability given to the true class, clipped.
pub(crate) fn row_loss(probability_of_truth: f64) -> f64 {
    -probability_of_truth.clamp(f64::EPSILON, 1.0 - f64::EPSILON).ln()
}
