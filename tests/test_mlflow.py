"""The MLflow bridge (issue 28) against real MLflow stores: a local `sqlite:///` store with a local artifact
folder, an unreachable server, and (when the full MLflow is installed beside, in `.venv-mlflow`) a real
`mlflow server` on 127.0.0.1 read back over HTTP."""

import os
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import DATASETS, ROOT, free_port, invoke, wait_for_http

from workbench.registry import Registry

pytest.importorskip("mlflow")
pytestmark = pytest.mark.xdist_group("mlflow")
MOBILE = str(DATASETS / "mobile_price_sample.csv")


def runs_of(uri: str, experiment: str):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = client.get_experiment_by_name(experiment)
    return client, ([] if found is None else client.search_runs([found.experiment_id]))


def check_exported(uri: str, home: Path, tmp_path: Path) -> None:
    """A onehot and a feature-selection run, with their models, as the team sees them in MLflow."""
    import mlflow

    env = {"WORKBENCH_MLFLOW_URI": uri}
    assert invoke("run", "onehot", "--data", str(DATASETS / "colors_train.csv"), "--register", "colors",
                  home=home, env=env).returncode == 0
    fit = invoke("run", "feature-selection", "--data", MOBILE, "-p", "target=price_range", "-p", "model=logistic",
                 "-p", "trials=4", "-p", "compare=false", "--register", "price", "--seed", "3", home=home, env=env)
    assert fit.returncode == 0, fit.stderr
    client, [onehot] = runs_of(uri, "onehot")
    tags = onehot.data.tags
    assert tags["workbench.task"] == "onehot" and tags["workbench.run_id"] == "1" and tags["workbench.status"] == \
        "succeeded" and tags["workbench.user"] and "Fitted an encoder" in tags["mlflow.note.content"]
    assert onehot.data.params["handle_unknown"] == "ignore" and onehot.data.metrics["output_columns"] > 0
    [used] = onehot.inputs.dataset_inputs
    registry = Registry.open(home=home)
    dataset = registry.datasets.get("colors_train@1")
    assert used.dataset.name == "colors_train@1" and used.dataset.digest == dataset.sha256[:36]
    assert {tag.key: tag.value for tag in used.tags}["workbench.sha256"] == dataset.sha256
    artifacts = {item.path for item in client.list_artifacts(onehot.info.run_id, "outputs")}
    assert {"outputs/encoded.parquet", "outputs/metrics.json", "outputs/summary.md"} <= artifacts
    _, [select] = runs_of(uri, "feature-selection")
    charts = {item.path for item in client.list_artifacts(select.info.run_id, "outputs")}
    assert {"outputs/comparison.html", "outputs/comparison.png", "outputs/comparison.svg"} <= charts
    assert select.data.tags["workbench.seed"] == "3" and select.data.metrics["chosen_cv"] > 0.5
    assert registry.runs.get(2).tags["mlflow"] == "exported"
    # the registered model, loaded the MLflow way, predicts what `workbench run --model` does
    new = pl.read_csv(MOBILE).drop("price_range").head(50)
    new.write_csv(tmp_path / "new.csv")
    applied = invoke("run", "feature-selection", "--data", str(tmp_path / "new.csv"), "--model", "price",
                     "--out", str(tmp_path / "applied"), home=home, env=env)
    assert applied.returncode == 0, applied.stderr
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model = mlflow.pyfunc.load_model("models:/price/1")
    predicted = model.predict(new.to_pandas())
    expected = pl.read_csv(tmp_path / "applied" / "predictions.csv")
    assert predicted["predicted_price_range"].tolist() == expected["predicted_price_range"].to_list()
    encoder = mlflow.pyfunc.load_model("models:/colors/1")
    colours = pl.read_csv(DATASETS / "colors_inference.csv")
    encoded = encoder.predict(colours.to_pandas())
    assert encoded.shape == (colours.height, registry.models.get("colors").metrics["output_columns"])


def test_runs_and_models_land_in_a_local_mlflow_store(home, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    check_exported(uri, home, tmp_path)
    assert (tmp_path / "mlartifacts").is_dir()  # the artifacts beside the database, not in the working folder
    # aliases move in MLflow too
    env = {"WORKBENCH_MLFLOW_URI": uri}
    assert invoke("models", "alias", "price@1", "champion", home=home, env=env).returncode == 0
    client, _ = runs_of(uri, "onehot")
    assert str(client.get_model_version_by_alias("price", "champion").version) == "1"
    assert invoke("models", "unalias", "price", "champion", home=home, env=env).returncode == 0
    with pytest.raises(Exception, match="champion"):
        client.get_model_version_by_alias("price", "champion")


def test_a_store_that_does_not_answer_never_fails_a_run_and_sync_exports_it_once(home, tmp_path):
    port = free_port()  # nothing listens here
    down = {"WORKBENCH_MLFLOW_URI": f"http://127.0.0.1:{port}", "WORKBENCH_MLFLOW_TIMEOUT": "3"}
    started = time.monotonic()
    done = invoke("run", "describe", "--data", str(DATASETS / "adult_train.csv"), home=home, env=down)
    assert done.returncode == 0 and time.monotonic() - started < 60
    assert "run #1 is not yet exported to MLflow" in done.stderr
    assert Registry.open(home=home).runs.get(1).tags["mlflow"] == "pending"
    refused = invoke("mlflow", "sync", home=home, env=down)
    assert refused.returncode != 0
    store = {"WORKBENCH_MLFLOW_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}  # the store answers now
    first = invoke("mlflow", "sync", home=home, env=store)
    assert first.returncode == 0 and "exported 1 runs to MLflow; 0 were there already" in first.stdout
    again = invoke("mlflow", "sync", home=home, env=store)
    assert "exported 0 runs to MLflow; 1 were there already" in again.stdout
    _, runs = runs_of(store["WORKBENCH_MLFLOW_URI"], "describe")
    assert len(runs) == 1 and Registry.open(home=home).runs.get(1).tags["mlflow"] == "exported"


SERVER_VENV = ROOT / ".venv-mlflow"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """The full MLflow's tracking server on 127.0.0.1 (its own virtualenv, made by `make`: it pins pyarrow)."""
    server = SERVER_VENV / "bin" / "mlflow"
    if not server.exists():
        pytest.skip("the full MLflow is not installed beside (make installs it in .venv-mlflow)")
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    process = subprocess.Popen([str(server), "server", "--host", "127.0.0.1", "--port", str(port),
                                "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
                                "--artifacts-destination", str(folder / "artifacts"), "--workers", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/health", process, timeout=180)
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.slow
def test_a_real_tracking_server_over_http_and_its_ui(mlflow_server, home, tmp_path, page):
    check_exported(mlflow_server, home, tmp_path)
    _, runs = runs_of(mlflow_server, "feature-selection")
    [run] = [run for run in runs if run.data.tags["workbench.run_id"] == "2"]
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{mlflow_server}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}")
    page.get_by_text("chosen_cv").first.wait_for(timeout=60_000)
    for text in ("feature-selection #2", "mobile_price_sample@1", "workbench.run_id", "price"):
        assert page.get_by_text(text).first.is_visible(), text
    shots = os.environ.get("WORKBENCH_SCREENSHOTS")
    if shots:
        assistant = page.get_by_role("button", name="Close")
        if assistant.count():
            assistant.first.click()
        page.screenshot(path=str(Path(shots) / "mlflow-run.png"))
