"""Data beyond memory: inputs in parts or on S3, streamed apply and Ray give exactly the in-memory results."""

import json
import os
import socket
from pathlib import Path

import polars as pl
import pytest
from conftest import DATASETS, error_lines, run_cli

from workbench.io.sources import open_source
from workbench.registry import Registry
from workbench.testing import run_task

# One xdist worker runs this module: its tests share the fitted models, and two Ray instances starting at once on
# two cores time out.
pytestmark = pytest.mark.xdist_group("ray")

LABELS = ["works for", "killed", "is based in", "lives in", "is located in"]
CLICKBAIT = pl.read_csv(DATASETS / "clickbait_sample.csv")
CAMPAIGN = pl.read_csv(DATASETS / "campaign_sample.csv")

# task: (data to fit on, fit params, data to apply to (resampled, so it differs from the fit data), batch rows)
TASKS = {
    "onehot": (pl.read_csv(DATASETS / "adult_train.csv"), {"min_frequency": 5},
               pl.read_csv(DATASETS / "adult_test.csv"), 250),
    "feature-selection": (pl.read_csv(DATASETS / "mobile_price_sample.csv"),
                          {"target": "price_range", "model": "logistic", "trials": 6, "compare": False},
                          pl.read_csv(DATASETS / "mobile_price_sample.csv").drop("price_range"), 90),
    "uplift": (CAMPAIGN, {"treatment": "treatment", "outcome": "outcome", "features": ["x0", "x4", "x5", "x7"]},
               CAMPAIGN.drop("treatment", "outcome"), 250),
    "fewshot": (CLICKBAIT, {"text": "headline", "label": "clickbait", "method": "embeddings", "eval_rows": 0},
                CLICKBAIT.drop("clickbait").head(60), 16),
    "relations": (pl.read_csv(DATASETS / "conll04_train_sample.csv").head(4),
                  {"text": "text", "gold": "triples", "mode": "train", "epochs": 1, "eval_rows": 0,
                   "train_batch_size": 4, "lora_rank": 4, "labels": LABELS},
                  pl.read_csv(DATASETS / "conll04_dev_sample.csv").drop("triples").head(4), 2),
}
APPLY_PARAMS = {"relations": {"batch_size": 1, "max_new_tokens": 24}}  # one sentence per generate: no padding
# Sentence embeddings depend in the last bits on which texts share an encoder batch (padding changes the order
# of float sums), and the uplift effect is a BLAS product whose blocking follows the batch's row count: their
# floats agree to a tolerance and their labels exactly; every other task, bit for bit.
FLOAT_TOLERANCE = {"fewshot": 1e-6, "uplift": 1e-9}


def assert_same(got: pl.DataFrame, expected: pl.DataFrame, task: str) -> None:
    tolerance = FLOAT_TOLERANCE.get(task)
    if tolerance is None:
        differing = [column for column in expected.columns if not got[column].equals(expected[column])]
        assert got.schema == expected.schema and not differing, f"{task}: {differing} differ from the in-memory output"
        return
    assert got.schema == expected.schema
    for column in expected.columns:
        if expected[column].dtype.is_float():
            assert (got[column] - expected[column]).abs().max() < tolerance, column
        else:
            assert got[column].equals(expected[column]), column


def resampled(frame: pl.DataFrame, task: str) -> pl.DataFrame:
    """Rows drawn with replacement (a different dataset from the one the model was fitted on)."""
    return frame.sample(fraction=1.0 if task in ("fewshot", "relations") else 2.0, with_replacement=True, seed=7)


def write_parts(frame: pl.DataFrame, folder: Path, parts: int = 3, row_group_rows: int | None = None) -> Path:
    folder.mkdir(parents=True)
    size = -(-frame.height // parts)
    for index in range(parts):
        frame.slice(index * size, size).write_parquet(folder / f"part-{index}.parquet", row_group_size=row_group_rows)
    return folder


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A workspace with one registered model per applying task, and its apply data in three Parquet parts."""
    home = tmp_path_factory.mktemp("scale") / "home"
    saved = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = str(home)
    registry = Registry.open()
    inputs = {}
    for task, (fit_data, params, apply_data, _) in TASKS.items():
        run_task(task, fit_data, "fit", params=params, register=f"m-{task}", registry=registry)
        inputs[task] = write_parts(resampled(apply_data, task), home.parent / f"{task}-parts",
                                   row_group_rows=TASKS[task][3])  # a Ray actor takes a row group at a time
    yield registry, inputs
    if saved is None:
        os.environ.pop("WORKBENCH_HOME")
    else:
        os.environ["WORKBENCH_HOME"] = saved


def in_memory(registry: Registry, task: str, parts: Path) -> pl.DataFrame:
    """The in-memory apply of `parts`, computed once per input (the streamed and the Ray tests compare to it)."""
    if parts not in APPLIED:
        source = open_source(str(parts))
        result = run_task(task, source.read(), f"apply-{task}", params=APPLY_PARAMS.get(task), model=f"m-{task}",
                          registry=registry).result
        APPLIED[parts] = result.tables[registry_task(task).batch_table]
    return APPLIED[parts]


APPLIED: dict[Path, pl.DataFrame] = {}


def registry_task(task: str):
    from workbench import plugins

    return plugins.get_task(task)


def streamed(registry: Registry, task: str, parts: Path, out: Path, executor: str = "local",
             address: str | None = None) -> tuple[pl.DataFrame, dict]:
    outcome = run_task(task, str(parts), f"apply-{task}", params=APPLY_PARAMS.get(task, {}), model=f"m-{task}",
                       out=str(out), stream=True, batch_rows=TASKS[task][3], executor=executor, ray_address=address,
                       registry=registry)
    table = registry_task(task).batch_table
    return pl.read_parquet(sorted((out / table).glob("part-*.parquet"))), outcome.result.metrics


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TASKS))
def test_streamed_apply_equals_the_in_memory_apply(fitted, tmp_path, task):
    registry, inputs = fitted
    expected = in_memory(registry, task, inputs[task])
    got, metrics = streamed(registry, task, inputs[task], tmp_path / "out")
    assert metrics["parts"] > 1 and metrics["rows"] == expected.height
    assert_same(got, expected, task)
    run = registry.runs.get(registry.runs.list(limit=1)[0].id)
    assert run.status == "succeeded" and run.inputs == [f"apply-{task}@1", f"m-{task}@1"]


@pytest.fixture(scope="module")
def two_node_cluster():
    """A Ray cluster of two equal nodes (two raylets) on this machine, one CPU each: one scoring actor per node."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
    from ray.cluster_utils import Cluster

    ray.shutdown()  # a local Ray another test of this process started
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster  # runs on it are driven by `workbench` processes of their own, as a user would
    cluster.shutdown()


def on_cluster(home: Path, *args: str, address: str) -> dict:
    """`workbench run ARGS --executor ray --ray-address ADDRESS` in a fresh process; the run it recorded."""
    done = run_cli("run", *args, "--executor", "ray", "--ray-address", address, home=home)
    assert done.returncode == 0, done.stderr
    return Registry.open(home=home).runs.list(limit=1)[0].outputs


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TASKS))
def test_ray_apply_on_two_nodes_equals_the_in_memory_apply(fitted, two_node_cluster, tmp_path, task):
    registry, inputs = fitted
    expected = in_memory(registry, task, inputs[task])
    out = tmp_path / "out"
    params = [arg for name, value in APPLY_PARAMS.get(task, {}).items() for arg in ("-p", f"{name}={value}")]
    outputs = on_cluster(registry.home, task, "--data", str(inputs[task]), "--model", f"m-{task}", "--out", str(out),
                         "--batch-rows", str(TASKS[task][3]), *params, address=two_node_cluster.address)
    metrics = outputs["metrics"]
    got = pl.read_parquet(sorted((out / registry_task(task).batch_table).glob("part-*.parquet")))
    assert metrics["executor"] == "ray" and metrics["rows"] == expected.height
    assert_same(got, expected, task)
    if task == "onehot":  # 16 row groups: both nodes score, neither more than 65% of the rows
        assert metrics["nodes"] == 2 and metrics["pieces"] >= 8, metrics
        assert max(metrics["rows_per_node"].values()) <= 0.65 * metrics["rows"], metrics
    assert len(outputs["parts"]) == metrics["parts"]


@pytest.mark.slow
def test_featsel_spreads_its_trials_over_ray_workers_on_two_nodes(home, two_node_cluster):
    outputs = on_cluster(home, "feature-selection", "--data", str(DATASETS / "mobile_price_sample.csv"),
                         "-p", "target=price_range", "-p", "trials=20", "-p", "compare=false",
                         "--register", "mobile-features",
                         address=two_node_cluster.address)
    metrics = outputs["metrics"]
    assert metrics["workers"] == 2  # one per CPU of the cluster
    assert metrics["trials"] == 20  # counted across the workers, in the study the Ray actor held
    assert outputs["mode"] == "fitted with Ray workers" and outputs["models"]
    registry = Registry.open(home=home)
    summary = registry.run_dir(registry.runs.list(limit=1)[0].id) / "summary.md"
    assert "2 Ray workers shared the trials" in summary.read_text()


def test_each_node_gets_its_share_in_proportion_to_its_actors():
    from workbench.execution.ray import NodeShares, Piece, seats

    shares = NodeShares([Piece(index, "p", (index,), 10) for index in range(16)], {"a": 2, "b": 1})
    assert [len(queue) for queue in shares.queues.values()] == [11, 5]
    taken_by_b = [shares.next_for("b") for _ in range(6)]
    assert [piece.index for piece in taken_by_b if piece] == [2, 5, 8, 11, 14] and taken_by_b[-1] is None
    assert len(shares.queues["a"]) == 11  # a's share stays a's
    assert seats({"a": 2, "b": 1}, 2) == {"a": 1, "b": 1} and seats({"a": 2, "b": 1}, 1) == {"a": 1}


def test_describe_out_of_core_matches_the_in_memory_profile(home, tmp_path):
    frame = pl.read_csv(DATASETS / "adult_train.csv")
    parts = write_parts(frame, tmp_path / "adult")
    eager = run_task("describe", frame, "adult", registry=Registry.open()).result.tables["profile"]
    lazy = run_task("describe", str(parts), "adult", stream=True, registry=Registry.open()).result.tables["profile"]
    exact = ["column", "dtype", "nulls", "null_share", "mean", "min", "median", "max"]
    assert lazy.select(exact).equals(eager.select(exact))
    assert (lazy["std"] - eager["std"]).abs().max() < 1e-9
    assert lazy["distinct"].equals(eager["distinct"])  # exact below 100,000 distinct values
    assert lazy["top_values"].equals(eager["top_values"])  # ties broken by value in both


def test_a_large_input_is_registered_by_reference_and_refused_once_changed(home, tmp_path):
    frame = pl.read_csv(DATASETS / "adult_train.csv")
    parts = write_parts(frame, tmp_path / "adult")
    done = run_cli("run", "describe", "--data", str(parts / "part-*.parquet"), "--name", "adult",
                   home=home, env={"WORKBENCH_COPY_LIMIT_MB": "0.01"})
    assert done.returncode == 0, done.stderr
    registry = Registry.open()
    record = registry.datasets.get("adult")
    assert record.storage == "reference" and record.uri.endswith("part-*.parquet") and record.n_rows == frame.height
    assert not list((home / "datasets").rglob("*.parquet")), "a reference must not be copied"
    assert registry.datasets.load("adult").equals(frame)
    frame.head(10).write_parquet(parts / "part-1.parquet")
    with pytest.raises(Exception, match="have changed since"):
        registry.datasets.load("adult")
    small = run_cli("run", "describe", "--data", str(parts), "--name", "small", home=home)
    assert small.returncode == 0 and Registry.open().datasets.get("small").storage == "copy"


@pytest.mark.parametrize(("args", "message"), [
    (["--stream", "--register", "x", "-p", "max_levels=1"], "distinct levels (limit 1)"),
    (["--stream", "--model", "nope"], "pass --out FOLDER"),
    (["--executor", "ray", "--model", "nope", "--out", "o", "--register", "x"], "a run with --model fits none"),
])
def test_streaming_misuse_is_one_line(home, tmp_path, args, message):
    parts = write_parts(pl.read_csv(DATASETS / "colors_train.csv"), tmp_path / "colors", parts=2)
    done = run_cli("run", "onehot", "--data", str(parts), *args, home=home)
    assert done.returncode == 2 and error_lines(done.stderr) == [error_lines(done.stderr)[0]]
    assert message in done.stderr


def free_local_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    """A moto S3 server on 127.0.0.1 with a bucket, and the environment that points pyarrow at it."""
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed (make test installs "
                                        "it)")
    import boto3

    port = free_local_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}
    boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="test",
                 aws_secret_access_key="test", region_name="us-east-1").create_bucket(Bucket="lake")
    yield env
    server.stop()


def test_reading_and_writing_s3(home, tmp_path, s3_server, monkeypatch):
    for key, value in s3_server.items():
        monkeypatch.setenv(key, value)
    from workbench.execution.results import write_part

    train = pl.read_csv(DATASETS / "colors_train.csv")
    fit = run_cli("run", "onehot", "--data", str(DATASETS / "colors_train.csv"), "--register", "colors", home=home,
                  env=s3_server)
    assert fit.returncode == 0, fit.stderr
    apply_data = pl.concat([pl.read_csv(DATASETS / "colors_inference.csv")] * 40)
    for index in range(3):
        write_part(apply_data.slice(index * 70, 70).to_arrow(), "s3://lake/events", f"part-{index}.parquet")
    assert open_source("s3://lake/events").rows() == apply_data.height
    done = run_cli("run", "onehot", "--data", "s3://lake/events", "--model", "colors", "--stream", "--batch-rows",
                   "50", "--out", "s3://lake/scored", home=home, env=s3_server)
    assert done.returncode == 0, done.stderr
    scored = open_source("s3://lake/scored/encoded").read()
    local = run_task("onehot", apply_data, "local", model="colors", registry=Registry.open()).result.tables["encoded"]
    assert scored.equals(local) and train.height == 8
    memory = run_cli("run", "describe", "--data", "s3://lake/events", home=home, env=s3_server)
    assert memory.returncode == 0 and Registry.open().datasets.get("events").source == "s3://lake/events"


def test_onehot_fits_over_parts_out_of_core_as_it_fits_their_concatenation(home, tmp_path):
    frame = pl.read_csv(DATASETS / "adult_train.csv")
    parts = write_parts(frame, tmp_path / "adult")
    whole = run_task("onehot", frame, "adult", params={"min_frequency": 5}, register="whole",
                     registry=Registry.open())
    lazy = run_task("onehot", str(parts), "adult-parts", params={"min_frequency": 5}, register="lazy", stream=True,
                    registry=Registry.open())
    assert lazy.plan.mode.value == "out of core" and "Fitted an encoder out of core on 3,000 rows" in \
        lazy.result.summary
    registry = Registry.open()
    encoder = [json.loads((registry.models.get(name).path / "encoder.json").read_text()) for name in ("whole", "lazy")]
    assert encoder[0] == encoder[1]
    assert lazy.result.tables["levels"].equals(whole.result.tables["levels"])


def test_featsel_cannot_fit_out_of_core_and_says_so(home, tmp_path):
    parts = write_parts(pl.read_csv(DATASETS / "mobile_price_sample.csv"), tmp_path / "mobile", parts=2)
    done = run_cli("run", "feature-selection", "--data", str(parts), "--stream", "-p", "target=price_range",
                   home=home)
    assert done.returncode == 2 and "pass --model NAME" in done.stderr
