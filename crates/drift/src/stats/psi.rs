/// Evidently's zero filling before PSI (`get_binned_data(..., feel_zeroes=True)`): each array's
/// empty bins become the smallest non-empty share / 10⁶ if that share is ≤ 10⁻⁴, else 10⁻⁴. The
/// shares are not renormalized afterwards, as in Evidently. All-zero input is left as is.
pub fn fill_zeros(shares: &mut [f64]) {
    let smallest = shares.iter().copied().filter(|share| *share != 0.0).fold(f64::INFINITY, f64::min);
    if smallest.is_infinite() {
        return;
    }
    let fill = if smallest <= 1e-4 { smallest / 1e6 } else { 1e-4 };
    for share in shares.iter_mut().filter(|share| **share == 0.0) {
        *share = fill;
    }
}

/// Population stability index Σ (r − c) · ln(r / c) over bin shares, after [`fill_zeros`] on
/// copies of both (Evidently's `psi`; the shares are the bins' fractions of each sample).
pub fn psi(reference: &[f64], current: &[f64]) -> f64 {
    let (mut reference, mut current) = (reference.to_vec(), current.to_vec());
    fill_zeros(&mut reference);
    fill_zeros(&mut current);
    reference.iter().zip(&current).map(|(r, c)| (r - c) * (r / c).ln()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_shares_have_zero_psi() {
        assert_eq!(psi(&[0.2, 0.3, 0.5], &[0.2, 0.3, 0.5]), 0.0);
    }

    #[test]
    fn hand_computed_psi() {
        let expected = (0.5 - 0.3) * (0.5f64 / 0.3).ln() + (0.5 - 0.7) * (0.5f64 / 0.7).ln();
        assert!((psi(&[0.5, 0.5], &[0.3, 0.7]) - expected).abs() < 1e-15);
    }

    #[test]
    fn an_empty_bin_is_filled_not_infinite() {
        // The current's empty bin becomes 1e-4: (0.5 − 1e-4)·ln(0.5 / 1e-4) + (0.5 − 1)·ln(0.5).
        let expected = (0.5 - 1e-4) * (0.5f64 / 1e-4).ln() + (0.5 - 1.0) * 0.5f64.ln();
        assert!((psi(&[0.5, 0.5], &[0.0, 1.0]) - expected).abs() < 1e-12);
        let mut tiny = [0.0, 5e-5, 1.0 - 5e-5];
        fill_zeros(&mut tiny);
        assert_eq!(tiny[0], 5e-11);
    }
}
