//! A small L-BFGS minimiser (ten pairs, backtracking Armijo line search) for the logistic
//! losses, which are smooth and, with an L2 penalty, strictly convex.

const MEMORY: usize = 10;

/// Minimises `f` (which returns the value and fills the gradient) from `x`, stopping when every
/// gradient component is within `tol` or after `max_iter` iterations. `on_iteration` sees each
/// accepted point.
pub(crate) fn minimize(
    mut x: Vec<f64>,
    f: impl Fn(&[f64], &mut [f64]) -> f64,
    tol: f64,
    max_iter: usize,
    mut on_iteration: impl FnMut(&[f64]),
) -> Vec<f64> {
    let n = x.len();
    let mut gradient = vec![0.0; n];
    let mut value = f(&x, &mut gradient);
    let mut pairs: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new();
    let mut iterations = 0;
    let mut next = vec![0.0; n];
    let mut next_gradient = vec![0.0; n];
    while iterations < max_iter && max_abs(&gradient) > tol {
        iterations += 1;
        let direction = two_loop(&gradient, &pairs);
        let slope: f64 = direction.iter().zip(&gradient).map(|(d, g)| d * g).sum();
        let (direction, slope) = if slope < 0.0 {
            (direction, slope)
        } else {
            // Not a descent direction (lost curvature): restart from steepest descent.
            pairs.clear();
            let steepest: Vec<f64> = gradient.iter().map(|g| -g).collect();
            let slope = -gradient.iter().map(|g| g * g).sum::<f64>();
            (steepest, slope)
        };
        let mut step = if pairs.is_empty() { 1.0 / norm(&direction).max(1.0) } else { 1.0 };
        let mut accepted = false;
        for _ in 0..60 {
            for ((next, x), d) in next.iter_mut().zip(&x).zip(&direction) {
                *next = x + step * d;
            }
            let next_value = f(&next, &mut next_gradient);
            if next_value <= value + 1e-4 * step * slope {
                value = next_value;
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
        let s: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next_gradient.iter().zip(&gradient).map(|(a, b)| a - b).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        if sy > 1e-12 {
            if pairs.len() == MEMORY {
                pairs.remove(0);
            }
            pairs.push((s, y, 1.0 / sy));
        }
        std::mem::swap(&mut x, &mut next);
        std::mem::swap(&mut gradient, &mut next_gradient);
        on_iteration(&x);
    }
    x
}

/// −H·g with the inverse Hessian approximated from the stored pairs.
fn two_loop(gradient: &[f64], pairs: &[(Vec<f64>, Vec<f64>, f64)]) -> Vec<f64> {
    let mut q = gradient.to_vec();
    let mut alphas = vec![0.0; pairs.len()];
    for (index, (s, y, rho)) in pairs.iter().enumerate().rev() {
        let alpha = rho * dot(s, &q);
        alphas[index] = alpha;
        for (q, y) in q.iter_mut().zip(y) {
            *q -= alpha * y;
        }
    }
    if let Some((s, y, _)) = pairs.last() {
        let gamma = dot(s, y) / dot(y, y);
        for q in &mut q {
            *q *= gamma;
        }
    }
    for ((s, y, rho), alpha) in pairs.iter().zip(&alphas) {
        let beta = rho * dot(y, &q);
        for (q, s) in q.iter_mut().zip(s) {
            *q += (alpha - beta) * s;
        }
    }
    q.iter().map(|q| -q).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |max, value| max.max(value.abs()))
}
