use super::gamma::upper_regularized;

/// Evidently's two-proportion Z-test (`z_stat_test`), two-sided: `ref_hits` of `ref_total`
/// against `cur_hits` of `cur_total` with the pooled proportion. 1 when both samples are the same
/// single value (Evidently's special case); 2·(1 − Φ(|z|)) = Q(½, z²/2) otherwise.
pub fn z_test_p_value(ref_hits: u64, ref_total: u64, cur_hits: u64, cur_total: u64) -> f64 {
    let (n1, n2) = (ref_total as f64, cur_total as f64);
    let (p1, p2) = (ref_hits as f64 / n1, cur_hits as f64 / n2);
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2);
    if variance <= 0.0 {
        return 1.0;
    }
    let z = (p1 - p2) / variance.sqrt();
    upper_regularized(0.5, z * z / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_proportions_and_a_known_z() {
        assert!((z_test_p_value(30, 100, 60, 200) - 1.0).abs() < 1e-15);
        assert_eq!(z_test_p_value(0, 10, 0, 20), 1.0);
        // p1 = 0.5, p2 = 0.3, n = 100 each: z = 0.2 / √(0.4·0.6·0.02) = 2.886751…, p = 0.003892…
        let p = z_test_p_value(50, 100, 30, 100);
        assert!((p - 0.003_892_417_122_778_637).abs() < 1e-12, "{p}");
    }
}
