//! Least squares with an L2 penalty, solved exactly: the normal equations on standardised
//! features, by Cholesky. The penalty applies to the raw-feature coefficients, as
//! scikit-learn's `Ridge(alpha=l2)` does, so `l2` means the same in both.

use super::standardize::Standardized;
use crate::LearnError;

/// Coefficients (raw features) and intercept minimising ‖y − Xβ − b‖² + l2‖β‖².
pub(crate) fn solve(data: &Standardized, y: &[f64], l2: f64) -> Result<(Vec<f64>, f64), LearnError> {
    let features = data.columns.len();
    let rows = data.rows() as f64;
    let y_mean = y.iter().sum::<f64>() / rows;
    let mut gram = vec![0.0; features * features];
    let mut rhs = vec![0.0; features];
    for j in 0..features {
        let zj = &data.columns[j];
        rhs[j] = zj.iter().zip(y).map(|(z, y)| z * (y - y_mean)).sum();
        for k in 0..=j {
            let value: f64 = zj.iter().zip(&data.columns[k]).map(|(a, b)| a * b).sum();
            gram[j * features + k] = value;
            gram[k * features + j] = value;
        }
    }
    for j in 0..features {
        let diagonal = &mut gram[j * features + j];
        if *diagonal == 0.0 {
            // A constant feature: its column is zeros, and so is its coefficient.
            *diagonal = 1.0;
        } else {
            // β = γ / σ, so l2·β² = (l2 / σ²)·γ².
            *diagonal += l2 / (data.scale[j] * data.scale[j]);
        }
    }
    let gamma = cholesky_solve(&mut gram, &rhs, features, rows).ok_or(LearnError::Singular)?;
    Ok(data.unscale(&gamma, y_mean))
}

/// Solves `a x = b` for symmetric positive definite `a` (overwritten by its factor); `None`
/// when a pivot is negligible against `scale` (the matrix is singular for practical purposes).
pub(crate) fn cholesky_solve(a: &mut [f64], b: &[f64], n: usize, scale: f64) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut diagonal = a[j * n + j];
        for k in 0..j {
            diagonal -= a[j * n + k] * a[j * n + k];
        }
        if diagonal <= 1e-10 * scale.max(1.0) {
            return None;
        }
        let diagonal = diagonal.sqrt();
        a[j * n + j] = diagonal;
        for i in j + 1..n {
            let mut value = a[i * n + j];
            for k in 0..j {
                value -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = value / diagonal;
        }
    }
    let mut x = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            x[i] -= a[i * n + k] * x[k];
        }
        x[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            x[i] -= a[k * n + i] * x[k];
        }
        x[i] /= a[i * n + i];
    }
    Some(x)
}
