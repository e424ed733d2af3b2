"""Batch scoring's peer, as a Python user scores a file: pyarrow reads the Parquet file,
onnxruntime's InferenceSession.run scores it (its default threads: every core), pyarrow writes the
rows with their predictions. Prints the seconds it took, end to end.

Usage: score_parquet.py make OUT.parquet ROWS        the benchmark's input: id, ts, f0..f29
       score_parquet.py score MODEL.onnx IN.parquet OUT.parquet
"""

import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = [f"f{i}" for i in range(30)]


def make(path, rows):
    rows = int(rows)
    rng = np.random.default_rng(11)
    start = np.datetime64("2026-11-01T00:00:00", "us")
    columns = {"id": pa.array(np.arange(rows, dtype=np.int64)),
               "ts": pa.array(start + np.arange(rows).astype("timedelta64[s]"), pa.timestamp("us", tz="UTC"))}
    for name in FEATURES:
        columns[name] = pa.array(rng.normal(size=rows).astype(np.float32))
    pq.write_table(pa.table(columns), path, compression="zstd", row_group_size=256 * 1024)


def score(model, source, target):
    import onnxruntime

    started = time.perf_counter()
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    table = pq.read_table(source)
    x = np.column_stack([table.column(name).to_numpy() for name in FEATURES]).astype(np.float32)
    label, probabilities = session.run(None, {session.get_inputs()[0].name: x})
    table = table.append_column("predicted_label", pa.array(label))
    for column in range(probabilities.shape[1]):
        table = table.append_column(f"predicted_probabilities_{column}", pa.array(probabilities[:, column]))
    pq.write_table(table, target, compression="zstd")
    print(time.perf_counter() - started)


if __name__ == "__main__":
    {"make": make, "score": score}[sys.argv[1]](*sys.argv[2:])
