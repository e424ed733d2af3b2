"""The drift benchmark's Python side.

    evidently_peer.py make DIR ROWS     reference and current data, 14 numeric and 6 categorical
                                   columns, some of them shifted in the current: raw files for the
                                   Rust side (numeric: float64 little-endian; categorical: one
                                   value a line) and columns.json
    evidently_peer.py run DIR           Evidently's data-drift preset on the same data: prints the
                                   seconds the report took and its verdict per column as JSON
"""

import json
import pathlib
import sys
import time

import numpy as np
import pandas as pd

NUMERIC = [f"n{i}" for i in range(14)]
CATEGORICAL = [f"c{i}" for i in range(6)]
# Columns that move in the current data, and by how much (in standard deviations / probability).
SHIFTED = {"n0": 0.5, "n1": 0.25, "n2": 0.15, "n3": 0.05, "c0": 0.2, "c1": 0.05}
LEVELS = ["a", "b", "c", "d", "e"]


def frames(rows):
    rng = np.random.default_rng(20261208)
    sides = {}
    for side in ["reference", "current"]:
        columns = {}
        for name in NUMERIC:
            shift = SHIFTED.get(name, 0.0) if side == "current" else 0.0
            columns[name] = rng.normal(loc=shift, scale=1.0, size=rows)
        for name in CATEGORICAL:
            p = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
            if side == "current" and name in SHIFTED:
                p = p + np.array([-1, 0, 0, 0, 1]) * SHIFTED[name]
            columns[name] = rng.choice(LEVELS, size=rows, p=p / p.sum())
        sides[side] = pd.DataFrame(columns)
    return sides


def make(directory, rows):
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sides = frames(int(rows))
    for side, frame in sides.items():
        frame.to_parquet(directory / f"{side}.parquet")
        for name in NUMERIC:
            frame[name].to_numpy(np.float64).tofile(directory / f"{side}_{name}.f64")
        for name in CATEGORICAL:
            (directory / f"{side}_{name}.txt").write_text("\n".join(frame[name]) + "\n")
    (directory / "columns.json").write_text(json.dumps({"numeric": NUMERIC, "categorical": CATEGORICAL}))


def run(directory):
    from evidently.legacy.metric_preset import DataDriftPreset
    from evidently.legacy.pipeline.column_mapping import ColumnMapping
    from evidently.legacy.report import Report

    directory = pathlib.Path(directory)
    reference = pd.read_parquet(directory / "reference.parquet")
    current = pd.read_parquet(directory / "current.parquet")
    mapping = ColumnMapping(numerical_features=NUMERIC, categorical_features=CATEGORICAL)
    started = time.perf_counter()
    report = Report(metrics=[DataDriftPreset()])
    report.run(reference_data=reference, current_data=current, column_mapping=mapping)
    result = report.as_dict()
    seconds = time.perf_counter() - started
    table = next(metric["result"] for metric in result["metrics"] if "drift_by_columns" in metric["result"])
    verdicts = {
        name: {"drifted": bool(column["drift_detected"]), "method": column["stattest_name"], "value": float(column["drift_score"])}
        for name, column in table["drift_by_columns"].items()
    }
    print(json.dumps({"seconds": seconds, "columns": verdicts}))


if __name__ == "__main__":
    {"make": make, "run": run}[sys.argv[1]](*sys.argv[2:])
