"""Scenarios run with the real `mlflow` client against Cairn's registry (MLFLOW_TRACKING_URI).

Usage: mlflow_client.py SCENARIO [ARG...]; exits non-zero with a traceback when a check fails.
"""

import filecmp
import math
import os
import tempfile
import sys
import threading
import time

import mlflow
import requests
import urllib3
from mlflow.exceptions import MlflowException, RestException
from mlflow.tracking import MlflowClient
from mlflow.entities import Metric, Param, RunTag


def expect_error(code, fn, *args, contains=None, **kwargs):
    try:
        fn(*args, **kwargs)
    except MlflowException as error:
        assert error.error_code == code, f"expected {code}, got {error.error_code}: {error}"
        if contains is not None:
            assert contains in str(error), f"{contains!r} not in {error}"
        return error
    raise AssertionError(f"expected {code} from {fn.__name__}")


def tracking():
    client = MlflowClient()
    default = client.get_experiment("0")
    assert default.name == "Default" and default.lifecycle_stage == "active", default

    experiment_id = mlflow.set_experiment("churn").experiment_id
    assert mlflow.set_experiment("churn").experiment_id == experiment_id, "set_experiment finds the existing one"
    client.set_experiment_tag(experiment_id, "team", "growth")

    with mlflow.start_run(run_name="baseline") as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"depth": 6, "loss": "logloss"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"auc": 0.91, "nan_metric": float("nan"), "inf_metric": float("inf")})
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"owner": "ana", "temp": "x"})
        client.delete_tag(run.info.run_id, "temp")
        run_id = run.info.run_id

    got = client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.end_time >= got.info.start_time, got.info
    assert got.info.run_name == "baseline" and got.info.lifecycle_stage == "active", got.info
    assert got.info.experiment_id == experiment_id
    assert got.info.artifact_uri.endswith(f"{run_id}/artifacts"), got.info.artifact_uri
    assert got.data.params == {"lr": "0.1", "depth": "6", "loss": "logloss"}, got.data.params
    assert got.data.metrics["loss"] == 0.2, got.data.metrics
    assert got.data.metrics["auc"] == 0.91
    assert math.isnan(got.data.metrics["nan_metric"]) and math.isinf(got.data.metrics["inf_metric"])
    assert got.data.tags["stage"] == "dev" and got.data.tags["owner"] == "ana" and "temp" not in got.data.tags
    assert got.data.tags["mlflow.runName"] == "baseline", got.data.tags

    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)], history
    # A point logged again (a retried batch, or the same point inside another batch) is kept once,
    # as MLflow keeps it; NaN points too.
    from mlflow.entities import Metric
    point = Metric("loss", 0.5, history[1].timestamp, 1)
    nan = Metric("nan_metric", float("nan"), 1, 7)
    client.log_batch(run_id, metrics=[point, nan])
    client.log_batch(run_id, metrics=[point, nan])
    client.log_batch(run_id, metrics=[Metric("loss", 0.25, 1, 9), point, nan])
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)] + [(9, 0.25)], history
    assert len([m for m in client.get_metric_history(run_id, "nan_metric") if m.step == 7]) == 1

    experiment = client.get_experiment_by_name("churn")
    assert experiment.experiment_id == experiment_id and experiment.tags == {"team": "growth"}, experiment
    assert client.get_experiment_by_name("no such experiment") is None

    # A run with a generated name, renamed and failed.
    run = client.create_run(experiment_id)
    assert run.info.run_name and run.data.tags["mlflow.runName"] == run.info.run_name, run
    client.update_run(run.info.run_id, status="FAILED", name="renamed")
    got = client.get_run(run.info.run_id)
    assert got.info.status == "FAILED" and got.info.run_name == "renamed", got.info
    assert got.data.tags["mlflow.runName"] == "renamed"

    # Deleted runs leave searches and come back restored.
    client.delete_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run_id]
    deleted = client.search_runs([experiment_id], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run.info.run_id]
    client.restore_run(run.info.run_id)
    assert len(client.search_runs([experiment_id])) == 2

    client.rename_experiment(experiment_id, "churn-v2")
    assert client.get_experiment(experiment_id).name == "churn-v2"
    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert client.get_run(run_id).info.lifecycle_stage == "deleted", "runs go with their experiment"
    client.restore_experiment(experiment_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active", "and come back with it"
    names = [e.name for e in client.search_experiments()]
    assert names == ["churn-v2", "Default"], names
    assert [e.name for e in client.search_experiments(filter_string="name LIKE 'churn%'")] == ["churn-v2"]
    assert [e.name for e in client.search_experiments(filter_string="tags.team = 'growth'")] == ["churn-v2"]


def search():
    client = MlflowClient()
    experiment_id = client.create_experiment("search")
    other = client.create_experiment("other")
    ids = {}
    for i in range(30):
        run = client.create_run(experiment_id if i < 25 else other, run_name=f"run-{i:02d}", start_time=1_000_000 + i)
        metrics = [Metric("acc", i / 30, 0, 0)] if i % 3 else []
        params = [Param("lr", "0.1" if i % 2 else "0.01"), Param("model", "Gbm" if i < 10 else "gbm")]
        client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=[RunTag("fold", str(i % 5))])
        if i % 4 == 0:
            client.set_terminated(run.info.run_id, "FINISHED")
        ids[i] = run.info.run_id

    def names(runs):
        return [r.info.run_name for r in runs]

    runs = client.search_runs([experiment_id], "metrics.acc > 0.5", order_by=["metrics.acc DESC"])
    assert names(runs) == [f"run-{i:02d}" for i in (23, 22, 20, 19, 17, 16)], names(runs)
    runs = client.search_runs([experiment_id], "params.lr = '0.1' AND metrics.acc <= 0.2")
    assert names(runs) == ["run-05", "run-01"], names(runs)
    runs = client.search_runs([experiment_id], "tags.fold = '0' and attributes.status = 'FINISHED'")
    assert names(runs) == ["run-20", "run-00"], names(runs)
    runs = client.search_runs([experiment_id], "params.model LIKE 'G%'")
    assert len(runs) == 10, "LIKE is case-sensitive"
    runs = client.search_runs([experiment_id], "params.model ILIKE 'G%'")
    assert len(runs) == 25, "ILIKE is not"
    runs = client.search_runs([experiment_id], "tags.`mlflow.runName` LIKE 'run-1%'")
    assert len(runs) == 10, names(runs)
    runs = client.search_runs([experiment_id], f"attributes.run_id IN ('{ids[3]}', '{ids[4]}')")
    assert sorted(names(runs)) == ["run-03", "run-04"]
    runs = client.search_runs([experiment_id, other], "attributes.start_time >= 1000024")
    assert names(runs) == [f"run-{i}" for i in range(29, 23, -1)], names(runs)
    # A metric filter over two experiments, newest first, paged; a second metric clause; a
    # deleted run left out.
    client.delete_run(ids[28])
    expected = [f"run-{i:02d}" for i in range(29, 14, -1) if i % 3 and i != 28]
    seen, token = [], None
    while True:
        page = client.search_runs([experiment_id, other], "metrics.acc >= 0.5", max_results=4, page_token=token)
        seen += names(page)
        token = page.token
        if not token:
            break
    assert seen == expected, seen
    runs = client.search_runs([experiment_id, other], "metrics.acc >= 0.5 AND metrics.acc < 0.6")
    assert names(runs) == ["run-17", "run-16"], names(runs)
    client.restore_run(ids[28])
    # Ordering: runs without the metric come last, whichever the direction.
    runs = client.search_runs([experiment_id], order_by=["metrics.acc ASC"])
    assert names(runs)[:2] == ["run-01", "run-02"] and names(runs)[-1] == "run-00", names(runs)
    runs = client.search_runs([experiment_id], order_by=["params.lr DESC", "attributes.run_name ASC"])
    assert names(runs)[0] == "run-01", names(runs)

    # Paging with tokens covers every run exactly once, in the same order as one page.
    seen, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=7, page_token=token)
        seen += names(page)
        token = page.token
        if not token:
            break
    everything = names(client.search_runs([experiment_id], max_results=1000))
    assert seen == everything and len(everything) == 25, (seen, everything)
    assert everything[0] == "run-24", "newest first by default"
    everything = mlflow.search_runs([experiment_id], output_format="list")
    assert len(everything) == 25


def errors():
    client = MlflowClient()
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_experiment, "424242")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_run, "0123456789abcdef")
    client.create_experiment("twice")
    expect_error("RESOURCE_ALREADY_EXISTS", client.create_experiment, "twice")
    run = client.create_run("0")
    client.log_param(run.info.run_id, "lr", "0.1")
    client.log_param(run.info.run_id, "lr", "0.1")
    expect_error("INVALID_PARAMETER_VALUE", client.log_param, run.info.run_id, "lr", "0.2", contains="changing")
    expect_error("INVALID_PARAMETER_VALUE", client.log_metric, run.info.run_id, "../escape", 1.0)
    error = expect_error("INVALID_PARAMETER_VALUE", client.search_runs, ["0"], "metrics.acc >> 1")
    assert "position 14" in str(error), error
    error = expect_error("INVALID_PARAMETER_VALUE", client.search_runs, ["0"], "params.lr = 0.1")
    assert "quoted" in str(error), error
    expect_error("INVALID_PARAMETER_VALUE", client.search_runs, ["0"], "metrics.a > 1 OR metrics.b > 1")
    # The client splits big batches itself: send one over the wire directly.
    url = os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow"
    too_many = [{"key": "m", "value": 1.0, "timestamp": 0, "step": i} for i in range(1001)]
    answer = requests.post(f"{url}/runs/log-batch", json={"run_id": run.info.run_id, "metrics": too_many})
    assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE", answer.text
    answer = requests.post(f"{url}/runs/log-batch", data=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE", answer.text
    answer = requests.post(f"{url}/runs/log-metric", json={"run_id": run.info.run_id, "key": "m"})
    assert answer.status_code == 400 and "'value'" in answer.json()["message"], answer.text
    answer = requests.get(f"{url}/no/such/endpoint")
    assert answer.status_code == 404 and answer.json()["error_code"] == "ENDPOINT_NOT_FOUND", answer.text
    client.delete_run(run.info.run_id)
    expect_error("INVALID_PARAMETER_VALUE", client.log_metric, run.info.run_id, "m", 1.0, contains="active")


def concurrent(writers, batches):
    """`writers` threads each log `batches` batches of 1000 points of one metric to one run."""
    writers, batches = int(writers), int(batches)
    client = MlflowClient()
    run_id = client.create_run("0").info.run_id
    now = int(time.time() * 1000)

    def write(writer):
        for batch in range(batches):
            first = (writer * batches + batch) * 1000
            points = [Metric("shared", float(first + i), now, first + i) for i in range(1000)]
            client.log_batch(run_id, metrics=points)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = writers * batches * 1000
    history = client.get_metric_history(run_id, "shared")
    assert len(history) == total, f"{len(history)} of {total} points"
    assert sorted(m.step for m in history) == list(range(total))
    assert client.get_run(run_id).data.metrics["shared"] == total - 1, "the latest point is the highest step"


def artifacts(store=None):
    """Logs files and directories, lists and downloads them, and tries to escape the run's root.

    `store`, the artifact store's directory when it is one: each escape's target is created there,
    outside the run's root, so a check that let the path through would find a file to serve. Every
    escape must be refused as such (400), never answered as absent (404)."""
    client = MlflowClient()
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "notes.txt"), "w") as f:
            f.write("hello artifacts")
        os.makedirs(os.path.join(tmp, "model", "nested"))
        with open(os.path.join(tmp, "model", "weights.bin"), "wb") as f:
            f.write(os.urandom(3 * 1024 * 1024 + 17))
        with open(os.path.join(tmp, "model", "nested", "conf.json"), "w") as f:
            f.write('{"a": 1}')
        with mlflow.start_run() as run:
            mlflow.log_artifact(os.path.join(tmp, "notes.txt"))
            mlflow.log_artifacts(os.path.join(tmp, "model"), artifact_path="model")
            mlflow.log_text("some text", "texts/a b.txt")
            mlflow.log_dict({"k": [1, 2]}, "meta.json")
        run_id = run.info.run_id

        listed = [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id)]
        assert listed == [("meta.json", False, 29), ("model", True, None), ("notes.txt", False, 15), ("texts", True, None)], listed
        listed = [(f.path, f.is_dir) for f in client.list_artifacts(run_id, "model")]
        assert listed == [("model/nested", True), ("model/weights.bin", False)], listed

        out = client.download_artifacts(run_id, "model", tmp + "/out")
        assert filecmp.cmp(os.path.join(tmp, "model", "weights.bin"), os.path.join(out, "weights.bin"), shallow=False)
        assert open(os.path.join(out, "nested", "conf.json")).read() == '{"a": 1}'
        text = mlflow.artifacts.load_text(f"runs:/{run_id}/texts/a b.txt")
        assert text == "some text", text
        assert mlflow.artifacts.load_dict(f"runs:/{run_id}/meta.json") == {"k": [1, 2]}

    base = os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow-artifacts/artifacts"
    root = f"0/{run_id}/artifacts"
    # Each attack with the file it aims at (relative to the store), which exists.
    for attack, target in [
        (f"{root}/%2e%2e/%2e%2e/escape.txt", "0/escape.txt"),
        (f"{root}/%252e%252e/%252e%252e/escape.txt", "0/escape.txt"),
        ("%2Fetc%2Fpasswd", "etc/passwd"),
        (f"{root}/..%2F..%2Fescape.txt", "0/escape.txt"),
        (f"0/{'f' * 32}/artifacts/not-a-run.txt", f"0/{'f' * 32}/artifacts/not-a-run.txt"),
        (f"0/{run_id}/elsewhere.txt", f"0/{run_id}/elsewhere.txt"),
        (f"{root}/a%5Cb.txt", f"{root}/a\\b.txt"),
    ]:
        if store is not None:
            os.makedirs(os.path.dirname(os.path.join(store, target)), exist_ok=True)
            with open(os.path.join(store, target), "w") as f:
                f.write("outside the run's artifacts")
        answer = requests.put(f"{base}/{attack}", data=b"x")
        assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE", (attack, answer.text)
        answer = requests.get(f"{base}/{attack}")
        assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE", (attack, answer.status_code, answer.text)
    answer = requests.get(base, params={"path": f"{root}/../../.."})
    assert answer.status_code == 400, answer.text

    # Past registry.max_artifact_bytes (the test sets 4 MiB): refused, declared or streamed.
    big = b"x" * (5 * 1024 * 1024)
    answer = requests.put(f"{base}/{root}/big.bin", data=big)
    assert answer.status_code == 413 and answer.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED", answer.text
    answer = requests.put(f"{base}/{root}/big.bin", data=(big[i:i + 65536] for i in range(0, len(big), 65536)))
    assert answer.status_code == 413, answer.text
    assert "big.bin" not in [f.path for f in client.list_artifacts(run_id)], "nothing left behind"
    print(run_id)


def logged_models():
    """MLflow 3: log_model creates a logged model, uploads its files and finalizes it."""
    client = MlflowClient()

    experiment_id = mlflow.set_experiment("models").experiment_id
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", "0.5")
        info = mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=["mlflow-skinny"])
    model = client.get_logged_model(info.model_id)
    assert str(model.status) == "READY", model.status
    assert model.source_run_id == run.info.run_id and model.name == "model", model
    assert model.params == {"alpha": "0.5"}, model.params
    assert model.artifact_location.endswith(f"models/{info.model_id}/artifacts"), model.artifact_location

    outputs = client.get_run(run.info.run_id).outputs.model_outputs
    assert [o.model_id for o in outputs] == [info.model_id], outputs
    found = client.search_logged_models([experiment_id], filter_string="name = 'model'")
    assert [m.model_id for m in found] == [info.model_id], found
    assert client.search_logged_models([experiment_id], filter_string="name = 'other'") == []

    local = mlflow.artifacts.download_artifacts(f"models:/{info.model_id}")
    assert os.path.exists(os.path.join(local, "MLmodel")), os.listdir(local)
    local = mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/model")
    assert os.path.exists(os.path.join(local, "MLmodel")), os.listdir(local)
    listed = [f.path for f in client.list_artifacts(run.info.run_id, "model")]
    assert "model/MLmodel" in listed, listed

    client.set_logged_model_tags(info.model_id, {"team": "growth"})
    assert client.get_logged_model(info.model_id).tags["team"] == "growth"
    client.delete_logged_model_tag(info.model_id, "team")
    assert "team" not in client.get_logged_model(info.model_id).tags
    client.delete_logged_model(info.model_id)
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_logged_model, info.model_id)


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def registry():
    """Registering versions (log_model and register_model), aliases, stages, search, models:/ URIs."""
    import pandas as pd

    client = MlflowClient()
    mlflow.set_experiment("registry")
    with mlflow.start_run() as first:
        one = mlflow.pyfunc.log_model(
            name="model", python_model=Echo(), pip_requirements=["mlflow-skinny"], registered_model_name="churn"
        )
    version = client.get_model_version("churn", "1")
    assert version.status == "READY" and version.run_id == first.info.run_id, version
    assert version.current_stage == "None" and version.source == f"models:/{one.model_id}", version
    with mlflow.start_run() as second:
        two = mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=["mlflow-skinny"])
    version = mlflow.register_model(f"runs:/{second.info.run_id}/model", "churn")
    assert version.version == "2" and version.run_id == second.info.run_id, version
    expect_error("RESOURCE_ALREADY_EXISTS", client.create_registered_model, "churn")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, "no-such-model")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version, "churn", "9")

    client.set_registered_model_alias("churn", "champion", "1")
    assert client.get_model_version_by_alias("churn", "champion").version == "1"
    client.set_registered_model_alias("churn", "champion", "2")
    champion = client.get_model_version_by_alias("churn", "champion")
    assert champion.version == "2" and champion.aliases == ["champion"], champion
    model = client.get_registered_model("churn")
    assert model.aliases == {"champion": "2"}, model.aliases
    local = mlflow.artifacts.download_artifacts("models:/churn@champion")
    assert two.model_id in open(os.path.join(local, "MLmodel")).read(), "champion serves version 2's files"
    loaded = mlflow.pyfunc.load_model("models:/churn@champion")
    frame = pd.DataFrame({"x": [1, 2]})
    assert loaded.predict(frame).equals(frame)
    client.delete_registered_model_alias("churn", "champion")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version_by_alias, "churn", "champion")
    expect_error("INVALID_PARAMETER_VALUE", client.set_registered_model_alias, "churn", "latest", "1")

    client.transition_model_version_stage("churn", "1", "Production")
    local = mlflow.artifacts.download_artifacts("models:/churn/Production")
    assert one.model_id in open(os.path.join(local, "MLmodel")).read()
    client.transition_model_version_stage("churn", "2", "production", archive_existing_versions=True)
    assert client.get_model_version("churn", "1").current_stage == "Archived"
    assert [v.version for v in client.get_latest_versions("churn", stages=["Production"])] == ["2"]

    assert sorted(v.version for v in client.search_model_versions("name = 'churn'")) == ["1", "2"]
    found = client.search_model_versions(f"run_id = '{first.info.run_id}'")
    assert [v.version for v in found] == ["1"], found
    found = [m.name for m in client.search_registered_models("name LIKE 'ch%'")]
    assert found == ["churn"], found

    # A version is a copy: removing the logged model's files does not change it.
    base = os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow-artifacts/artifacts"
    logged = client.get_logged_model(one.model_id).artifact_location.split("mlflow-artifacts:/", 1)[1]
    answer = requests.delete(f"{base}/{logged}")
    assert answer.status_code == 200, answer.text
    local = mlflow.artifacts.download_artifacts("models:/churn/1")
    assert os.path.exists(os.path.join(local, "MLmodel"))
    # ... and cannot be written through the proxy.
    uri = client.get_model_version_download_uri("churn", "1").split("mlflow-artifacts:/", 1)[1]
    answer = requests.put(f"{base}/{uri}/MLmodel", data=b"replaced")
    assert answer.status_code == 400, answer.text

    client.set_model_version_tag("churn", "1", "validated", "yes")
    client.set_registered_model_tag("churn", "team", "growth")
    client.update_model_version("churn", "1", description="first")
    client.rename_registered_model("churn", "churn-v2")
    version = client.get_model_version("churn-v2", "1")
    assert version.tags == {"validated": "yes"} and version.description == "first", version
    assert client.get_registered_model("churn-v2").tags == {"team": "growth"}
    client.delete_model_version("churn-v2", "1")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version, "churn-v2", "1")
    client.delete_registered_model("churn-v2")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, "churn-v2")


def lineage():
    """A run that names its data and code, registered twice as `fraud`, with an alias moved."""
    client = MlflowClient()
    mlflow.set_experiment("fraud-detection")
    versions = []
    for auc in (0.81, 0.86):
        with mlflow.start_run(tags={"cairn.dataset.transactions": "3", "mlflow.source.git.commit": "abc123",
                                    "cairn.feature_service": "fraud_features@2"}) as run:
            mlflow.log_param("depth", "6")
            mlflow.log_metric("auc", auc)
            info = mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=["mlflow-skinny"])
        versions.append(mlflow.register_model(f"models:/{info.model_id}", "fraud").version)
        client.set_registered_model_alias("fraud", "champion", versions[-1])
        time.sleep(0.05)
    assert versions == ["1", "2"], versions


def onnx_model():
    """An ONNX model written by the `onnx` package, logged with MLflow's ONNX flavour and
    registered as `scorer`; its weight `W` is also listed among the graph's inputs, as models
    before IR 4 list their weights."""
    import onnx
    from onnx import TensorProto, helper

    weight = helper.make_tensor("W", TensorProto.FLOAT, [4, 1], [0.1, 0.2, 0.3, 0.4])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "W"], ["score"])],
        "scorer",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("W", TensorProto.FLOAT, [4, 1])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch", 1])],
        [weight],
    )
    model = helper.make_model(graph, producer_name="cairn-tests", producer_version="1.0",
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    mlflow.set_experiment("onnx")
    with mlflow.start_run():
        info = mlflow.onnx.log_model(model, name="model", pip_requirements=["onnxruntime"])
    assert mlflow.register_model(f"models:/{info.model_id}", "scorer").version == "1"

    # The signature Cairn read from the file is what ONNX Runtime sees in it.
    import onnxruntime
    session = onnxruntime.InferenceSession(model.SerializeToString())
    answer = requests.get(os.environ["MLFLOW_TRACKING_URI"] + "/v1/models/scorer/versions/1",
                          auth=(os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]))
    signature = answer.json()["signature"]
    for side, expected in (("inputs", session.get_inputs()), ("outputs", session.get_outputs())):
        seen = [(t["name"], t["type"], t["shape"]) for t in signature[side]]
        assert seen == [(t.name, t.type, t.shape) for t in expected], (side, seen)


def protected_setup():
    """Model `pricing` with two versions; `champion` on version 1."""
    client = MlflowClient()
    mlflow.set_experiment("pricing")
    for _ in range(2):
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=["mlflow-skinny"])
        mlflow.register_model(f"models:/{info.model_id}", "pricing")
    client.set_registered_model_alias("pricing", "champion", "1")


def protected_denied():
    """A protected alias cannot be moved or removed through MLflow's API."""
    client = MlflowClient()
    expect_error("PERMISSION_DENIED", client.set_registered_model_alias, "pricing", "champion", "2", contains="protected")
    expect_error("PERMISSION_DENIED", client.delete_registered_model_alias, "pricing", "champion")
    assert client.get_model_version_by_alias("pricing", "champion").version == "1"


def download_fails(run_id, path, how):
    """A changed artifact is never served whole. One that fits in the first chunk the registry
    reads is refused before the answer starts (`how` = `refused`): 500 with MLflow's
    INTERNAL_ERROR. A larger one (`cut`) starts as a 200 with its true length and stops short of
    it, which HTTP clients and the mlflow client report as a failed download."""
    url = os.environ["MLFLOW_TRACKING_URI"] + f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/{path}"
    if how == "refused":
        answer = requests.get(url)
        assert answer.status_code == 500, (answer.status_code, answer.content[:40])
        assert answer.json()["error_code"] == "INTERNAL_ERROR", answer.text
        return
    assert how == "cut", how
    answer = requests.get(url, stream=True)
    assert answer.status_code == 200, (answer.status_code, answer.text)
    declared = int(answer.headers["Content-Length"])
    received = 0
    try:
        for chunk in answer.raw.stream(64 * 1024, decode_content=False):
            received += len(chunk)
    except urllib3.exceptions.ProtocolError as error:
        assert "IncompleteRead" in repr(error), repr(error)
        assert 0 < received < declared, (received, declared)
    else:
        raise AssertionError(f"a changed artifact was served whole: {received} of {declared} bytes")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            mlflow.artifacts.download_artifacts(f"runs:/{run_id}/{path}", dst_path=tmp)
        except Exception:
            return
    raise AssertionError("the mlflow client downloaded a changed artifact")


def create_run():
    run = MlflowClient().create_run("0", run_name="durable")
    MlflowClient().log_batch(run.info.run_id, metrics=[Metric("m", 0.5, 1, 3)], params=[Param("p", "v")])
    print(run.info.run_id)


def check_run(run_id):
    run = MlflowClient().get_run(run_id)
    assert run.info.run_name == "durable" and run.data.metrics == {"m": 0.5} and run.data.params == {"p": "v"}, run


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
