/// `scipy.spatial.distance.jensenshannon(p, q)` with its default natural logarithm (Evidently
/// passes `base=None`): both are normalized to sum 1, then √(½ KL(p‖m) + ½ KL(q‖m)), m = (p+q)/2.
/// No zero filling (Evidently bins with `feel_zeroes=False` here). Ranges over [0, √ln 2].
pub fn jensen_shannon_distance(p: &[f64], q: &[f64]) -> f64 {
    let (p_total, q_total): (f64, f64) = (p.iter().sum(), q.iter().sum());
    let divergence: f64 = p
        .iter()
        .zip(q)
        .map(|(p, q)| {
            let (p, q) = (p / p_total, q / q_total);
            let m = (p + q) / 2.0;
            relative_entropy(p, m) + relative_entropy(q, m)
        })
        .sum();
    (divergence / 2.0).max(0.0).sqrt()
}

/// `scipy.special.rel_entr`: x ln(x / y), 0 at x = 0.
fn relative_entropy(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_and_disjoint_distributions() {
        assert_eq!(jensen_shannon_distance(&[1.0, 2.0], &[2.0, 4.0]), 0.0);
        let disjoint = jensen_shannon_distance(&[1.0, 0.0], &[0.0, 1.0]);
        assert!((disjoint - std::f64::consts::LN_2.sqrt()).abs() < 1e-15);
    }
}
