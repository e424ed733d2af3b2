use super::gamma::upper_regularized;

/// `scipy.stats.chisquare(f_obs, f_exp)`'s result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquare {
    pub statistic: f64,
    pub p_value: f64,
}

/// The chi-squared survival function with `dof` degrees of freedom (`scipy.stats.chi2.sf`).
pub fn chi_squared_sf(x: f64, dof: f64) -> f64 {
    if x.is_nan() || dof <= 0.0 {
        return f64::NAN;
    }
    upper_regularized(dof / 2.0, x / 2.0)
}

/// Pearson's goodness of fit of observed counts to expected ones, `k − 1` degrees of freedom
/// (`scipy.stats.chisquare`, which Evidently's `chisquare` test calls with the current counts
/// observed and the reference counts scaled to the current total expected). An observed count
/// where none is expected makes the statistic infinite and the p-value 0, as in SciPy.
pub fn chisquare(observed: &[f64], expected: &[f64]) -> ChiSquare {
    let statistic: f64 = observed
        .iter()
        .zip(expected)
        .map(|(o, e)| {
            let diff = o - e;
            // SciPy computes 0/0 as NaN only when a key is absent from both, which never reaches here.
            if *e == 0.0 && diff == 0.0 { 0.0 } else { diff * diff / e }
        })
        .sum();
    let dof = observed.len().saturating_sub(1) as f64;
    ChiSquare { statistic, p_value: chi_squared_sf(statistic, dof) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sf_matches_known_values() {
        // chi2.sf(3.841458820694124, 1) = 0.05; chi2.sf(2, 2) = exp(-1).
        assert!((chi_squared_sf(3.841_458_820_694_124, 1.0) - 0.05).abs() < 1e-12);
        assert!((chi_squared_sf(2.0, 2.0) - (-1f64).exp()).abs() < 1e-15);
        assert_eq!(chi_squared_sf(0.0, 3.0), 1.0);
        assert_eq!(chi_squared_sf(f64::INFINITY, 3.0), 0.0);
    }

    #[test]
    fn identical_counts_do_not_drift_and_an_unseen_category_does() {
        let same = chisquare(&[10.0, 20.0, 30.0], &[10.0, 20.0, 30.0]);
        assert_eq!(same.statistic, 0.0);
        assert_eq!(same.p_value, 1.0);
        let unseen = chisquare(&[10.0, 20.0, 1.0], &[11.0, 20.0, 0.0]);
        assert!(unseen.statistic.is_infinite());
        assert_eq!(unseen.p_value, 0.0);
    }
}
