/// `scipy.stats.wasserstein_distance(u, v)` (unweighted) of two **sorted** samples: the area
/// between their empirical CDFs. Either empty gives NaN.
pub fn wasserstein_distance(u: &[f64], v: &[f64]) -> f64 {
    if u.is_empty() || v.is_empty() {
        return f64::NAN;
    }
    let (nu, nv) = (u.len() as f64, v.len() as f64);
    let (mut i, mut j) = (0, 0);
    let mut area = 0.0;
    let mut previous = u[0].min(v[0]);
    // Walk the merged order: between consecutive points both CDFs are constant.
    while i < u.len() || j < v.len() {
        let next = match (u.get(i), v.get(j)) {
            (Some(a), Some(b)) => a.min(*b),
            (Some(a), None) => *a,
            (None, Some(b)) => *b,
            (None, None) => break,
        };
        area += (i as f64 / nu - j as f64 / nv).abs() * (next - previous);
        while u.get(i).is_some_and(|x| *x == next) {
            i += 1;
        }
        while v.get(j).is_some_and(|x| *x == next) {
            j += 1;
        }
        previous = next;
    }
    area
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_is_the_distance() {
        assert!((wasserstein_distance(&[0.0, 1.0, 3.0], &[5.0, 6.0, 8.0]) - 5.0).abs() < 1e-15);
        // scipy: wasserstein_distance([0, 1, 3], [5, 6, 8]) = 5; ([0, 1], [0, 0, 1]) = 1/6.
        assert!((wasserstein_distance(&[0.0, 1.0], &[0.0, 0.0, 1.0]) - 1.0 / 6.0).abs() < 1e-15);
        assert!(wasserstein_distance(&[], &[1.0]).is_nan());
    }
}
