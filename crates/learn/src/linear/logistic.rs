//! Logistic regression, binary and multinomial (softmax), with scikit-learn's objective:
//! Σ log loss + (l2 / 2)·‖β‖² on the raw-feature coefficients, intercepts not penalised — so
//! l2 = 1 is `LogisticRegression(C=1)`. Minimised (divided by the row count) by L-BFGS on
//! standardised features.

use super::lbfgs;
use super::standardize::Standardized;
use crate::gbdt::sigmoid;

/// The problem: standardised features, class codes, how many score columns (1 for binary).
pub(crate) struct Logistic<'a> {
    pub(crate) data: &'a Standardized,
    pub(crate) codes: &'a [u32],
    pub(crate) outputs: usize,
    pub(crate) l2: f64,
}

/// Raw coefficients (`outputs × features`, row-major) and intercepts of a fitted model.
pub(crate) struct Fitted {
    pub(crate) coefficients: Vec<f64>,
    pub(crate) intercepts: Vec<f64>,
}

impl Logistic<'_> {
    pub(crate) fn fit(&self, tol: f64, max_iter: usize, mut on_iteration: impl FnMut(&Fitted)) -> Fitted {
        let features = self.data.columns.len();
        let start = vec![0.0; self.outputs * (features + 1)];
        let theta = lbfgs::minimize(
            start,
            |theta, gradient| self.objective(theta, gradient),
            tol,
            max_iter,
            |theta| on_iteration(&self.unscale(theta)),
        );
        self.unscale(&theta)
    }

    fn unscale(&self, theta: &[f64]) -> Fitted {
        let features = self.data.columns.len();
        let mut coefficients = Vec::with_capacity(self.outputs * features);
        let mut intercepts = Vec::with_capacity(self.outputs);
        for block in theta.chunks(features + 1) {
            let (raw, intercept) = self.data.unscale(&block[..features], block[features]);
            coefficients.extend(raw);
            intercepts.push(intercept);
        }
        Fitted { coefficients, intercepts }
    }

    /// The mean penalised loss at `theta` (per output: coefficients then intercept), its
    /// gradient written into `gradient`.
    fn objective(&self, theta: &[f64], gradient: &mut [f64]) -> f64 {
        let features = self.data.columns.len();
        let rows = self.data.rows();
        let mut margins = vec![0.0; self.outputs * rows];
        for (output, block) in theta.chunks(features + 1).enumerate() {
            let part = &mut margins[output * rows..(output + 1) * rows];
            part.fill(block[features]);
            for (column, &gamma) in self.data.columns.iter().zip(&block[..features]) {
                for (margin, z) in part.iter_mut().zip(column) {
                    *margin += gamma * z;
                }
            }
        }
        // Margins become residuals (p − y) in place.
        let loss = residuals(&mut margins, self.codes, self.outputs);
        let mut penalty = 0.0;
        for (output, (block, grad)) in
            theta.chunks(features + 1).zip(gradient.chunks_mut(features + 1)).enumerate()
        {
            let residual = &margins[output * rows..(output + 1) * rows];
            for j in 0..features {
                let weight = self.l2 / (self.data.scale[j] * self.data.scale[j]);
                let dot: f64 = residual.iter().zip(&self.data.columns[j]).map(|(r, z)| r * z).sum();
                grad[j] = (dot + weight * block[j]) / rows as f64;
                penalty += 0.5 * weight * block[j] * block[j];
            }
            grad[features] = residual.iter().sum::<f64>() / rows as f64;
        }
        (loss + penalty) / rows as f64
    }
}

/// Replaces margins (`outputs × rows`) by p − y and returns the summed log loss.
fn residuals(margins: &mut [f64], codes: &[u32], outputs: usize) -> f64 {
    let rows = codes.len();
    let mut loss = 0.0;
    if outputs == 1 {
        for (margin, &code) in margins.iter_mut().zip(codes) {
            let signed = if code == 1 { -*margin } else { *margin };
            loss += signed.max(0.0) + (-signed.abs()).exp().ln_1p();
            *margin = sigmoid(*margin) - f64::from(code);
        }
        return loss;
    }
    let mut row_margins = vec![0.0; outputs];
    for (row, &code) in codes.iter().enumerate() {
        for (output, margin) in row_margins.iter_mut().enumerate() {
            *margin = margins[output * rows + row];
        }
        let max = row_margins.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = max + row_margins.iter().map(|m| (m - max).exp()).sum::<f64>().ln();
        loss += log_sum - row_margins[code as usize];
        for (output, margin) in row_margins.iter().enumerate() {
            let y = if output == code as usize { 1.0 } else { 0.0 };
            margins[output * rows + row] = (margin - log_sum).exp() - y;
        }
    }
    loss
}
