use thiserror::Error;

use crate::Method;

/// Why a drift statistic could not be computed. Evidently raises on the same cases (an empty
/// column after dropping missing values); a verdict on no data would be a silent "no drift".
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DriftError {
    #[error("the reference has no (non-missing) values")]
    EmptyReference,
    #[error("the current window has no (non-missing) values")]
    EmptyWindow,
    #[error("the window was not made from this reference (its bins differ)")]
    ForeignWindow,
    #[error("{method:?} does not apply to {kind} features")]
    NotApplicable { method: Method, kind: &'static str },
    #[error("threshold {0} is not a finite number")]
    BadThreshold(f64),
    #[error("share threshold {0} is not in [0, 1]")]
    BadShare(f64),
}
