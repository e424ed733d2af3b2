"""Scenarios for Cairn's serving with the clients users have: the `mlflow` client registers
models in Cairn's registry (MLFLOW_TRACKING_URI), `tritonclient.http` (with its defaults: binary
tensors both ways) and plain JSON requests query the serving service (CAIRN_SERVING_URL).

Usage: serving_client.py SCENARIO [ARG...]; exits non-zero with a traceback when a check fails.
"""

import asyncio
import json
import os
import sys
import urllib.parse

import numpy as np
import requests

SERVING = os.environ.get("CAIRN_SERVING_URL", "")
TOLERANCE = 1e-5

NUMPY = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32,
         "BOOL": np.bool_, "BYTES": np.object_}


def register(name, onnx_path):
    """Logs the file with MLflow's ONNX flavour and registers it as `name`; the version."""
    import mlflow
    import onnx

    mlflow.set_experiment("zoo")
    with mlflow.start_run():
        info = mlflow.onnx.log_model(onnx.load(onnx_path), name="model", pip_requirements=["onnxruntime"])
    return int(mlflow.register_model(f"models:/{info.model_id}", name).version)


def deploy(endpoint, spec):
    answer = requests.put(f"{SERVING}/v1/endpoints/{endpoint}", json=spec, timeout=120)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["state"] == "ready" and body["serving"] is not None, body
    return body


def as_numpy(tensor):
    data = tensor["data"]
    if tensor["datatype"] == "BYTES":
        return np.array([str(value) for value in data], dtype=np.object_).reshape(tensor["shape"])
    return np.array(data, dtype=NUMPY[tensor["datatype"]]).reshape(tensor["shape"])


def check(name, expected, got):
    want = as_numpy(expected)
    got = np.asarray(got).reshape(want.shape)
    if want.dtype == np.object_:
        got = np.array([value.decode() if isinstance(value, bytes) else str(value) for value in got.flat],
                       dtype=np.object_).reshape(want.shape)
        assert (got == want).all(), f"{name}/{expected['name']}: {got[:4]} != {want[:4]}"
    elif np.issubdtype(want.dtype, np.floating):
        assert np.allclose(got.astype(np.float64), want.astype(np.float64), atol=TOLERANCE, rtol=0), \
            f"{name}/{expected['name']}: largest difference {np.abs(got - want).max()}"
    else:
        assert (got == want).all(), f"{name}/{expected['name']}: {got.flat[:8]} != {want.flat[:8]}"


def as_records(inputs):
    """The rows of `inputs` as records by feature name, and the column names to tag the version
    with when the model takes one matrix (`f0`, `f1`, ...; None when its inputs are named)."""
    arrays = {tensor["name"]: as_numpy(tensor) for tensor in inputs}
    rows = next(iter(arrays.values())).shape[0]
    if len(arrays) == 1 and next(iter(arrays.values())).ndim == 2 and next(iter(arrays.values())).shape[1] > 1:
        matrix = next(iter(arrays.values()))
        columns = [f"f{index}" for index in range(matrix.shape[1])]
        return [dict(zip(columns, map(plain, matrix[row]))) for row in range(rows)], columns
    return [{name: plain(array.reshape(rows, -1)[row][0]) for name, array in arrays.items()}
            for row in range(rows)], None


def plain(value):
    """A numpy scalar as JSON has it."""
    return value.item() if hasattr(value, "item") else value


async def kserve_infer(endpoint, tensors):
    """One inference through KServe's REST client (v2 protocol), its defaults otherwise."""
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0))
    inputs = []
    for tensor in tensors:
        item = InferInput(tensor["name"], tensor["shape"], tensor["datatype"])
        item.set_data_from_numpy(as_numpy(tensor))
        inputs.append(item)
    try:
        return await client.infer(SERVING, InferRequest(model_name=endpoint, infer_inputs=inputs),
                                  model_name=endpoint)
    finally:
        await client.close()


def zoo(directory):
    """Every zoo model registered, deployed and queried with tritonclient (binary both ways), KServe's
    client and JSON (requests): labels exact, probabilities and values within 1e-5 of onnxruntime."""
    import tritonclient.http as triton

    url = urllib.parse.urlparse(SERVING)
    client = triton.InferenceServerClient(url.netloc)
    assert client.is_server_live()
    names = sorted(file[:-len(".json")] for file in os.listdir(directory) if file.endswith(".json"))
    assert len(names) >= 20, names
    for name in names:
        with open(os.path.join(directory, f"{name}.json")) as file:
            case = json.load(file)
        endpoint = f"zoo-{name}".replace("_", "-")
        version = register(endpoint, os.path.join(directory, f"{name}.onnx"))
        records, columns = as_records(case["inputs"])
        if columns is not None:
            import mlflow
            mlflow.MlflowClient().set_model_version_tag(endpoint, str(version), "cairn.feature_names",
                                                        json.dumps(columns))
        deploy(endpoint, {"model": endpoint, "version": version})
        assert client.is_model_ready(endpoint)
        metadata = client.get_model_metadata(endpoint)
        assert metadata["versions"] == [str(version)], metadata
        assert [i["name"] for i in metadata["inputs"]] == [i["name"] for i in case["inputs"]], metadata

        # tritonclient's defaults: inputs as binary data, every output asked for as binary data.
        inputs = []
        for tensor in case["inputs"]:
            value = as_numpy(tensor)
            if tensor["datatype"] == "BYTES":
                value = np.array([s.encode() for s in value.flat], dtype=np.object_).reshape(value.shape)
            item = triton.InferInput(tensor["name"], list(value.shape), tensor["datatype"])
            item.set_data_from_numpy(value)
            inputs.append(item)
        result = client.infer(endpoint, inputs)
        assert result.get_response()["model_version"] == str(version)
        for expected in case["outputs"]:
            check(name, expected, result.as_numpy(expected["name"]))

        # Plain JSON, nested data as KServe's client sends it, and an id echoed.
        body = {"id": f"req-{name}", "model_name": endpoint, "inputs": [
            {"name": t["name"], "shape": t["shape"], "datatype": t["datatype"],
             "data": as_numpy(t).tolist()} for t in case["inputs"]]}
        answer = requests.post(f"{SERVING}/v2/models/{endpoint}/infer", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json", answer.headers
        response = answer.json()
        assert response["id"] == f"req-{name}" and response["model_name"] == endpoint, response
        outputs = {output["name"]: output for output in response["outputs"]}
        for expected in case["outputs"]:
            got = outputs[expected["name"]]
            assert got["datatype"] == expected["datatype"], (name, got["datatype"], expected["datatype"])
            check(name, expected, as_numpy(got))

        # KServe's Python client, as a KServe user calls an Open Inference Protocol server.
        response = asyncio.run(kserve_infer(endpoint, case["inputs"]))
        assert response.model_name == endpoint, response
        outputs = {output.name: output for output in response.outputs}
        for expected in case["outputs"]:
            check(name, expected, outputs[expected["name"]].as_numpy())

        # Records by feature name through Cairn's own API: a prediction object per row.
        answer = requests.post(f"{SERVING}/v1/endpoints/{endpoint}/predict",
                               json={"records": records, "id": f"rec-{name}"}, timeout=60)
        assert answer.status_code == 200, answer.text
        response = answer.json()
        assert (response["request_id"], response["version"]) == (f"rec-{name}", version), response
        predictions = response["predictions"]
        assert len(predictions) == case["rows"], (len(predictions), case["rows"])
        for expected in case["outputs"]:
            column = [prediction[expected["name"]] for prediction in predictions]
            if "classes" in expected:
                column = [[row[str(label)] for label in expected["classes"]] for row in column]
            check(name, expected, np.array(column, dtype=NUMPY[expected["datatype"]]))
        print(f"{name}: {len(case['outputs'])} outputs match (OIP binary, OIP JSON, records)", flush=True)
    print(f"{len(names)} models")


def versions(name, *files):
    """Registers each file as the next version of `name` (a file that is not ONNX is logged as
    a plain artifact named model.onnx, as a broken export would be); prints the versions."""
    import mlflow

    registered = []
    for path in files:
        if path.endswith(".onnx"):
            registered.append(register(name, path))
            continue
        mlflow.set_experiment("zoo")
        with mlflow.start_run() as run, open(path, "rb") as source:
            mlflow.log_text(source.read().decode("latin-1"), "model/model.onnx")
        client = mlflow.MlflowClient()
        if not client.search_registered_models(f"name = '{name}'"):
            client.create_registered_model(name)
        version = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
        registered.append(int(version.version))
    print(" ".join(map(str, registered)))


def feature_model(name, service, width="1"):
    """Registers as `name` a linear regression taking one matrix `X` [N, width] (no feature names
    recorded) — y = 2·x + 1 for one feature — trained in a run tagged with feature service
    `service`: its columns are that service's features. Prints the version."""
    import mlflow
    import onnx
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    width = int(width)
    x = np.arange(10 * width, dtype=np.float32).reshape(-1, width)
    model = LinearRegression().fit(x, 2 * x[:, 0] + 1)
    exported = to_onnx(model, x[:1], target_opset=17)
    assert [i.name for i in exported.graph.input] == ["X"], exported.graph.input
    mlflow.set_experiment("features")
    with mlflow.start_run():
        mlflow.set_tag("cairn.feature_service", service)
        info = mlflow.onnx.log_model(onnx.load_from_string(exported.SerializeToString()), name="model",
                                     pip_requirements=["onnxruntime"])
    print(int(mlflow.register_model(f"models:/{info.model_id}", name).version))


def scoring_model(name, path):
    """Registers as `name` a random forest classifier on the matrix [amount, id] (its columns
    named by the version's `cairn.feature_names` tag), with skl2onnx's ZipMap probabilities, and
    saves the ONNX file at `path` for `check_scores`. Prints the version."""
    import mlflow
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(7)
    x = np.column_stack([rng.uniform(0, 130, 400), rng.integers(0, 13, 400)]).astype(np.float32)
    y = (x[:, 0] + 5 * x[:, 1] > 90).astype(np.int64)
    model = RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0).fit(x, y)
    with open(path, "wb") as out:
        out.write(to_onnx(model, x[:1], target_opset=17).SerializeToString())
    version = register(name, path)
    mlflow.MlflowClient().set_model_version_tag(name, str(version), "cairn.feature_names",
                                               json.dumps(["amount", "id"]))
    print(version)


def check_scores(path, *files):
    """The scored rows in Parquet `files` hold what onnxruntime computes for the model at `path`
    on the same rows (a null amount is NaN): labels exactly, probabilities to 1e-5."""
    import duckdb
    import onnxruntime

    listed = ", ".join(f"'{file}'" for file in files)
    rows = duckdb.sql(f"SELECT * FROM read_parquet([{listed}]) ORDER BY id, ts").df()
    assert {"id", "ts", "amount", "channel"} <= set(rows.columns), rows.columns
    x = np.column_stack([rows["amount"].astype("float64").to_numpy(na_value=np.nan),
                         rows["id"].to_numpy()]).astype(np.float32)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, {session.get_inputs()[0].name: x})
    assert (rows["predicted_output_label"].to_numpy() == labels).all(), (rows["predicted_output_label"], labels)
    for column in (0, 1):
        got = rows[f"predicted_output_probability_{column}"].to_numpy()
        want = np.array([row[column] for row in probabilities])
        assert np.allclose(got, want, atol=TOLERANCE, rtol=0), (got, want)
    assert np.isnan(x[:, 0]).any(), "a null amount is among the rows"
    print(f"{len(rows)} rows")

if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
