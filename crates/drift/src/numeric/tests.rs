use super::*;

#[test]
fn an_empty_window_is_an_error_not_a_verdict() {
    let reference = NumericReference::from_values(&[1.0, 2.0, 3.0]).unwrap();
    let mut window = reference.window();
    window.add(f64::NAN);
    assert_eq!(reference.verdict(&window, &DriftOptions::default()), Err(DriftError::EmptyWindow));
    assert_eq!(NumericReference::from_values(&[f64::NAN]), Err(DriftError::EmptyReference));
}

#[test]
fn missing_values_are_counted_apart() {
    let reference = NumericReference::from_values(&[1.0, f64::NAN, 2.0, f64::INFINITY]).unwrap();
    assert_eq!((reference.count(), reference.missing()), (2, 2));
    let mut window = reference.window();
    window.add_many(&[1.0, f64::NAN, f64::NEG_INFINITY, 2.0]);
    assert_eq!((window.count(), window.missing()), (2, 2));
    // Missing values do not move the distribution: no drift.
    let verdict = reference.verdict(&window, &DriftOptions::default()).unwrap();
    assert!(!verdict.drifted, "{verdict:?}");
}

#[test]
fn a_constant_reference_norms_by_the_floor() {
    let reference = NumericReference::from_values(&[3.0; 2000]).unwrap();
    assert_eq!(reference.std(), 0.0);
    let mut window = reference.window();
    window.add_many(&[3.0; 500]);
    window.add_many(&[3.01; 500]);
    // Half the mass moved by 0.01: W = 0.005, normed by 0.001 → 5.
    let w = reference.statistic(&window, Method::Wasserstein).unwrap();
    assert!((w - 5.0).abs() < 1e-9, "{w}");
    // One reference value and one new: Jensen–Shannon by default, and it drifts.
    let verdict = reference.verdict(&window, &DriftOptions::default()).unwrap();
    assert_eq!(verdict.method, Method::JensenShannon);
    assert!(verdict.drifted);
}

#[test]
fn a_shift_drifts_and_the_same_distribution_does_not() {
    let reference_values: Vec<f64> = (0..5000).map(|i| f64::from(i % 1000) / 10.0).collect();
    let reference = NumericReference::from_values(&reference_values).unwrap();
    let mut same = reference.window();
    same.add_many(&reference_values[..3000]);
    let verdict = reference.verdict(&same, &DriftOptions::default()).unwrap();
    assert_eq!(verdict.method, Method::Wasserstein);
    assert!(!verdict.drifted, "{verdict:?}");
    let mut shifted = reference.window();
    shifted.add_many(&reference_values.iter().map(|v| v + 20.0).collect::<Vec<_>>());
    let verdict = reference.verdict(&shifted, &DriftOptions::default()).unwrap();
    // The tail beyond the reference's max is exact: the mean moved by 20, std ≈ 28.87.
    assert!((verdict.value - 20.0 / reference.std()).abs() < 1e-3, "{verdict:?}");
    assert!(verdict.drifted);
}

#[test]
fn options_override_method_and_threshold_and_reject_misfits() {
    let reference = NumericReference::from_values(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]).unwrap();
    let mut window = reference.window();
    window.add_many(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    let options = DriftOptions { method: Some(Method::Psi), threshold: Some(0.2) };
    let verdict = reference.verdict(&window, &options).unwrap();
    assert_eq!((verdict.method, verdict.threshold, verdict.value), (Method::Psi, 0.2, 0.0));
    let other = NumericReference::from_values(&[1.0, 2.0]).unwrap();
    assert_eq!(other.verdict(&window, &options), Err(DriftError::ForeignWindow));
}

#[test]
fn merged_windows_equal_one_window() {
    let values: Vec<f64> = (0..3000).map(|i| (f64::from(i) * 0.37).sin() * 10.0).collect();
    let reference = NumericReference::from_values(&values).unwrap();
    let mut whole = reference.window();
    whole.add_many(&values[..2500]);
    let (mut a, mut b) = (reference.window(), reference.window());
    a.add_many(&values[..1200]);
    b.add_many(&values[1200..2500]);
    a.merge(&b).unwrap();
    assert_eq!(a.counts, whole.counts);
    assert_eq!(a.count(), 2500);
    assert!(a.sample.is_none(), "2500 values are past the sample cap");
}
