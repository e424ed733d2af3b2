"""An external trainer that misbehaves as its `mode` parameter says, for the training tests:

    crash      exits 3 saying "boom" on stderr
    hang       sleeps far past any timeout
    nomodel    exits 0 without writing model.onnx
    invalid    writes bytes that are no ONNX model
    ok         trains the scikit-learn example (examples/sklearn-trainer/train.py)
    slow_once  the first time (no file at `marker`): creates it and sleeps; later: as `ok`
    wait_for   waits until a file exists at `marker`, then as `ok`
"""

import importlib.util
import json
import os
import pathlib
import sys
import time

with open(os.environ["CAIRN_PARAMS"]) as file:
    params = json.load(file)
mode = params.get("mode", "ok")
marker = pathlib.Path(params.get("marker", "/nonexistent"))

if mode == "crash":
    print("boom", file=sys.stderr)
    sys.exit(3)
if mode == "hang":
    time.sleep(3600)
if mode == "nomodel":
    sys.exit(0)
if mode == "invalid":
    pathlib.Path(os.environ["CAIRN_MODEL_OUTPUT"]).write_bytes(b"this is not an ONNX model")
    sys.exit(0)
if mode == "slow_once" and not marker.exists():
    marker.write_text(str(os.getpid()))
    time.sleep(3600)
if mode == "wait_for":
    while not marker.exists():
        time.sleep(0.05)

path = pathlib.Path(__file__).parents[2] / "examples" / "sklearn-trainer" / "train.py"
spec = importlib.util.spec_from_file_location("train", path)
train = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train)
train.main()
