//! The two-sample Kolmogorov–Smirnov test as `scipy.stats.ks_2samp(a, b)` (two-sided,
//! `method="auto"`): exact when both samples have at most [`KS_EXACT_MAX_N`] values, asymptotic
//! otherwise.

/// SciPy's `MAX_AUTO_N`: the largest sample size for which `auto` computes the exact p-value.
pub const KS_EXACT_MAX_N: u64 = 10_000;

/// The statistic (the largest gap between the empirical CDFs) and its p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ks {
    pub statistic: f64,
    pub p_value: f64,
    /// Whether the p-value is SciPy's exact one (otherwise the asymptotic approximation).
    pub exact: bool,
}

/// The test on two **sorted**, non-empty samples.
pub fn ks_two_sample(a: &[f64], b: &[f64]) -> Ks {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0, 0);
    let mut d: f64 = 0.0;
    // The CDFs only change at data points; after each point both sides count values ≤ it.
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        while a.get(i).is_some_and(|x| *x == next) {
            i += 1;
        }
        while b.get(j).is_some_and(|y| *y == next) {
            j += 1;
        }
        d = d.max((i as f64 / n1 - j as f64 / n2).abs());
    }
    ks_p_value(d, a.len() as u64, b.len() as u64)
}

/// The p-value of statistic `d` for samples of `n1` and `n2` values. As SciPy, the exact path
/// first rounds `d` to a multiple of 1 / lcm(n1, n2) and returns that rounded statistic.
pub fn ks_p_value(d: f64, n1: u64, n2: u64) -> Ks {
    if n1 == 0 || n2 == 0 {
        return Ks { statistic: d, p_value: f64::NAN, exact: false };
    }
    if n1.max(n2) <= KS_EXACT_MAX_N {
        let g = gcd(n1, n2);
        let lcm = (n1 / g) * n2;
        let h = (d * lcm as f64).round_ties_even() as u64;
        let statistic = h as f64 / lcm as f64;
        if h == 0 {
            return Ks { statistic, p_value: 1.0, exact: true };
        }
        let p = if n1 == n2 { prob_outside_square(n1, h) } else { outer_prob_inside(n1, n2, g, h) };
        if (0.0..=1.0).contains(&p) {
            return Ks { statistic, p_value: p, exact: true };
        }
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = (m * n / (m + n)).round_ties_even();
    Ks { statistic: d, p_value: kolmogorov_sf(d, en), exact: false }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// SciPy's `_compute_prob_outside_square(n, h)`: P(D_{n,n} ≥ h / n), Horner-like form.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as f64, h as f64);
    let mut p = 0.0;
    let mut k = (n / h).floor();
    while k >= 0.0 {
        let mut p1 = 1.0;
        let mut j = 0.0;
        while j < h {
            p1 = (n - k * h - j) * p1 / (n + k * h + j + 1.0);
            j += 1.0;
        }
        p = p1 * (1.0 - p);
        k -= 1.0;
    }
    2.0 * p
}

/// SciPy's `_compute_outer_prob_inside_method(m, n, g, h)` (Hodges; Viehmann's recursion for
/// 1 − p): the share of lattice paths that leave the band |x/m − y/n| < h / lcm(m, n).
fn outer_prob_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as i64, (n / g) as i64);
    let (n, h) = (n as i64, h as i64);
    let ceil_div = |a: i64, b: i64| (a as f64 / b as f64).ceil() as i64;
    let floor_div = |a: i64, b: i64| (a as f64 / b as f64).floor() as i64;
    let (mut minj, mut maxj) = (0i64, ceil_div(h, mg).min(n + 1));
    let mut curlen = maxj - minj;
    let len = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len];
    for value in a.iter_mut().take(maxj as usize) {
        *value = 0.0;
    }
    for i in 1..=m as i64 {
        let (lastminj, lastlen) = (minj, curlen);
        minj = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut value = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            value = (a[(jj + minj - lastminj) as usize] * i as f64 + value * j as f64) / (i + j) as f64;
            a[jj as usize] = value;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = (maxj - minj) as usize;
            let end = (start + (lastlen - curlen) as usize).min(a.len());
            for value in &mut a[start..end] {
                *value = 1.0;
            }
        }
    }
    a[(maxj - minj - 1) as usize]
}

/// The tail of the Kolmogorov distribution at √n·d with Stephens' small-sample correction
/// (λ = (√n + 0.12 + 0.11/√n)·d). SciPy's asymptotic mode evaluates the exact finite-n
/// distribution `kstwo.sf(d, n)` instead (Simard & L'Ecuyer's several algorithms); Stephens'
/// form stays within about 1e-3 of it for the n ≥ 10 000 / 2 this path sees.
fn kolmogorov_sf(d: f64, n: f64) -> f64 {
    let root = n.sqrt();
    let lambda = (root + 0.12 + 0.11 / root) * d;
    if lambda <= 0.0 {
        return 1.0;
    }
    if lambda < 1.0 {
        // The theta-function form converges fast for small λ: 1 − √(2π)/λ Σ e^{−(2k−1)²π²/(8λ²)}.
        let factor = -std::f64::consts::PI * std::f64::consts::PI / (8.0 * lambda * lambda);
        let sum: f64 = (1..=20).map(|k| ((2 * k - 1) as f64).powi(2) * factor).map(f64::exp).sum();
        return (1.0 - (2.0 * std::f64::consts::PI).sqrt() / lambda * sum).clamp(0.0, 1.0);
    }
    let sum: f64 = (1..=100)
        .map(|k| {
            let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
            sign * (-2.0 * (k * k) as f64 * lambda * lambda).exp()
        })
        .sum();
    (2.0 * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_have_p_one() {
        let ks = ks_two_sample(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]);
        assert_eq!((ks.statistic, ks.p_value), (0.0, 1.0));
    }

    #[test]
    fn disjoint_small_samples_match_scipy() {
        // ks_2samp([1, 2, 3], [4, 5, 6, 7]): statistic 1, p = 2 / C(7, 3) = 0.05714285714285714.
        let ks = ks_two_sample(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0, 7.0]);
        assert_eq!(ks.statistic, 1.0);
        assert!((ks.p_value - 2.0 / 35.0).abs() < 1e-15, "{}", ks.p_value);
        // Equal sizes: ks_2samp([1, 2, 3], [4, 5, 6]) p = 2 / C(6, 3) = 0.1.
        let square = ks_two_sample(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        assert!((square.p_value - 0.1).abs() < 1e-15, "{}", square.p_value);
    }

    #[test]
    fn the_asymptotic_tail_is_the_kolmogorov_distribution() {
        // kstwobign.sf(1.3581015157406195) = 0.05, before Stephens' correction (large n).
        let p = kolmogorov_sf(1.358_101_515_740_619_5 / 1e6, 1e12);
        assert!((p - 0.05).abs() < 1e-6, "{p}");
    }
}
