use serde::{Deserialize, Serialize};

/// Evidently's boundary between a "small" and a "large" reference: at most this many rows picks a
/// significance test, more picks a distance (`registry.py`, `_get_default_stattest`).
pub const SMALL_REFERENCE: u64 = 1000;

/// Numeric or categorical: decides which methods apply and which one is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Numeric,
    Categorical,
}

/// A drift statistic, named as Evidently names its stattests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Two-sample Kolmogorov–Smirnov p-value (numeric only).
    Ks,
    /// Pearson chi-squared p-value of current counts against scaled reference counts.
    ChiSquare,
    /// Two-proportion Z-test p-value (two values).
    Z,
    /// Wasserstein distance divided by the reference's standard deviation (numeric only).
    Wasserstein,
    /// Jensen–Shannon distance (natural log) of binned shares.
    JensenShannon,
    /// Population stability index of binned shares.
    Psi,
}

impl Method {
    /// Evidently's `default_threshold` of each stattest.
    pub fn default_threshold(self) -> f64 {
        match self {
            Method::Ks | Method::ChiSquare | Method::Z => 0.05,
            Method::Wasserstein | Method::JensenShannon | Method::Psi => 0.1,
        }
    }

    /// A p-value drifts when small, a distance when large.
    pub fn is_p_value(self) -> bool {
        matches!(self, Method::Ks | Method::ChiSquare | Method::Z)
    }

    /// Evidently's comparisons, kept exactly: K–S drifts at `p ≤ threshold`, chi-squared and Z at
    /// `p < threshold`, the distances at `value ≥ threshold`.
    pub fn drifted(self, value: f64, threshold: f64) -> bool {
        match self {
            Method::Ks => value <= threshold,
            Method::ChiSquare | Method::Z => value < threshold,
            Method::Wasserstein | Method::JensenShannon | Method::Psi => value >= threshold,
        }
    }

    pub fn applies_to(self, kind: Kind) -> bool {
        kind == Kind::Numeric || !matches!(self, Method::Ks | Method::Wasserstein)
    }

    /// Evidently's default by kind, reference rows and distinct values of reference and current
    /// together: a small reference gets a test (Z for ≤ 2 values, chi-squared for ≤ 5 or any
    /// categorical, else K–S), a large one a distance (Jensen–Shannon for categorical or ≤ 5
    /// values, else Wasserstein).
    pub fn default_for(kind: Kind, reference_rows: u64, distinct: usize) -> Method {
        let few = distinct <= 5;
        match (reference_rows <= SMALL_REFERENCE, kind) {
            (true, _) if distinct <= 2 => Method::Z,
            (true, Kind::Categorical) => Method::ChiSquare,
            (true, Kind::Numeric) if few => Method::ChiSquare,
            (true, Kind::Numeric) => Method::Ks,
            (false, Kind::Categorical) => Method::JensenShannon,
            (false, Kind::Numeric) if few => Method::JensenShannon,
            (false, Kind::Numeric) => Method::Wasserstein,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_evidently() {
        assert_eq!(Method::default_for(Kind::Numeric, 1000, 50), Method::Ks);
        assert_eq!(Method::default_for(Kind::Numeric, 1001, 50), Method::Wasserstein);
        assert_eq!(Method::default_for(Kind::Numeric, 500, 4), Method::ChiSquare);
        assert_eq!(Method::default_for(Kind::Numeric, 500, 2), Method::Z);
        assert_eq!(Method::default_for(Kind::Numeric, 5000, 5), Method::JensenShannon);
        assert_eq!(Method::default_for(Kind::Categorical, 500, 3), Method::ChiSquare);
        assert_eq!(Method::default_for(Kind::Categorical, 500, 2), Method::Z);
        assert_eq!(Method::default_for(Kind::Categorical, 5000, 2), Method::JensenShannon);
        assert!(Method::Ks.drifted(0.05, 0.05) && !Method::ChiSquare.drifted(0.05, 0.05));
        assert!(Method::Psi.drifted(0.1, 0.1));
    }
}
