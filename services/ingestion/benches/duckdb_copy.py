"""The DuckDB side of the batch-ingestion benchmark: CSV or Parquet → Parquet with COPY, timed
in-process.

Prints {"rows": N, "seconds": S}."""

import json
import sys
import time

import duckdb

source, target = sys.argv[1], sys.argv[2]
# [[name, type], ...] in file order
columns = dict(json.loads(sys.argv[3]))
connection = duckdb.connect()
started = time.perf_counter()
reader = (
    f"read_parquet('{source}')"
    if source.endswith(".parquet")
    else f"read_csv('{source}', header = true, columns = {columns!r})"
)
connection.execute(f"COPY (SELECT * FROM {reader}) TO '{target}' (FORMAT parquet, COMPRESSION snappy)")
seconds = time.perf_counter() - started
rows = connection.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]
print(json.dumps({"rows": rows, "seconds": seconds}))
