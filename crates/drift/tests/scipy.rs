//! Every statistic against SciPy / NumPy, computed in Python the way Evidently computes it, on
//! seeded random data: normal against shifted normal with small references (exact K–S and
//! Wasserstein), a small reference against a large window (K–S's asymptotic p-value), large
//! samples (Sturges bins, PSI, Jensen–Shannon, Wasserstein from bins), and categorical data with
//! unseen categories. The test Python (`cairn_testkit::python()`) runs `tests/scipy_reference.py`.

#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]


use cairn_drift::{CategoricalReference, Method, NumericReference};
use serde_json::{Value, json};

/// Where the computation is the same as SciPy's.
const SAME: f64 = 1e-9;
/// K–S p-value past 10 000 values: SciPy evaluates the finite-n distribution `kstwo`, we the
/// limiting one with Stephens' correction.
const KS_ASYMPTOTIC: f64 = 2e-3;
/// Wasserstein (normed by the reference std) from bins against SciPy's exact value on the raw
/// data: mass spread evenly within each of ~120 bins.
const WASSERSTEIN_BINNED: f64 = 2e-3;

/// SplitMix64: seeded, no dependency, the same cases on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    fn normals(&mut self, n: usize, mean: f64, std: f64) -> Vec<f64> {
        (0..n).map(|_| mean + std * self.normal()).collect()
    }

    fn categories(&mut self, n: usize, weights: &[(&'static str, f64)]) -> Vec<&'static str> {
        let total: f64 = weights.iter().map(|(_, w)| w).sum();
        (0..n)
            .map(|_| {
                let mut u = self.uniform() * total;
                for (name, weight) in weights {
                    if u < *weight {
                        return *name;
                    }
                    u -= weight;
                }
                weights[weights.len() - 1].0
            })
            .collect()
    }
}

struct NumericCase {
    name: &'static str,
    reference: Vec<f64>,
    current: Vec<f64>,
}

fn scipy(cases: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scipy_reference.py");
    serde_json::from_slice(&cairn_testkit::run_python(script, cases.to_string().as_bytes())).unwrap()
}

fn close(what: &str, ours: f64, theirs: &Value, tolerance: f64) {
    let theirs = theirs.as_f64().unwrap_or_else(|| panic!("{what}: SciPy gave {theirs}"));
    assert!(
        (ours - theirs).abs() <= tolerance,
        "{what}: ours {ours}, SciPy {theirs} (tolerance {tolerance})"
    );
}

#[test]
fn numeric_statistics_match_scipy() {
    let mut rng = Rng(7);
    let cases = vec![
        NumericCase {
            name: "small shifted",
            reference: rng.normals(500, 0.0, 1.0),
            current: rng.normals(300, 0.4, 1.0),
        },
        NumericCase {
            name: "small same size",
            reference: rng.normals(400, 5.0, 2.0),
            current: rng.normals(400, 5.3, 2.0),
        },
        NumericCase {
            name: "small unshifted",
            reference: rng.normals(800, 0.0, 1.0),
            current: rng.normals(700, 0.0, 1.0),
        },
        NumericCase {
            name: "small vs large",
            reference: rng.normals(900, 0.0, 1.0),
            current: rng.normals(20_000, 0.08, 1.0),
        },
        NumericCase {
            name: "large shifted",
            reference: rng.normals(50_000, 10.0, 3.0),
            current: rng.normals(30_000, 10.6, 3.3),
        },
        NumericCase {
            name: "large unshifted",
            reference: rng.normals(40_000, 0.0, 1.0),
            current: rng.normals(20_000, 0.0, 1.0),
        },
    ];
    let mut built = Vec::new();
    let mut payload = Vec::new();
    for case in &cases {
        let reference = NumericReference::from_values(&case.reference).unwrap();
        let mut window = reference.window();
        // Two windows merged, as partitions would be.
        let (first, second) = case.current.split_at(case.current.len() / 3);
        window.add_many(first);
        let mut rest = reference.window();
        rest.add_many(second);
        window.merge(&rest).unwrap();
        let bins = reference.bin_counts(&window).unwrap();
        payload.push(json!({
            "reference": case.reference,
            "current": case.current,
            "bins_ref": bins.iter().map(|b| b.0).collect::<Vec<_>>(),
            "bins_cur": bins.iter().map(|b| b.1).collect::<Vec<_>>(),
        }));
        built.push((reference, window, bins));
    }
    let expected = scipy(&json!({ "numeric": payload, "categorical": [] }));
    for ((case, (reference, window, bins)), theirs) in
        cases.iter().zip(&built).zip(expected["numeric"].as_array().unwrap())
    {
        let name = case.name;
        let small = case.reference.len() <= 1000;
        let ks_exact = case.reference.len().max(case.current.len()) <= 10_000;
        let ks = reference.statistic(window, Method::Ks).unwrap();
        if small {
            let tolerance = if ks_exact { SAME } else { KS_ASYMPTOTIC };
            close(&format!("{name}: ks p-value"), ks, &theirs["ks_p_value"], tolerance);
        }
        let wasserstein = reference.statistic(window, Method::Wasserstein).unwrap();
        let exact = small && case.current.len() <= 1000;
        let tolerance = if exact { SAME } else { WASSERSTEIN_BINNED };
        close(&format!("{name}: wasserstein"), wasserstein, &theirs["wasserstein_normed"], tolerance);
        close(
            &format!("{name}: psi"),
            reference.statistic(window, Method::Psi).unwrap(),
            &theirs["psi"],
            SAME,
        );
        close(
            &format!("{name}: jensen-shannon"),
            reference.statistic(window, Method::JensenShannon).unwrap(),
            &theirs["jensenshannon"],
            SAME,
        );
        // The bins are NumPy's Sturges histogram of the reference, plus the current's tails.
        let histogram: Vec<u64> =
            theirs["ref_histogram"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        let cur_histogram: Vec<u64> =
            theirs["cur_histogram"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        let below = theirs["cur_below"].as_u64().unwrap();
        let above = theirs["cur_above"].as_u64().unwrap();
        let inner = &bins[usize::from(below > 0)..bins.len() - usize::from(above > 0)];
        assert_eq!(inner.iter().map(|b| b.0).collect::<Vec<_>>(), histogram, "{name}: reference bins");
        // NumPy's histogram drops out-of-range values; its last bin is closed, as ours.
        assert_eq!(inner.iter().map(|b| b.1).collect::<Vec<_>>(), cur_histogram, "{name}: current bins");
        if below > 0 {
            assert_eq!(bins[0], (0, below), "{name}: below");
        }
        if above > 0 {
            assert_eq!(bins[bins.len() - 1], (0, above), "{name}: above");
        }
    }
}

#[test]
fn ks_statistic_is_exact_for_a_small_reference_whatever_the_window() {
    let mut rng = Rng(11);
    let reference_values = rng.normals(600, 0.0, 1.0);
    let current = rng.normals(50_000, 0.1, 1.2);
    let reference = NumericReference::from_values(&reference_values).unwrap();
    let mut window = reference.window();
    window.add_many(&current);
    let mut sorted_ref = reference_values.clone();
    sorted_ref.sort_by(f64::total_cmp);
    let mut sorted_cur = current.clone();
    sorted_cur.sort_by(f64::total_cmp);
    let raw = cairn_drift::stats::ks_two_sample(&sorted_ref, &sorted_cur);
    let expected = scipy(&json!({ "numeric": [{
        "reference": reference_values, "current": current, "bins_ref": [1], "bins_cur": [1],
    }], "categorical": [] }));
    close("ks statistic (raw)", raw.statistic, &expected["numeric"][0]["ks_statistic"], SAME);
    close(
        "ks p (window)",
        reference.statistic(&window, Method::Ks).unwrap(),
        &expected["numeric"][0]["ks_p_value"],
        KS_ASYMPTOTIC,
    );
}

#[test]
fn categorical_statistics_match_scipy() {
    let mut rng = Rng(3);
    let weights = [("a", 5.0), ("b", 3.0), ("c", 1.0), ("d", 0.5)];
    let shifted = [("a", 4.0), ("b", 3.0), ("c", 1.5), ("d", 0.5), ("new", 0.1)];
    let cases = [
        ("small same", rng.categories(400, &weights), rng.categories(300, &weights)),
        ("small shifted", rng.categories(600, &weights), rng.categories(500, &shifted[..4])),
        ("large unseen", rng.categories(5000, &weights), rng.categories(3000, &shifted)),
        (
            "binary",
            rng.categories(700, &[("no", 3.0), ("yes", 1.0)]),
            rng.categories(500, &[("no", 2.0), ("yes", 1.0)]),
        ),
    ];
    let payload: Vec<Value> = cases.iter().map(|(_, r, c)| json!({ "reference": r, "current": c })).collect();
    let expected = scipy(&json!({ "numeric": [], "categorical": payload }));
    for ((name, reference_values, current), theirs) in
        cases.iter().zip(expected["categorical"].as_array().unwrap())
    {
        let reference = CategoricalReference::from_values(reference_values.iter().map(|v| Some(*v))).unwrap();
        let mut window = reference.window();
        window.add_many(current.iter().map(|v| Some(*v)));
        let statistic = |method| reference.statistic(&window, method).unwrap();
        close(
            &format!("{name}: chi-squared"),
            statistic(Method::ChiSquare),
            &theirs["chisquare_p_value"],
            SAME,
        );
        close(
            &format!("{name}: jensen-shannon"),
            statistic(Method::JensenShannon),
            &theirs["jensenshannon"],
            SAME,
        );
        close(&format!("{name}: psi"), statistic(Method::Psi), &theirs["psi"], SAME);
        close(&format!("{name}: z"), statistic(Method::Z), &theirs["z_p_value"], SAME);
    }
}
