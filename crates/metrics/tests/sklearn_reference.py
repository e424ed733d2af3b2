"""Reference values for crates/metrics/tests/sklearn.rs: reads the cases as JSON on stdin and
writes scikit-learn's (and NumPy's) metrics for each as JSON on stdout."""

import json
import sys

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

BINS = 10
LEVELS = [0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0]


def calibration(correct, confidence):
    """The curve, its counts and the expected calibration error, over scikit-learn's bins."""
    prob_true, prob_pred = calibration_curve(correct, confidence, n_bins=BINS, strategy="uniform")
    binids = np.searchsorted(np.linspace(0.0, 1.0, BINS + 1)[1:-1], confidence)
    counts = np.bincount(binids, minlength=BINS)
    counts = counts[counts != 0]
    ece = float(np.sum(counts / counts.sum() * np.abs(prob_pred - prob_true)))
    return {
        "fraction_positive": prob_true.tolist(),
        "mean_predicted": prob_pred.tolist(),
        "counts": counts.tolist(),
        "calibration_error": ece,
    }


def binary(case):
    y = np.array(case["labels"], dtype=int)
    s = np.array(case["scores"], dtype=np.float64)
    pred = (s >= 0.5).astype(int)
    return {
        "roc_auc": roc_auc_score(y, s),
        "pr_auc": average_precision_score(y, s),
        "log_loss": log_loss(y, s, labels=[0, 1]),
        "accuracy": accuracy_score(y, pred),
        "f1": f1_score(y, pred, zero_division=0),
        "precision": precision_score(y, pred, zero_division=0),
        "recall": recall_score(y, pred, zero_division=0),
        "confusion": confusion_matrix(y, pred, labels=[0, 1]).tolist(),
        **calibration(y, s),
    }


def multiclass(case):
    k = case["classes"]
    y = np.array(case["labels"], dtype=int)
    p = np.array(case["probabilities"], dtype=np.float64).reshape(-1, k)
    pred = np.argmax(p, axis=1)
    labels = list(range(k))
    return {
        "accuracy": accuracy_score(y, pred),
        "f1_macro": f1_score(y, pred, average="macro", zero_division=0),
        "f1_weighted": f1_score(y, pred, average="weighted", zero_division=0),
        "log_loss": log_loss(y, p, labels=labels),
        "roc_auc_ovr": roc_auc_score(y, p, multi_class="ovr", average="macro", labels=labels),
        "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
        **calibration((pred == y).astype(int), p.max(axis=1)),
    }


def regression(case):
    y = np.array(case["truth"], dtype=np.float64)
    p = np.array(case["predicted"], dtype=np.float64)
    residuals = y - p
    counts, edges = np.histogram(residuals, bins=20)
    by_count, by_edges = np.histogram(p, bins=10)
    predicted_sums, _ = np.histogram(p, bins=10, weights=p)
    truth_sums, _ = np.histogram(p, bins=10, weights=y)
    return {
        "rmse": float(np.sqrt(mean_squared_error(y, p))),
        "mae": mean_absolute_error(y, p),
        "r2": r2_score(y, p),
        "quantiles": np.quantile(residuals, LEVELS).tolist(),
        "histogram_edges": edges.tolist(),
        "histogram_counts": counts.tolist(),
        "by_prediction_edges": by_edges.tolist(),
        "by_prediction_counts": by_count.tolist(),
        "by_prediction_predicted_sums": predicted_sums.tolist(),
        "by_prediction_truth_sums": truth_sums.tolist(),
    }


cases = json.load(sys.stdin)
json.dump(
    {
        "binary": [binary(case) for case in cases["binary"]],
        "multiclass": [multiclass(case) for case in cases["multiclass"]],
        "regression": [regression(case) for case in cases["regression"]],
    },
    sys.stdout,
    default=float,
)
