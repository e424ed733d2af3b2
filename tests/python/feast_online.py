"""The Feast side of the online-serving benchmark, run with the Feast virtualenv (.venv-feast).

`setup REPO_DIR PARQUET_FILE VIEW_NAME ENTITY_KEY TIMESTAMP_COLUMN FEATURE_COUNT`: writes a Feast repo
(project cairn_bench, local provider, file offline store, sqlite online store) with one int64 entity,
a FileSource over PARQUET_FILE, a FeatureView VIEW_NAME of Float64 features f0..f{N-1} with no TTL,
and a FeatureService VIEW_NAME_service; runs `feast apply`. Prints {"feast_version"}.

`materialize REPO_DIR`: materializes every view from 2000-01-01 to now + 1 day, timing only the
materialize call in-process. Prints {"seconds", "rows"} (rows: rows in the parquet sources).

`historical REPO_DIR ENTITIES_PARQUET OUT_PARQUET`: Feast's point-in-time join
(`get_historical_features` on the local file offline store) of every feature of the repo's one
view onto the entity rows (join key and `event_timestamp`), written to OUT_PARQUET, timed
in-process from the call to the written file. Prints {"seconds", "rows", "matched", "sum_f0",
"peak_rss_mb"}.

The bench then serves the repo itself with `feast -c REPO_DIR serve -h 127.0.0.1 -p PORT`."""

import contextlib
import json
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import feast
import pyarrow.parquet

STORE_YAML = """project: cairn_bench
provider: local
registry: {repo}/registry.db
online_store:
  type: sqlite
  path: {repo}/online.db
offline_store:
  type: file
entity_key_serialization_version: 3
"""

DEFINITIONS = """from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64

entity = Entity(name={key!r}, join_keys=[{key!r}], value_type=ValueType.INT64)
source = FileSource(name={view!r} + "_source", path={parquet!r}, timestamp_field={timestamp!r})
view = FeatureView(
    name={view!r},
    entities=[entity],
    ttl=timedelta(0),
    schema=[Field(name=f"f{{i}}", dtype=Float64) for i in range({count})],
    online=True,
    source=source,
)
service = FeatureService(name={view!r} + "_service", features=[view])
"""

mode, repo = sys.argv[1], Path(sys.argv[2]).resolve()
if mode == "setup":
    parquet, view, key, timestamp, count = sys.argv[3:8]
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(STORE_YAML.format(repo=repo))
    (repo / "definitions.py").write_text(
        DEFINITIONS.format(
            key=key, view=view, parquet=str(Path(parquet).resolve()), timestamp=timestamp, count=int(count)
        )
    )
    # `feast apply` from this venv; its progress text goes to stderr so stdout stays one JSON object.
    feast_cli = Path(sys.executable).parent / "feast"
    subprocess.run([str(feast_cli), "-c", str(repo), "apply"], stdout=sys.stderr, check=True)
    print(json.dumps({"feast_version": feast.__version__}))
elif mode == "materialize":
    store = feast.FeatureStore(repo_path=str(repo))
    views = store.list_feature_views()
    rows = sum(pyarrow.parquet.read_metadata(v.batch_source.path).num_rows for v in views)
    start = datetime(2000, 1, 1, tzinfo=timezone.utc)
    end = datetime.now(timezone.utc) + timedelta(days=1)
    with contextlib.redirect_stdout(sys.stderr):
        started = time.perf_counter()
        store.materialize(start_date=start, end_date=end)
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rows": rows}))
elif mode == "historical":
    entities_path, out = sys.argv[3], sys.argv[4]
    store = feast.FeatureStore(repo_path=str(repo))
    (view,) = store.list_feature_views()
    entity_df = pyarrow.parquet.read_table(entities_path).to_pandas()
    references = [f"{view.name}:{field.name}" for field in view.features]
    with contextlib.redirect_stdout(sys.stderr):
        started = time.perf_counter()
        joined = store.get_historical_features(entity_df=entity_df, features=references).to_df()
        joined.to_parquet(out)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    f0 = joined["f0"]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": len(joined),
                "matched": int(f0.notna().sum()),
                "sum_f0": float(f0.sum()),
                "peak_rss_mb": peak,
            }
        )
    )
else:
    raise SystemExit(f"unknown mode {mode}")
