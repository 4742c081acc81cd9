"""The second attack pass (issue 30): each finding reproduced as an attacker or a new user would try it.

1 a parameter that makes a library unpickle; 2 a symlinked folder in an artifact; 3 a file swapped after the
check; 4 a teacher key sent to a host it is not bound to; 5 a journal outside the workspace (test_security.py);
6 streamed output killed half-way or written twice; 7 parts of different schemas; 8 a model registered while a
Ray run starts; 9 a suspended run past the stale limit; 10 uplift's treatment as an effect modifier and
post-treatment columns; 11-12 inputs that ended in exit 1, a traceback or a hang (test_bad_input.py holds the
CLI cases).
"""

import http.server
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import DATASETS, WORKBENCH, error_lines, invoke, run_cli
from sqlalchemy import text

from workbench import plugins
from workbench.errors import UnsafeArtifact, WorkbenchError
from workbench.execution.jobs import drain, submit
from workbench.execution.request import RunRequest
from workbench.registry import Registry
from workbench.safety import looks_like_pickle, tree_sha256, unsafe_files
from workbench.sdk import hookimpl
from workbench.testing import run_task


class Payload:
    """Unpickling this runs `touch MARKER`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def backbone_with_a_pickle(tmp_path: Path, marker: Path) -> Path:
    """A copy of the shipped sentence-transformer with SetFit's `model_head.pkl` planted in it."""
    from workbench_fewshot.backbone import offline_backbone

    folder = tmp_path / "backbone"
    shutil.copytree(offline_backbone(), folder)
    (folder / "model_head.pkl").write_bytes(pickle.dumps(Payload(marker)))
    return folder


FEWSHOT = ["--data", str(DATASETS / "clickbait_sample.csv"), "-p", "text=headline", "-p", "label=clickbait",
           "-p", "shots=4", "-p", "eval_rows=0", "-p", "iterations=1"]


def test_1_a_backbone_parameter_never_makes_setfit_unpickle(home, tmp_path):
    marker = tmp_path / "pwned"
    folder = backbone_with_a_pickle(tmp_path, marker)
    done = invoke("run", "fewshot", *FEWSHOT, "-p", f"backbone={folder}", home=home)
    assert done.returncode == 2 and "model_head.pkl, a pickle" in done.stderr, done.stderr
    assert len(error_lines(done.stderr)) == 1 and not marker.exists()


def test_1_through_the_dashboard_s_worker_too(home, tmp_path):
    """The folder is clean when the form is submitted and poisoned before the worker runs it: the worker plans the
    run again and refuses it."""
    from workbench_fewshot.backbone import offline_backbone

    marker = tmp_path / "pwned"
    folder = tmp_path / "backbone"
    shutil.copytree(offline_backbone(), folder)
    registry = Registry.open()
    data = registry.datasets.add("clickbait", pl.read_csv(DATASETS / "clickbait_sample.csv"))
    params = {"text": "headline", "label": "clickbait", "shots": 4, "eval_rows": 0, "backbone": str(folder)}
    run_id = submit(RunRequest(plugins.get_task("fewshot"), data.ref, params=params), registry, start_worker=False)
    (folder / "model_head.pkl").write_bytes(pickle.dumps(Payload(marker)))
    assert drain(registry) == 1
    record = registry.runs.get(run_id)
    assert record.status == "failed" and "a pickle" in record.error and not marker.exists()


def test_setfit_training_still_works_without_from_pretrained(home):
    frame = pl.read_csv(DATASETS / "clickbait_sample.csv").head(40)
    outcome = run_task("fewshot", frame, "clickbait", params={"text": "headline", "label": "clickbait", "shots": 4,
                                                              "iterations": 2, "eval_rows": 10},
                       registry=Registry.open())
    assert outcome.result.metrics["train_examples"] == 8 and 0 <= outcome.result.metrics["accuracy"] <= 1


@pytest.fixture
def encoder(home):
    registry = Registry.open()
    run_task("onehot", pl.read_csv(DATASETS / "colors_train.csv"), "colors", register="colors", registry=registry)
    return registry


def resign(registry: Registry, ref: str) -> None:
    record = registry.models.get(ref)
    with registry.db.writer.begin() as connection:
        connection.execute(text("update models set sha256 = :sha where name = :name and version = :version"),
                           {"sha": tree_sha256(record.path) if not unsafe_files(record.path) else "x" * 64,
                            "name": record.name, "version": record.version})


def test_2_a_symlinked_folder_inside_an_artifact_is_refused(encoder, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "weights.json").write_text("{}")
    record = encoder.models.get("colors")
    (record.path / "extra").symlink_to(outside, target_is_directory=True)
    assert [path.name for path in unsafe_files(record.path)] == ["extra"]
    with pytest.raises(UnsafeArtifact, match="symbolic link"):
        tree_sha256(record.path)
    resign(encoder, "colors")  # even with the hash the attacker wrote
    done = invoke("run", "onehot", "--data", str(DATASETS / "colors_inference.csv"), "--model", "colors",
                  home=encoder.home)
    assert done.returncode == 2 and len(error_lines(done.stderr)) == 1, done.stderr
    with pytest.raises(WorkbenchError):
        encoder.models.load("colors")


class SwapAfterTheCheck:
    """A hook that, once the run is checked and started, rewrites the registered artifact (as a fast attacker)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def before_task_run(self, task, params, ctx):
        encoder_file = self.folder / "encoder.json"
        state = json.loads(encoder_file.read_text())
        state["encoded"][0]["levels"] = ["SWAPPED"]
        encoder_file.write_text(json.dumps(state))


def test_3_a_file_swapped_after_the_check_is_never_read(encoder):
    original = encoder.models.get("colors")
    plugins.register_plugin(SwapAfterTheCheck(original.path), "swapper")
    try:
        outcome = run_task("onehot", pl.read_csv(DATASETS / "colors_inference.csv"), "new", model="colors",
                           registry=encoder)
    finally:
        plugins.unregister_plugin("swapper")
    assert not any("SWAPPED" in name for name in outcome.result.tables["encoded"].columns)
    assert outcome.result.tables["encoded"].columns == run_task(
        "onehot", pl.read_csv(DATASETS / "colors_train.csv"), "again", registry=encoder).result.tables[
        "encoded"].columns
    with pytest.raises(WorkbenchError, match="sha256"):  # and the registry copy is now refused
        encoder.models.load("colors")


class Listener(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_POST(self):  # noqa: N802 - the standard library's name
        Listener.seen.append(self.headers.get("Authorization", ""))
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_4_a_teacher_key_is_never_sent_to_a_host_it_is_not_bound_to(home, monkeypatch):
    server = http.server.HTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    sentences = DATASETS / "conll04_dev_sample.csv"
    teach = ["run", "relations", "--data", str(sentences), "-p", "text=text", "-p", "mode=teach", "-p",
             "teacher_model=m"]
    try:
        elsewhere = invoke(*teach, "-p", f"teacher_url=http://localhost.localdomain:{port}/v1", home=home,
                           env={"WORKBENCH_TEACHER_API_KEY": "sk-team-secret"})
        assert elsewhere.returncode == 2 and "is not sent to localhost.localdomain" in elsewhere.stderr
        bound_elsewhere = invoke(*teach, "-p", f"teacher_url=http://127.0.0.1:{port}/v1", home=home,
                                 env={"WORKBENCH_TEACHER_API_KEY": "sk-team-secret",
                                      "WORKBENCH_TEACHER_HOSTS": "api.example.com"})
        assert bound_elsewhere.returncode == 2 and "bound to api.example.com" in bound_elsewhere.stderr
        assert Listener.seen == []  # refused before any request left
    finally:
        server.shutdown()


def write_parts(frame: pl.DataFrame, folder: Path, parts: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-frame.height // parts)
    for index in range(parts):
        frame.slice(index * size, size).write_parquet(folder / f"part-{index:03d}.parquet")
    return folder


def test_6_a_killed_stream_leaves_no_output_and_a_second_run_never_mixes_with_the_first(encoder, tmp_path):
    data = pl.concat([pl.read_csv(DATASETS / "colors_inference.csv")] * 4000)
    big = write_parts(data, tmp_path / "big", 200)
    out = tmp_path / "scored"
    command = [str(WORKBENCH), "run", "onehot", "--data", str(big), "--model", "colors", "--stream",
               "--batch-rows", "100", "--out", str(out)]
    process = subprocess.Popen(command, env={**os.environ, "WORKBENCH_HOME": str(encoder.home)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".scored.workbench-run-*/encoded/part-*")):  # killed half-way through its parts
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "_SUCCESS").exists() and not list(out.glob("**/part-*"))
    small = write_parts(data.head(2000), tmp_path / "small", 2)
    first = invoke("run", "onehot", "--data", str(small), "--model", "colors", "--stream", "--out", str(out),
                   home=encoder.home)
    assert first.returncode == 0, first.stderr
    again = invoke("run", "onehot", "--data", str(small), "--model", "colors", "--stream", "--out", str(out),
                   home=encoder.home)
    assert again.returncode == 2 and "already holds files; pass --overwrite" in again.stderr
    tiny = write_parts(data.head(300), tmp_path / "tiny", 1)
    replaced = invoke("run", "onehot", "--data", str(tiny), "--model", "colors", "--stream", "--out", str(out),
                      "--overwrite", home=encoder.home)
    assert replaced.returncode == 0, replaced.stderr
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert manifest["rows"] == 300 and pl.read_parquet(out / "encoded").height == 300


def test_7_parts_of_different_schemas_are_refused_before_anything_runs(encoder, tmp_path):
    parts = write_parts(pl.read_csv(DATASETS / "colors_inference.csv"), tmp_path / "mixed", 2)
    renamed = pl.read_csv(DATASETS / "colors_inference.csv").rename({"color_1_": "colour"})
    renamed.write_parquet(parts / "part-002.parquet")
    done = invoke("run", "onehot", "--data", str(parts), "--model", "colors", home=encoder.home)
    assert done.returncode == 2 and "part-002.parquet has other columns" in done.stderr, done.stderr
    csvs = tmp_path / "csvs"
    csvs.mkdir()
    (csvs / "a.csv").write_text("color,size\nred,1\n")
    (csvs / "b.csv").write_text("colour,size\nred,1\n")
    (csvs / "c.csv").write_bytes(b"")
    done = invoke("run", "describe", "--data", str(csvs), home=encoder.home)
    assert done.returncode == 2 and "b.csv has other columns" in done.stderr, done.stderr
    (csvs / "b.csv").unlink()
    done = invoke("run", "describe", "--data", str(csvs), home=encoder.home)
    assert done.returncode == 2 and "c.csv is empty" in done.stderr, done.stderr
    assert encoder.runs.list(task="describe") == []


class RegisterAnother:
    """Registers a new version of the model the moment the run starts (a teammate's timing)."""

    def __init__(self, registry: Registry) -> None:
        self.registry, self.done = registry, False

    @hookimpl
    def before_task_run(self, task, params, ctx):
        if self.done:  # its own registering run fires the hook too
            return
        self.done = True
        run_task("onehot", pl.read_csv(DATASETS / "adult_train.csv").select("sex", "race"), "other",
                 register="colors", registry=self.registry)


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_8_ray_actors_score_with_the_version_the_run_recorded(encoder, tmp_path):
    parts = write_parts(pl.concat([pl.read_csv(DATASETS / "colors_inference.csv")] * 20), tmp_path / "in", 3)
    plugins.register_plugin(RegisterAnother(encoder), "teammate")
    try:
        outcome = run_task("onehot", str(parts), "in", model="colors", executor="ray", out=str(tmp_path / "out"),
                           batch_rows=50, registry=encoder)
    finally:
        plugins.unregister_plugin("teammate")
    assert encoder.models.get("colors").version == 2
    record = encoder.runs.get(outcome.run_id)
    assert record.inputs[-1] == "colors@1"
    scored = pl.read_parquet(tmp_path / "out" / "encoded")
    assert "sex_Male" not in scored.columns and any(name.startswith("color_") for name in scored.columns)


def test_9_a_suspended_run_is_not_declared_dead_and_keeps_its_scratch(home, tmp_path):
    script = tmp_path / "slow.py"
    script.write_text("import time, polars as pl\n"
                      "from workbench.registry import Registry\n"
                      "from workbench.testing import run_task\n"
                      "run_task('describe', pl.DataFrame({'a': [1]}), registry=Registry.open(), "
                      "params={'top': 1})\n")
    registry = Registry.open()
    run_id = registry.runs.start("describe", {}, ["x"], 0, {})
    scratch = registry.workspace.run_scratch(run_id)
    scratch.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with registry.db.writer.begin() as connection:  # its process is this sleeper, silent for an hour
            connection.execute(text("update runs set pid = :pid, heartbeat_at = :old where id = :id"),
                               {"pid": sleeper.pid, "old": "2000-01-01 00:00:00", "id": run_id})
        sleeper.send_signal(signal.SIGSTOP)
        assert registry.maintain() == []
        assert registry.runs.get(run_id).status == "running" and scratch.is_dir()
        sleeper.send_signal(signal.SIGCONT)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert registry.maintain() == [run_id]  # gone now: interrupted, and its scratch removed
    assert registry.runs.get(run_id).status == "interrupted" and not scratch.exists()


def test_9_a_run_taken_for_dead_that_beats_again_is_running_again(home):
    registry = Registry.open()
    run_id = registry.runs.start("describe", {}, ["x"], 0, {})
    with registry.db.writer.begin() as connection:
        connection.execute(text("update runs set status = 'interrupted' where id = :id"), {"id": run_id})
    registry.runs.heartbeat(run_id, {})
    assert registry.runs.get(run_id).status == "running"


def campaign_with_outcomes(rows: int = 2000) -> pl.DataFrame:
    """An e-mail campaign where `conversion` and `spend` are recorded after treatment (they follow the arm)."""
    import numpy as np

    rng = np.random.default_rng(0)
    arm = rng.choice(["control", "email"], size=rows)
    age = rng.integers(18, 70, size=rows)
    treated = arm == "email"
    visit = (rng.random(rows) < 0.2 + 0.15 * treated).astype(float)
    return pl.DataFrame({"age": age, "region": rng.choice(["n", "s", "e", "w"], size=rows), "treatment": arm,
                         "visit": visit, "conversion": visit * (rng.random(rows) < 0.3),
                         "amount_after": visit * rng.gamma(2.0, 20.0, size=rows) + 5 * treated})


def test_10_the_treatment_is_never_an_effect_modifier_and_outcome_like_columns_are_left_out(home):
    data = campaign_with_outcomes()
    base = {"treatment": "treatment", "outcome": "visit", "bootstrap": 50}
    with pytest.raises(WorkbenchError, match="treatment column 'treatment' cannot be in features"):
        run_task("uplift", data, "campaign", params={**base, "features": ["age", "treatment"]},
                 registry=Registry.open())
    outcome = run_task("uplift", data, "campaign", params=base, registry=Registry.open())
    summary = outcome.result.summary
    assert "outcome-like" in summary and "conversion" in summary and "amount_after" in summary
    assert "age" not in summary.split("outcome-like")[1].split(".")[0]


def test_11_12_pickles_of_every_protocol_are_caught():
    for protocol in range(6):
        assert looks_like_pickle(pickle.dumps(Payload(Path("/x")), protocol=protocol)), protocol
    for harmless in (b'{"a": 1}', b"name,age\nann,3\n", b"\x89PNG\r\n", b"cos\nsystem\n", b"[PAD]\n[UNK]\n"):
        assert not looks_like_pickle(harmless), harmless


def test_12_data_values_never_render_as_links_or_images():
    from workbench.presentation.markdown import safe_markdown

    shown = safe_markdown("level `x` ![pixel](http://evil.example/p.png) [click](https://evil.example) <b>hi</b>")
    assert "![" not in shown.replace("\\!\\[", "") and "](" not in shown.replace("\\](", "")
    assert "http\\://" in shown and "\\<b\\>" in shown


def test_12_a_queued_run_behind_a_dead_worker_gets_a_new_worker(home):
    registry = Registry.open()
    data = registry.datasets.add("adult", pl.read_csv(DATASETS / "adult_train.csv"))
    run_id = submit(RunRequest(plugins.get_task("describe"), data.ref), registry, start_worker=False)
    shown = run_cli("runs", "show", str(run_id), home=home)  # no worker alive: showing the queue starts one
    assert shown.returncode == 0 and "started a worker" in shown.stdout
    deadline = time.monotonic() + 120
    while registry.runs.get(run_id).status in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert registry.runs.get(run_id).status == "succeeded"


def test_11_nested_binary_parquet_is_profiled_not_a_rust_panic(home, tmp_path):
    """It used to end in an 80-line Rust panic; it is read through pyarrow and hashed as Arrow, so it simply works."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = pa.array([{"blob": b"\x00\x01", "inner": [b"x"]}, {"blob": b"\x02", "inner": []}])
    pq.write_table(pa.table({"nested": values, "id": [1, 2]}), tmp_path / "nested.parquet")
    done = invoke("run", "describe", "--data", str(tmp_path / "nested.parquet"), home=home)
    assert done.returncode == 0, done.stderr
    assert "2 rows x 2 columns" in done.stdout
