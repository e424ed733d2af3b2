"""The training benchmark's Python side.

    training_bench.py make OUT.parquet ROWS     scikit-learn's make_classification: id, ts, f0..f29
                                                (float32) and label (0/1), seeded
    training_bench.py score MODEL.onnx IN.parquet
        onnxruntime in Python scoring a holdout as a user would — pyarrow reads the file, the
        InferenceSession runs it (its default threads: every core), scikit-learn's roc_auc_score
        measures it; prints the seconds it took and the AUC
"""

import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = [f"f{i}" for i in range(30)]


def make(path, rows):
    from sklearn.datasets import make_classification

    rows = int(rows)
    x, y = make_classification(n_samples=rows, n_features=30, n_informative=12, random_state=7)
    start = np.datetime64("2026-11-01T00:00:00", "us")
    columns = {"id": pa.array(np.arange(rows, dtype=np.int64)),
               "ts": pa.array(start + np.arange(rows).astype("timedelta64[s]"), pa.timestamp("us", tz="UTC"))}
    for index, name in enumerate(FEATURES):
        columns[name] = pa.array(x[:, index].astype(np.float32))
    columns["label"] = pa.array(y.astype(np.int64))
    pq.write_table(pa.table(columns), path, compression="zstd", row_group_size=256 * 1024)


def score(model, source):
    import onnxruntime
    from sklearn.metrics import roc_auc_score

    started = time.perf_counter()
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    table = pq.read_table(source)
    inputs = {port.name: table.column(port.name).to_numpy().astype(np.float32).reshape(-1, 1)
              for port in session.get_inputs()}
    label, probabilities = session.run(None, inputs)
    auc = roc_auc_score(table.column("label").to_numpy(), probabilities[:, 1])
    print(time.perf_counter() - started, auc)


if __name__ == "__main__":
    {"make": make, "score": score}[sys.argv[1]](*sys.argv[2:])
