"""The DuckDB side of the historical-retrieval benchmark.

`generate DIR ENTITIES ROWS KEYS`: writes DIR/entities.parquet (customer_id, event_timestamp) and
DIR/view.parquet (customer_id, event_timestamp, f0..f9) with random keys and times over 30 days.

`wide DIR ENTITIES FEATURES`: writes DIR/wide.parquet (customer_id 0..ENTITIES, one row each at a
random time over the last day, f0..f{FEATURES-1}) for the online-features benchmark.

`asof DIR`: the point-in-time join as DuckDB's ASOF LEFT JOIN, written to DIR/duckdb.parquet,
timed in-process. Prints {"rows", "matched", "sum_f0", "seconds", "peak_rss_mb"}."""

import json
import resource
import sys
import time

import duckdb

mode, directory = sys.argv[1], sys.argv[2]
connection = duckdb.connect()
if mode == "generate":
    entities, rows, keys = (int(v) for v in sys.argv[3:6])
    start = "TIMESTAMP '2026-03-01'"
    span = 30 * 86_400 * 1_000_000
    connection.execute(
        f"""COPY (SELECT (random() * {keys})::BIGINT AS customer_id,
                         {start} + to_microseconds((random() * {span})::BIGINT) AS event_timestamp
                  FROM range({entities}))
            TO '{directory}/entities.parquet' (FORMAT parquet, COMPRESSION snappy)"""
    )
    features = ", ".join(f"random() AS f{i}" for i in range(10))
    connection.execute(
        f"""COPY (SELECT (random() * {keys})::BIGINT AS customer_id,
                         {start} + to_microseconds((random() * {span})::BIGINT) AS event_timestamp,
                         {features}
                  FROM range({rows}))
            TO '{directory}/view.parquet' (FORMAT parquet, COMPRESSION snappy)"""
    )
    print(json.dumps({"entities": entities, "rows": rows}))
elif mode == "wide":
    entities, count = int(sys.argv[3]), int(sys.argv[4])
    features = ", ".join(f"random() AS f{i}" for i in range(count))
    connection.execute(
        f"""COPY (SELECT range AS customer_id,
                         now()::TIMESTAMP - to_microseconds((random() * 86_400_000_000)::BIGINT) AS event_timestamp,
                         {features}
                  FROM range({entities}))
            TO '{directory}/wide.parquet' (FORMAT parquet, COMPRESSION snappy)"""
    )
    print(json.dumps({"entities": entities, "features": count}))
elif mode == "asof":
    features = ", ".join(f"v.f{i}" for i in range(10))
    started = time.perf_counter()
    connection.execute(
        f"""COPY (SELECT e.customer_id, e.event_timestamp, {features}
                  FROM read_parquet('{directory}/entities.parquet') e
                  ASOF LEFT JOIN read_parquet('{directory}/view.parquet') v
                  ON e.customer_id = v.customer_id AND e.event_timestamp >= v.event_timestamp)
            TO '{directory}/duckdb.parquet' (FORMAT parquet, COMPRESSION snappy)"""
    )
    seconds = time.perf_counter() - started
    rows, matched, sum_f0 = connection.execute(
        f"SELECT count(*), count(f0), sum(f0) FROM read_parquet('{directory}/duckdb.parquet')"
    ).fetchone()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "matched": matched, "sum_f0": sum_f0, "seconds": seconds, "peak_rss_mb": peak}))
else:
    raise SystemExit(f"unknown mode {mode}")
