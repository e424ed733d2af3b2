use super::*;

fn reference(values: &[&str]) -> CategoricalReference {
    CategoricalReference::from_values(values.iter().map(|v| Some(*v))).unwrap()
}

#[test]
fn an_unseen_category_drifts_by_chi_squared() {
    let reference = reference(&["a", "b", "c", "a", "b", "a"]);
    let mut window = reference.window();
    window.add_many(["a", "b", "c", "z"].map(Some));
    let verdict = reference.verdict(&window, &DriftOptions::default()).unwrap();
    assert_eq!(verdict.method, Method::ChiSquare);
    assert_eq!(verdict.value, 0.0);
    assert!(verdict.drifted);
    assert_eq!(reference.bin_counts(&window).unwrap(), vec![(3, 1), (2, 1), (1, 1), (0, 1)]);
}

#[test]
fn missing_values_are_counted_apart_and_empty_windows_refused() {
    let reference = CategoricalReference::from_values([Some("a"), None, Some("b")]).unwrap();
    assert_eq!((reference.count(), reference.missing()), (2, 1));
    let mut window = reference.window();
    window.add(None);
    assert_eq!(reference.verdict(&window, &DriftOptions::default()), Err(DriftError::EmptyWindow));
    window.add_many([Some("a"), Some("b")]);
    assert_eq!((window.count(), window.missing()), (2, 1));
    // Two values, a small reference: the Z-test, and no drift.
    let verdict = reference.verdict(&window, &DriftOptions::default()).unwrap();
    assert_eq!(verdict.method, Method::Z);
    assert!(!verdict.drifted);
    let ks = DriftOptions { method: Some(Method::Ks), threshold: None };
    assert!(matches!(reference.verdict(&window, &ks), Err(DriftError::NotApplicable { .. })));
}

#[test]
fn unseen_categories_past_the_cap_share_one_count() {
    let reference = reference(&["a"]);
    let names: Vec<String> = (0..UNSEEN_CAP + 10).map(|i| format!("new{i}")).collect();
    let mut window = reference.window();
    window.add_many(names.iter().map(|n| Some(n.as_str())));
    let mut other = reference.window();
    other.add_many(names.iter().map(|n| Some(n.as_str())));
    window.merge(&other).unwrap();
    assert_eq!(window.unseen.len(), UNSEEN_CAP);
    assert_eq!(window.other_unseen, 20);
    assert_eq!(window.count(), 2 * names.len() as u64);
}
