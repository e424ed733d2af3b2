"""Data and LightGBM's side of the GBDT benchmark (benches/gbdt.rs).

`gbdt.py prepare DIR ROWS THREADS` writes each dataset as raw little-endian files (features f32
column-major, targets f64), trains LightGBM with the benchmark's settings, and saves its test
predictions and training time. `gbdt.py score DIR` scores both sides' predictions.
"""

import json
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
from sklearn import datasets, metrics
from sklearn.model_selection import train_test_split

SETTINGS = {"num_iterations": 100, "num_leaves": 31, "learning_rate": 0.1}


def load(rows):
    x, y = datasets.make_classification(
        n_samples=rows, n_features=30, n_informative=15, n_redundant=5, random_state=0
    )
    yield "make_classification", "binary", x, y
    x, y = datasets.load_breast_cancer(return_X_y=True)
    yield "breast_cancer", "binary", x, y
    x, y = datasets.load_digits(return_X_y=True)
    yield "digits", "multiclass", x, y
    x, y = datasets.make_regression(n_samples=20000, n_features=20, n_informative=10, noise=10.0, random_state=0)
    yield "make_regression", "regression", x, y


def prepare(directory, rows, threads):
    directory = Path(directory)
    listing = []
    for name, task, x, y in load(rows):
        x = x.astype(np.float32)
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
        for part, values in [("x_train", x_train), ("x_test", x_test)]:
            np.asfortranarray(values).T.astype("<f4").tofile(directory / f"{name}.{part}")
        for part, values in [("y_train", y_train), ("y_test", y_test)]:
            values.astype("<f8").tofile(directory / f"{name}.{part}")
        classes = int(y.max()) + 1 if task != "regression" else 1
        objective = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}[task]
        params = dict(SETTINGS, objective=objective, num_threads=threads, force_col_wise=True, verbose=-1)
        if task == "multiclass":
            params["num_class"] = classes
        start = time.perf_counter()
        booster = lgb.train(params, lgb.Dataset(x_train, y_train))
        seconds = time.perf_counter() - start
        booster.predict(x_test).astype("<f8").tofile(directory / f"{name}.lightgbm")
        listing.append(
            {
                "name": name,
                "task": task,
                "classes": classes,
                "features": x.shape[1],
                "train_rows": len(y_train),
                "test_rows": len(y_test),
                "lightgbm_seconds": seconds,
            }
        )
    (directory / "datasets.json").write_text(json.dumps(listing))


def score(directory):
    directory = Path(directory)
    listing = json.loads((directory / "datasets.json").read_text())
    timings = json.loads((directory / "cairn.json").read_text())
    for entry in listing:
        name, task = entry["name"], entry["task"]
        y = np.fromfile(directory / f"{name}.y_test", dtype="<f8")
        results = {}
        for side in ["lightgbm", "cairn"]:
            p = np.fromfile(directory / f"{name}.{side}", dtype="<f8")
            if task == "binary":
                results[side] = f"ROC AUC {metrics.roc_auc_score(y, p):.5f}"
            elif task == "multiclass":
                p = p.reshape(len(y), -1)
                accuracy = metrics.accuracy_score(y, p.argmax(axis=1))
                results[side] = f"accuracy {accuracy:.4f} logloss {metrics.log_loss(y, p):.4f}"
            else:
                results[side] = f"RMSE {metrics.root_mean_squared_error(y, p):.4f}"
        ours, theirs = timings[name], entry["lightgbm_seconds"]
        print(
            f"{name:20} rows {entry['train_rows']:>8}+{entry['test_rows']:<7} "
            f"LightGBM {results['lightgbm']} in {theirs:.3f}s | "
            f"cairn {results['cairn']} in {ours:.3f}s | time ratio {ours / theirs:.2f}"
        )


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        score(sys.argv[2])
