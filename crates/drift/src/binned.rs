//! The statistics that only need counts per bin (or per category), shared by numeric and
//! categorical features.

use crate::Method;
use crate::stats::{chisquare, jensen_shannon_distance, psi, z_test_p_value};

/// `method` on paired counts (reference, current) per bin, bins in sorted key order. `None` for
/// the methods that need positions (K–S, Wasserstein).
pub(crate) fn statistic(method: Method, bins: &[(u64, u64)]) -> Option<f64> {
    let ref_total: u64 = bins.iter().map(|(r, _)| r).sum();
    let cur_total: u64 = bins.iter().map(|(_, c)| c).sum();
    let shares = |total: u64, pick: fn(&(u64, u64)) -> u64| -> Vec<f64> {
        bins.iter().map(|bin| pick(bin) as f64 / total as f64).collect()
    };
    match method {
        Method::Psi => Some(psi(&shares(ref_total, |b| b.0), &shares(cur_total, |b| b.1))),
        Method::JensenShannon => {
            Some(jensen_shannon_distance(&shares(ref_total, |b| b.0), &shares(cur_total, |b| b.1)))
        }
        Method::ChiSquare => {
            let scale = cur_total as f64 / ref_total as f64;
            let observed: Vec<f64> = bins.iter().map(|(_, c)| *c as f64).collect();
            let expected: Vec<f64> = bins.iter().map(|(r, _)| *r as f64 * scale).collect();
            Some(chisquare(&observed, &expected).p_value)
        }
        Method::Z => {
            // Evidently maps the smallest key to one side and every other value to the other.
            let (ref_first, cur_first) = bins.iter().find(|(r, c)| r + c > 0).copied().unwrap_or((0, 0));
            Some(z_test_p_value(ref_first, ref_total, cur_first, cur_total))
        }
        Method::Ks | Method::Wasserstein => None,
    }
}
