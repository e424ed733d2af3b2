//! Every metric against scikit-learn (and NumPy for the residual summary) on seeded random cases:
//! binary scores with ties and values on the calibration bins' edges, multiclass with 3 to 5
//! classes and tied probabilities, regression including a constant truth. The test Python
//! (`cairn_testkit::python()`) runs `tests/sklearn_reference.py` on the same data as JSON.

#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]


use cairn_metrics::{evaluate_binary, evaluate_multiclass, evaluate_regression};
use serde_json::{Value, json};

const TOLERANCE: f64 = 1e-9;

/// SplitMix64: a seeded generator with no dependency, the same cases on every run.
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

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

struct BinaryCase {
    labels: Vec<bool>,
    scores: Vec<f64>,
}

/// Scores on a grid of twentieths (ties; 0, 0.5, 1 and the bins' edges hit exactly) or free.
fn binary_case(rng: &mut Rng, rows: usize, grid: bool) -> BinaryCase {
    let scores: Vec<f64> =
        (0..rows).map(|_| if grid { rng.below(21) as f64 / 20.0 } else { rng.uniform() }).collect();
    let mut labels: Vec<bool> = scores.iter().map(|&score| rng.uniform() < 0.2 + 0.6 * score).collect();
    labels[0] = true;
    labels[1] = false;
    BinaryCase { labels, scores }
}

struct MulticlassCase {
    labels: Vec<u32>,
    probabilities: Vec<f64>,
    classes: usize,
}

/// Probabilities from small integer weights, so rows and columns tie; every class occurs.
fn multiclass_case(rng: &mut Rng, rows: usize, classes: usize) -> MulticlassCase {
    let mut probabilities = Vec::with_capacity(rows * classes);
    let mut labels = Vec::with_capacity(rows);
    for row in 0..rows {
        let weights: Vec<f64> = (0..classes).map(|_| (1 + rng.below(5)) as f64).collect();
        let total: f64 = weights.iter().sum();
        probabilities.extend(weights.iter().map(|weight| weight / total));
        let top =
            (0..classes).fold(0, |best, class| if weights[class] > weights[best] { class } else { best });
        let label = if row < classes {
            row
        } else if rng.uniform() < 0.5 {
            top
        } else {
            rng.below(classes as u64) as usize
        };
        labels.push(label as u32);
    }
    MulticlassCase { labels, probabilities, classes }
}

struct RegressionCase {
    truth: Vec<f64>,
    predicted: Vec<f64>,
}

fn regression_case(rng: &mut Rng, rows: usize, constant_truth: bool) -> RegressionCase {
    let truth: Vec<f64> =
        (0..rows).map(|_| if constant_truth { 2.5 } else { 10.0 + 3.0 * rng.normal() }).collect();
    let predicted = truth.iter().map(|y| y + 0.1 + rng.normal()).collect();
    RegressionCase { truth, predicted }
}

fn reference(cases: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sklearn_reference.py");
    serde_json::from_slice(&cairn_testkit::run_python(script, cases.to_string().as_bytes())).unwrap()
}

fn close(what: &str, ours: f64, theirs: &Value) {
    let theirs = theirs.as_f64().unwrap_or_else(|| panic!("{what}: scikit-learn gave {theirs}"));
    assert!((ours - theirs).abs() <= TOLERANCE, "{what}: ours {ours}, scikit-learn {theirs}");
}

fn close_all(what: &str, ours: &[f64], theirs: &Value) {
    let theirs = theirs.as_array().unwrap();
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths differ");
    for (index, (ours, theirs)) in ours.iter().zip(theirs).enumerate() {
        close(&format!("{what}[{index}]"), *ours, theirs);
    }
}

fn counts(values: &[u64]) -> Value {
    json!(values)
}

#[test]
fn metrics_match_scikit_learn() {
    let mut rng = Rng(20_240_611);
    let binary = [
        binary_case(&mut rng, 400, true),
        binary_case(&mut rng, 1000, false),
        binary_case(&mut rng, 7, true),
    ];
    let multiclass = [
        multiclass_case(&mut rng, 300, 3),
        multiclass_case(&mut rng, 500, 4),
        multiclass_case(&mut rng, 60, 5),
    ];
    let regression = [
        regression_case(&mut rng, 500, false),
        regression_case(&mut rng, 3, false),
        regression_case(&mut rng, 50, true),
    ];
    let cases = json!({
        "binary": binary.iter().map(|case| json!({"labels": case.labels, "scores": case.scores})).collect::<Vec<_>>(),
        "multiclass": multiclass.iter().map(|case| json!({
            "labels": case.labels, "probabilities": case.probabilities, "classes": case.classes,
        })).collect::<Vec<_>>(),
        "regression": regression.iter().map(|case| json!({"truth": case.truth, "predicted": case.predicted})).collect::<Vec<_>>(),
    });
    let expected = reference(&cases);

    for (index, (case, expected)) in binary.iter().zip(expected["binary"].as_array().unwrap()).enumerate() {
        let evaluation = evaluate_binary(&case.labels, &case.scores).unwrap();
        let metrics = evaluation.metrics;
        for name in cairn_metrics::names(cairn_metrics::Task::Binary) {
            close(&format!("binary {index} {name}"), metrics.get(name).unwrap(), &expected[*name]);
        }
        let confusion = evaluation.confusion;
        assert_eq!(
            json!([
                [confusion.true_negatives, confusion.false_positives],
                [confusion.false_negatives, confusion.true_positives]
            ]),
            expected["confusion"],
            "binary {index} confusion"
        );
        let bins = &evaluation.calibration.bins;
        let column =
            |field: fn(&cairn_metrics::CalibrationBin) -> f64| bins.iter().map(field).collect::<Vec<_>>();
        close_all(
            &format!("binary {index} fraction positive"),
            &column(|bin| bin.fraction_positive),
            &expected["fraction_positive"],
        );
        close_all(
            &format!("binary {index} mean predicted"),
            &column(|bin| bin.mean_predicted),
            &expected["mean_predicted"],
        );
        let bin_counts: Vec<u64> = bins.iter().map(|bin| bin.count).collect();
        assert_eq!(counts(&bin_counts), expected["counts"], "binary {index} calibration counts");
    }

    for (index, (case, expected)) in
        multiclass.iter().zip(expected["multiclass"].as_array().unwrap()).enumerate()
    {
        let evaluation = evaluate_multiclass(&case.labels, &case.probabilities, case.classes).unwrap();
        for name in cairn_metrics::names(cairn_metrics::Task::Multiclass) {
            close(
                &format!("multiclass {index} {name}"),
                evaluation.metrics.get(name).unwrap(),
                &expected[*name],
            );
        }
        let matrix: Vec<&[u64]> = evaluation.confusion.counts.chunks(case.classes).collect();
        assert_eq!(json!(matrix), expected["confusion"], "multiclass {index} confusion");
        let bin_counts: Vec<u64> = evaluation.calibration.bins.iter().map(|bin| bin.count).collect();
        assert_eq!(counts(&bin_counts), expected["counts"], "multiclass {index} calibration counts");
    }

    for (index, (case, expected)) in
        regression.iter().zip(expected["regression"].as_array().unwrap()).enumerate()
    {
        let evaluation = evaluate_regression(&case.truth, &case.predicted).unwrap();
        for name in cairn_metrics::names(cairn_metrics::Task::Regression) {
            close(
                &format!("regression {index} {name}"),
                evaluation.metrics.get(name).unwrap(),
                &expected[*name],
            );
        }
        let residuals = &evaluation.residuals;
        let quantiles: Vec<f64> = residuals.quantiles.iter().map(|quantile| quantile.value).collect();
        close_all(&format!("regression {index} quantiles"), &quantiles, &expected["quantiles"]);
        close_all(
            &format!("regression {index} histogram edges"),
            &residuals.histogram.edges,
            &expected["histogram_edges"],
        );
        assert_eq!(
            counts(&residuals.histogram.counts),
            expected["histogram_counts"],
            "regression {index} histogram"
        );
        let bins = &residuals.by_prediction;
        let lower: Vec<f64> =
            bins.iter().map(|bin| bin.lower).chain(bins.last().map(|bin| bin.upper)).collect();
        close_all(&format!("regression {index} prediction edges"), &lower, &expected["by_prediction_edges"]);
        let bin_counts: Vec<u64> = bins.iter().map(|bin| bin.count).collect();
        assert_eq!(
            counts(&bin_counts),
            expected["by_prediction_counts"],
            "regression {index} prediction bins"
        );
        let sums = |mean: fn(&cairn_metrics::PredictionBin) -> Option<f64>| -> Vec<f64> {
            bins.iter().map(|bin| mean(bin).map_or(0.0, |mean| mean * bin.count as f64)).collect()
        };
        close_all(
            &format!("regression {index} predicted sums"),
            &sums(|bin| bin.mean_predicted),
            &expected["by_prediction_predicted_sums"],
        );
        close_all(
            &format!("regression {index} truth sums"),
            &sums(|bin| bin.mean_truth),
            &expected["by_prediction_truth_sums"],
        );
    }
}
