"""An external trainer for Cairn: a scikit-learn pipeline (mean imputation, StandardScaler, then
logistic regression) trained on the files the worker names and exported to ONNX with skl2onnx.

The contract (services/training/README.md): the worker runs this in a directory of its own with

    CAIRN_TRAIN_DATA, CAIRN_VALIDATION_DATA   Parquet files: the features and the label
    CAIRN_PARAMS                              params.json: this trial's parameters
    CAIRN_FEATURES, CAIRN_LABEL, CAIRN_TASK   the feature columns (JSON list), the label, the task
    CAIRN_MODEL_OUTPUT                        where model.onnx must go
    CAIRN_METRICS_OUTPUT                      where metrics.json may go (recorded, never gated on)

and every JSON line printed on stdout becomes a metric of the trial. The platform measures the
model itself on rows it held out; what this script reports is for the record only.

    pipeline spec:  [trainer]  task = "binary"  command = ["python", "examples/sklearn-trainer/train.py"]
                    params = { C = 1.0 }
"""

import json
import os

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def fit(frame: pd.DataFrame, features: list, label: str, params: dict) -> Pipeline:
    """The pipeline fitted on `frame`. Missing values are filled with the training mean inside the
    pipeline, so the exported model fills them the same way when it serves."""
    x = frame[features].astype(np.float32)
    model = Pipeline(
        [
            ("impute", SimpleImputer(strategy="mean")),
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(C=float(params.get("C", 1.0)), max_iter=1000)),
        ]
    )
    return model.fit(x.to_numpy(), frame[label].to_numpy())


def export(model: Pipeline, features: list) -> bytes:
    """ONNX with one float matrix input (the features in the order given) and probabilities as a
    plain tensor, as Cairn evaluates and serves it."""
    from skl2onnx import to_onnx

    sample = np.zeros((1, len(features)), dtype=np.float32)
    onnx = to_onnx(model, sample, options={id(model.steps[-1][1]): {"zipmap": False}}, target_opset=17)
    return onnx.SerializeToString()


def main() -> None:
    features = json.loads(os.environ["CAIRN_FEATURES"])
    label = os.environ["CAIRN_LABEL"]
    with open(os.environ["CAIRN_PARAMS"]) as file:
        params = json.load(file)
    train = pd.read_parquet(os.environ["CAIRN_TRAIN_DATA"])
    model = fit(train, features, label, params)
    accuracy = model.score(train[features].to_numpy(np.float32), train[label].to_numpy())
    print(json.dumps({"step": 0, "train_accuracy": accuracy}))
    with open(os.environ["CAIRN_MODEL_OUTPUT"], "wb") as file:
        file.write(export(model, features))
    with open(os.environ["CAIRN_METRICS_OUTPUT"], "w") as file:
        json.dump({"iterations": int(model.steps[-1][1].n_iter_[0])}, file)


if __name__ == "__main__":
    main()
