"""scikit-learn's own answers for the external-trainer example: the example's pipeline fitted on
the same training file, then predict_proba on records read as JSON from stdin.

    sklearn_reference.py TRAIN.parquet FEATURES_JSON LABEL PARAMS_JSON < records.json
"""

import importlib.util
import json
import pathlib
import sys

import numpy as np
import pandas as pd

path = pathlib.Path(__file__).parents[2] / "examples" / "sklearn-trainer" / "train.py"
spec = importlib.util.spec_from_file_location("train", path)
train = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train)

frame = pd.read_parquet(sys.argv[1])
features = json.loads(sys.argv[2])
model = train.fit(frame, features, sys.argv[3], json.loads(sys.argv[4]))
records = json.load(sys.stdin)
rows = np.array([[record[name] for name in features] for record in records], dtype=np.float32)
print(json.dumps(model.predict_proba(rows).tolist()))
