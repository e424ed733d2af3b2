"""The model zoo of the serving tests: exports small ONNX models and the predictions they must give.

`model_zoo.py OUT_DIR [NAME ...] [--rows N] [--verify] [--list]` writes, for each model NAME (all
when none are named):
- `OUT_DIR/NAME.onnx`, the model as exported (scikit-learn through skl2onnx, LightGBM and XGBoost
  through onnxmltools, a small multilayer perceptron built with onnx.helper);
- `OUT_DIR/NAME.json`, `{"name", "task", "zipmap", "rows", "inputs", "outputs"}` where each tensor
  is the Open Inference Protocol's JSON tensor (`name`, `datatype`, `shape`, flat row-major
  `data`): `inputs` are the rows fed (N rows from a fixed seed) and `outputs` what onnxruntime in
  Python returns on exactly those rows. A ZipMap output (a sequence of maps, one per row) is
  written as a plain FP32 tensor [N, classes], its columns in the order of the ZipMap node's class
  labels, which are listed in `"classes"` on that output.

The outputs come from a one-thread onnxruntime session. A session with more threads adds up tree
ensembles in another order, and its probabilities differ by up to 4e-7 (measured on
random_forest_bench), well inside the serving tests' 1e-5.

`--rows N` sets the rows per model (64 by default). `--verify` reloads every written model and
checks that onnxruntime still gives the written outputs on the written inputs. `--list` prints the
names and exits.

The MLP is built by hand rather than exported from PyTorch: PyPI's torch wheel is about 540 MB
and pulls about 2.4 GB of CUDA libraries, far past what a CI run should download for one test
model. XGBoost comes from the `xgboost-cpu` distribution for the same reason (the `xgboost` one
pulls a 350 MB NCCL wheel)."""

import argparse
import json
import sys
import time
from pathlib import Path

try:
    import lightgbm
    import numpy as np
    import onnx
    import onnxmltools
    import onnxruntime
    import pandas as pd
    import skl2onnx
    import xgboost
    from onnx import TensorProto, helper, numpy_helper
    from onnxmltools.convert.common.data_types import FloatTensorType as MlFloatTensorType
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import make_classification, make_regression
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
except ImportError as missing:
    sys.exit(
        f"model_zoo.py needs the Python package {missing.name!r}: "
        "pip install -r tests/python/requirements.txt"
    )

# Opsets every onnxruntime from 1.18 on runs (1.18 knows up to opset 21 and ai.onnx.ml 4); pinned
# so that a newer converter does not silently emit operators an older runtime lacks.
OPSET = 17
ML_OPSET = 3
TARGET_OPSET = {"": OPSET, "ai.onnx.ml": ML_OPSET}
# onnxmltools converts to opset 15 at most (it refuses a higher target).
ONNXMLTOOLS_OPSET = 15
SEED = 20240611
TRAIN_ROWS = 400
FEATURES = 8

DATATYPES = {
    np.dtype(np.float32): "FP32",
    np.dtype(np.float64): "FP64",
    np.dtype(np.int64): "INT64",
    np.dtype(np.int32): "INT32",
    np.dtype(np.bool_): "BOOL",
}
NUMPY_TYPES = {name: dtype for dtype, name in DATATYPES.items()}


def training_set(task, features=FEATURES, rows=TRAIN_ROWS, seed=SEED):
    """Float32 features and targets: continuous for regression, 2 or 3 classes otherwise."""
    if task == "regression":
        x, y = make_regression(n_samples=rows, n_features=features, noise=5.0, random_state=seed)
        return x.astype(np.float32), y
    classes = 2 if task == "binary" else 3
    x, y = make_classification(
        n_samples=rows,
        n_features=features,
        n_informative=min(features, 6),
        n_redundant=0,
        n_classes=classes,
        random_state=seed,
    )
    return x.astype(np.float32), y


def query_rows(features, rows, seed):
    """Rows to predict on, drawn apart from the training set so they are not memorised points."""
    return np.random.default_rng(seed).normal(0.0, 1.5, size=(rows, features)).astype(np.float32)


def sklearn_model(estimator, task, zipmap=False, features=FEATURES):
    """A build function for one scikit-learn estimator fed one float tensor named `input`."""

    def build(rows):
        x, y = training_set(task, features)
        estimator.fit(x, y)
        options = (
            {id(estimator): {"zipmap": False}} if task != "regression" and not zipmap else None
        )
        model = skl2onnx.convert_sklearn(
            estimator,
            initial_types=[("input", FloatTensorType([None, features]))],
            target_opset=TARGET_OPSET,
            options=options,
        )
        return model, {"input": query_rows(features, rows, SEED + 1)}

    return build


def pipeline_column_transformer(rows):
    """Scaled numeric columns and a one-hot string column, each its own named input (as a table's
    columns arrive), into a 3-class logistic regression with string labels behind a ZipMap."""
    rng = np.random.default_rng(SEED)
    cities = np.array(["paris", "lyon", "nantes", "lille"])

    def frame(count, generator):
        return pd.DataFrame(
            {
                "age": generator.uniform(18, 80, count).astype(np.float32),
                "income": generator.lognormal(10, 0.5, count).astype(np.float32),
                "visits": generator.integers(0, 20, count).astype(np.int64),
                "city": generator.choice(cities, count),
            }
        )

    train = frame(TRAIN_ROWS, rng)
    score = train["age"] / 20 + np.log(train["income"]) - 10 + (train["city"] == "lyon") * 1.5
    labels = np.where(score < 2.5, "low", np.where(score < 3.5, "mid", "high"))
    numeric = ["age", "income", "visits"]
    pipeline = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("numeric", StandardScaler(), numeric),
                        ("city", OneHotEncoder(handle_unknown="ignore"), ["city"]),
                    ]
                ),
            ),
            ("classifier", LogisticRegression(max_iter=1000)),
        ]
    )
    pipeline.fit(train, labels)
    model = skl2onnx.convert_sklearn(
        pipeline,
        initial_types=[
            ("age", FloatTensorType([None, 1])),
            ("income", FloatTensorType([None, 1])),
            ("visits", Int64TensorType([None, 1])),
            ("city", StringTensorType([None, 1])),
        ],
        target_opset=TARGET_OPSET,
    )
    query = frame(rows, np.random.default_rng(SEED + 1))
    inputs = {
        "age": query[["age"]].to_numpy(),
        "income": query[["income"]].to_numpy(),
        "visits": query[["visits"]].to_numpy(),
        "city": query[["city"]].to_numpy().astype(object),
    }
    return model, inputs


def lightgbm_model(task):
    def build(rows):
        x, y = training_set(task)
        kind = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
        estimator = kind(n_estimators=20, num_leaves=15, random_state=SEED, n_jobs=1, verbose=-1)
        estimator.fit(x, y)
        model = onnxmltools.convert_lightgbm(
            estimator,
            initial_types=[("input", MlFloatTensorType([None, FEATURES]))],
            target_opset=ONNXMLTOOLS_OPSET,
            zipmap=False,
        )
        return model, {"input": query_rows(FEATURES, rows, SEED + 1)}

    return build


def xgboost_model(task):
    def build(rows):
        x, y = training_set(task)
        kind = xgboost.XGBRegressor if task == "regression" else xgboost.XGBClassifier
        estimator = kind(n_estimators=20, max_depth=4, random_state=SEED, n_jobs=1)
        estimator.fit(x, y)
        model = onnxmltools.convert_xgboost(
            estimator,
            initial_types=[("input", MlFloatTensorType([None, FEATURES]))],
            target_opset=ONNXMLTOOLS_OPSET,
        )
        return model, {"input": query_rows(FEATURES, rows, SEED + 1)}

    return build


def mlp(rows):
    """8 → 16 (ReLU) → 3 (softmax) with fixed random weights, the first layer as MatMul + Add and
    the second as Gemm (the two forms a PyTorch export uses); `label` is the argmax."""
    rng = np.random.default_rng(SEED)
    hidden, classes = 16, 3
    weights = {
        "w1": rng.normal(0, 0.5, (FEATURES, hidden)).astype(np.float32),
        "b1": rng.normal(0, 0.1, hidden).astype(np.float32),
        "w2": rng.normal(0, 0.5, (hidden, classes)).astype(np.float32),
        "b2": rng.normal(0, 0.1, classes).astype(np.float32),
    }
    nodes = [
        helper.make_node("MatMul", ["input", "w1"], ["projected"]),
        helper.make_node("Add", ["projected", "b1"], ["pre_activation"]),
        helper.make_node("Relu", ["pre_activation"], ["hidden"]),
        helper.make_node("Gemm", ["hidden", "w2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", FEATURES])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes]),
        ],
        [numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cairn-model-zoo"
    )
    model.ir_version = 8  # opset 17's own IR version; onnx.helper would write its newest
    onnx.checker.check_model(model, full_check=True)
    return model, {"input": query_rows(FEATURES, rows, SEED + 1)}


def random_forest_bench(rows):
    """The serving benchmark's model: 100 trees, 30 features, binary, probabilities as a tensor."""
    features = 30
    x, y = training_set("binary", features=features, rows=4000)
    forest = RandomForestClassifier(n_estimators=100, max_depth=12, random_state=SEED, n_jobs=1)
    forest.fit(x, y)
    model = skl2onnx.convert_sklearn(
        forest,
        initial_types=[("input", FloatTensorType([None, features]))],
        target_opset=TARGET_OPSET,
        options={id(forest): {"zipmap": False}},
    )
    return model, {"input": query_rows(features, rows, SEED + 1)}


def tree_options(**extra):
    return {"random_state": SEED, **extra}


# name: (task, zipmap, build(rows) -> (onnx model, {input name: numpy array}))
MODELS = {
    "linear_regression": ("regression", False, sklearn_model(LinearRegression(), "regression")),
    "logistic_binary": ("binary", True, sklearn_model(LogisticRegression(), "binary", zipmap=True)),
    "logistic_multiclass": (
        "multiclass",
        False,
        sklearn_model(LogisticRegression(max_iter=1000), "multiclass"),
    ),
    "pipeline_column_transformer": ("multiclass", True, pipeline_column_transformer),
    "decision_tree_regression": (
        "regression",
        False,
        sklearn_model(DecisionTreeRegressor(**tree_options(max_depth=6)), "regression"),
    ),
    "decision_tree_binary": (
        "binary",
        True,
        sklearn_model(DecisionTreeClassifier(**tree_options(max_depth=6)), "binary", zipmap=True),
    ),
    "decision_tree_multiclass": (
        "multiclass",
        False,
        sklearn_model(DecisionTreeClassifier(**tree_options(max_depth=6)), "multiclass"),
    ),
    "random_forest_regression": (
        "regression",
        False,
        sklearn_model(
            RandomForestRegressor(**tree_options(n_estimators=10, max_depth=6)), "regression"
        ),
    ),
    "random_forest_binary": (
        "binary",
        False,
        sklearn_model(
            RandomForestClassifier(**tree_options(n_estimators=10, max_depth=6)), "binary"
        ),
    ),
    "random_forest_binary_zipmap": (
        "binary",
        True,
        sklearn_model(
            RandomForestClassifier(**tree_options(n_estimators=10, max_depth=6)),
            "binary",
            zipmap=True,
        ),
    ),
    "random_forest_multiclass": (
        "multiclass",
        False,
        sklearn_model(
            RandomForestClassifier(**tree_options(n_estimators=10, max_depth=6)), "multiclass"
        ),
    ),
    "random_forest_multiclass_zipmap": (
        "multiclass",
        True,
        sklearn_model(
            RandomForestClassifier(**tree_options(n_estimators=10, max_depth=6)),
            "multiclass",
            zipmap=True,
        ),
    ),
    "gradient_boosting_regression": (
        "regression",
        False,
        sklearn_model(
            GradientBoostingRegressor(**tree_options(n_estimators=20, max_depth=3)), "regression"
        ),
    ),
    "gradient_boosting_binary": (
        "binary",
        False,
        sklearn_model(
            GradientBoostingClassifier(**tree_options(n_estimators=20, max_depth=3)), "binary"
        ),
    ),
    "lightgbm_regression": ("regression", False, lightgbm_model("regression")),
    "lightgbm_binary": ("binary", False, lightgbm_model("binary")),
    "lightgbm_multiclass": ("multiclass", False, lightgbm_model("multiclass")),
    "xgboost_regression": ("regression", False, xgboost_model("regression")),
    "xgboost_binary": ("binary", False, xgboost_model("binary")),
    "mlp": ("multiclass", False, mlp),
    "random_forest_bench": ("binary", False, random_forest_bench),
}


def session(path):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # the same sums in the same order on every run
    # Errors only: onnxmltools declares LightGBM's label output as shape [1], and onnxruntime warns
    # on every run that it returned [rows].
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def zipmap_classes(model, output_name):
    """The class labels of the ZipMap node producing `output_name`, in the node's order."""
    for node in model.graph.node:
        if node.op_type == "ZipMap" and output_name in node.output:
            for attribute in node.attribute:
                if attribute.name == "classlabels_int64s":
                    return [int(label) for label in attribute.ints]
                if attribute.name == "classlabels_strings":
                    return [label.decode() for label in attribute.strings]
    raise ValueError(
        f"output {output_name!r} is a sequence but no ZipMap node with labels makes it"
    )


def tensor(name, value):
    value = np.asarray(value)
    if value.dtype == object or value.dtype.kind in "US":
        datatype = "BYTES"
        data = [str(item) for item in value.ravel()]
    else:
        datatype = DATATYPES[value.dtype]
        data = value.ravel().tolist()
    return {"name": name, "datatype": datatype, "shape": list(value.shape), "data": data}


def array(tensor_json):
    """The numpy array onnxruntime takes for one written input tensor."""
    if tensor_json["datatype"] == "BYTES":
        values = np.array(tensor_json["data"], dtype=object)
    else:
        values = np.array(tensor_json["data"], dtype=NUMPY_TYPES[tensor_json["datatype"]])
    return values.reshape(tensor_json["shape"])


def predict(model, path, inputs):
    """onnxruntime's outputs as written tensors, ZipMap sequences flattened to [rows, classes]."""
    runner = session(path)
    names = [output.name for output in runner.get_outputs()]
    tensors = []
    for name, value in zip(names, runner.run(names, inputs), strict=True):
        if isinstance(value, list):
            classes = zipmap_classes(model, name)
            probabilities = np.array(
                [[row[label] for label in classes] for row in value], np.float32
            )
            tensors.append({**tensor(name, probabilities), "classes": classes})
        else:
            tensors.append(tensor(name, value))
    return tensors


def write(name, out_dir, rows):
    task, zipmap, build = MODELS[name]
    model, inputs = build(rows)
    # Same model, same bytes: the converters name the graph with a fresh UUID and list opsets in
    # set order.
    model.graph.name = name
    opsets = sorted((opset.domain, opset.version) for opset in model.opset_import)
    del model.opset_import[:]
    model.opset_import.extend(helper.make_opsetid(domain, version) for domain, version in opsets)
    path = out_dir / f"{name}.onnx"
    path.write_bytes(model.SerializeToString())
    declared = [graph_input.name for graph_input in model.graph.input]
    if sorted(declared) != sorted(inputs):
        raise ValueError(f"{name}: the model takes {declared}, the zoo feeds {sorted(inputs)}")
    expected = {
        "name": name,
        "task": task,
        "zipmap": zipmap,
        "rows": rows,
        "inputs": [tensor(input_name, inputs[input_name]) for input_name in declared],
        "outputs": predict(model, path, inputs),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(expected))
    return expected


def close(expected, actual):
    if expected["datatype"] in ("BYTES", "INT64", "INT32", "BOOL"):
        return expected["data"] == actual["data"]
    return np.allclose(expected["data"], actual["data"], rtol=0, atol=1e-5)


def verify(name, out_dir):
    """Problems found when the written model is run again on its written inputs."""
    path = out_dir / f"{name}.onnx"
    expected = json.loads((out_dir / f"{name}.json").read_text())
    model = onnx.load(str(path))
    inputs = {tensor_json["name"]: array(tensor_json) for tensor_json in expected["inputs"]}
    actual = {output["name"]: output for output in predict(model, path, inputs)}
    problems = []
    for output in expected["outputs"]:
        again = actual.get(output["name"])
        if again is None:
            problems.append(f"{name}: output {output['name']} is gone")
        elif (again["datatype"], again["shape"], again.get("classes")) != (
            output["datatype"],
            output["shape"],
            output.get("classes"),
        ):
            problems.append(f"{name}: output {output['name']} changed type, shape or classes")
        elif not close(output, again):
            problems.append(
                f"{name}: output {output['name']} is not what was written (floats: beyond 1e-5)"
            )
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out_dir", type=Path, nargs="?")
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--list", action="store_true")
    arguments = parser.parse_args()
    if arguments.list:
        print("\n".join(MODELS))
        return 0
    if arguments.out_dir is None:
        parser.error("OUT_DIR is required")
    if arguments.rows < 1:
        parser.error("--rows must be at least 1")
    unknown = [name for name in arguments.names if name not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; known: {', '.join(MODELS)}")
    arguments.out_dir.mkdir(parents=True, exist_ok=True)
    problems = []
    for name in arguments.names or list(MODELS):
        started = time.perf_counter()
        written = write(name, arguments.out_dir, arguments.rows)
        if arguments.verify:
            problems += verify(name, arguments.out_dir)
        inputs = ", ".join(f"{t['name']} {t['datatype']}{t['shape']}" for t in written["inputs"])
        outputs = ", ".join(f"{t['name']} {t['datatype']}{t['shape']}" for t in written["outputs"])
        seconds = time.perf_counter() - started
        print(f"{name}: {written['task']}, inputs {inputs}; outputs {outputs} ({seconds:.2f} s)")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
