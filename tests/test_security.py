"""Attacks on a shared registry, as a hostile or careless teammate would try them (SECURITY.md).

Each test reproduces a hole the first release had: code planted in an artifact, secrets sent away,
writes outside the workspace, names that break references, registrations left by failed or killed runs.
"""

import os
import pickle
import signal
import subprocess
import time
import zlib
from pathlib import Path

import polars as pl
import pytest
from conftest import DATASETS, WORKBENCH, error_lines, invoke, run_cli
from sqlalchemy import text

from workbench import plugins
from workbench.errors import Invalid, UnsafeArtifact, WorkbenchError
from workbench.io.tables import safe_file_name
from workbench.registry import Registry
from workbench.safety import tree_sha256, unsafe_files
from workbench.sdk import Result, Task, TaskParams, hookimpl
from workbench.testing import run_task

pytestmark = pytest.mark.xdist_group("security")  # one worker trains the models the attacks tamper with

CAMPAIGN = DATASETS / "campaign_sample.csv"


class Payload:
    """Unpickling this runs `touch MARKER`: the attack the registry must never let through."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def resign(registry: Registry, ref: str) -> None:
    """What someone with write access to the database can do: make the stored sha256 match the tampered files."""
    record = registry.models.get(ref)
    with registry.db.writer.begin() as connection:
        connection.execute(text("update models set sha256 = :sha where name = :name and version = :version"),
                           {"sha": tree_sha256(record.path), "name": record.name, "version": record.version})


TRAINING = {  # one real registered model per task that keeps one (relations: the folder its train mode writes)
    "onehot": (["--data", str(DATASETS / "adult_train.csv")], "encoder.json"),
    "feature-selection": (["--data", str(DATASETS / "mobile_price_sample.csv"), "-p", "target=price_range", "-p",
                           "model=logistic", "-p", "trials=3", "-p", "compare=false"], "model.skops"),
    "uplift": (["--data", str(CAMPAIGN), "-p", "treatment=treatment", "-p", "outcome=outcome", "-p",
                "features=x0,x1,x2"], "effects.safetensors"),
    "fewshot": (["--data", str(DATASETS / "clickbait_sample.csv"), "-p", "text=headline", "-p", "label=clickbait",
                 "-p", "method=embeddings", "-p", "shots=4", "-p", "eval_rows=0"], "head.safetensors"),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A workspace holding one model per task; each test copies it."""
    home = tmp_path_factory.mktemp("trained")
    for task, (args, _) in TRAINING.items():
        done = run_cli("run", task, *args, "--register", f"m-{task.replace('-', '')}", home=home)
        assert done.returncode == 0, done.stderr
    folder = home / "models" / "m-relations" / "v1"
    (folder / "adapter").mkdir(parents=True)
    (folder / "relations.json").write_text('{"base_model": null, "system_prompt": null, "labels": null}')
    (folder / "adapter" / "adapter_config.json").write_text("{}")
    Registry.open(home=home).models.register("m-relations", "relations", folder)
    return home


PLANTS = {
    "a new model_head.pkl": lambda folder, payload: (folder / "model_head.pkl").write_bytes(payload),
    "the main file replaced": None,  # filled per task below
    "a joblib-style compressed pickle": lambda folder, payload: (folder / "weights.npy").write_bytes(
        zlib.compress(payload)),
    "a pickle inside a zip": lambda folder, payload: _zip_with_pickle(folder / "extra.skops", payload),
}


def _zip_with_pickle(path: Path, payload: bytes) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", "{}")
        archive.writestr("archive/data.pkl", payload)


@pytest.mark.parametrize("how", sorted(PLANTS))
@pytest.mark.parametrize("task", [*sorted(TRAINING), "relations"])
def test_a_planted_pickle_with_a_resigned_sha256_never_runs(trained, tmp_path, task, how):
    import shutil

    home = tmp_path / "home"
    shutil.copytree(trained, home)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Payload(marker))
    registry = Registry.open(home=home)
    name = f"m-{task.replace('-', '')}"
    folder = registry.models.get(name).path
    if how == "the main file replaced":
        (folder / TRAINING.get(task, (None, "relations.json"))[1]).write_bytes(payload)
    else:
        PLANTS[how](folder, payload)
    resign(registry, name)
    relations = ["--data", str(DATASETS / "conll04_dev_sample.csv"), "-p", "text=text"]
    args = {**{t: a for t, (a, _) in TRAINING.items()}, "relations": relations}[task]
    done = run_cli("run", task, *args, "--model", name, home=home)
    assert done.returncode == 2, done.stderr
    assert "a pickle that could run code when loaded; it is refused" in done.stderr
    assert len(error_lines(done.stderr)) == 1 and "Traceback" not in done.stderr
    assert not marker.exists()
    with pytest.raises(UnsafeArtifact):
        Registry.open(home=home).models.load(name)


def test_artifacts_of_every_task_hold_no_pickle(trained):
    registry = Registry.open(home=trained)
    for record in registry.models.list():
        assert unsafe_files(record.path) == [], record.ref


def test_a_pickle_is_refused_when_registering_too(home, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "estimators.joblib").write_bytes(pickle.dumps({"weights": [1, 2]}))
    with pytest.raises(UnsafeArtifact):
        Registry.open().models.register("m", "uplift", folder)
    assert Registry.open().models.list() == []


@pytest.mark.parametrize(("sent", "kept"), [
    ("../../etc/cron.d/evil.csv", "evil.csv"), ("/etc/passwd", "passwd"), ("..\\..\\win.csv", "win.csv"),
    ("..", "upload"), ("data sheet (1).csv", "data-sheet-1-.csv"), ("a\nb.csv", "a-b.csv"),
])
def test_upload_names_are_reduced_to_a_safe_base_name(sent, kept):
    assert safe_file_name(sent) == kept


def test_teacher_keys_come_only_from_allowed_variables(monkeypatch):
    from workbench_relations.teacher import allowed_key_variable, check_url

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    with pytest.raises(WorkbenchError, match="not an allowed key variable"):
        allowed_key_variable("AWS_SECRET_ACCESS_KEY")
    assert allowed_key_variable("WORKBENCH_TEACHER_API_KEY") == "WORKBENCH_TEACHER_API_KEY"
    monkeypatch.setenv("WORKBENCH_TEACHER_KEY_VARIABLES", "OPENAI_API_KEY, OTHER")
    assert allowed_key_variable("OPENAI_API_KEY") == "OPENAI_API_KEY"
    for url in ("file:///etc/passwd", "ftp://host/v1", "gopher://x", "localhost:8000/v1"):
        with pytest.raises(WorkbenchError, match="not an http"):
            check_url(url)
    assert check_url("https://api.example.com/v1") == "https://api.example.com/v1"


@pytest.mark.parametrize("name", ["sales\n", "sales\r", " sales", "sales ", "sa les", "../x", "x/../y", "ü", ""])
def test_one_full_match_rule_for_every_name(home, tmp_path, name):
    registry = Registry.open()
    with pytest.raises(Invalid):
        registry.datasets.add(name, pl.DataFrame({"a": [1]}))
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    (folder / "w.json").write_text("{}")
    registry.models.register("ok", "scale", folder)
    with pytest.raises(Invalid):
        registry.models.register(name, "scale", folder)
    with pytest.raises(Invalid):
        registry.models.set_alias("ok@1", name)
    assert [r.ref for r in registry.models.list()] == ["ok@1"] and registry.datasets.list() == []


def test_optuna_storage_stays_in_the_workspace_or_a_database_the_settings_name(home, tmp_path):
    data = str(DATASETS / "mobile_price_sample.csv")
    common = ["run", "feature-selection", "--data", data, "-p", "target=price_range", "-p", "model=logistic",
              "-p", "trials=2", "-p", "compare=false"]
    inside = invoke(*common, "-p", "storage=journal:studies/a.journal", "-p", "study=a", home=home, cwd=tmp_path)
    assert inside.returncode == 0, inside.stderr
    assert (home / "state" / "feature-selection" / "optuna" / "studies" / "a.journal").is_file()
    explicit = home / "studies" / "b.journal"  # an absolute path inside the workspace is fine
    absolute = invoke(*common, "-p", f"storage=journal:{explicit}", "-p", "study=b", home=home)
    assert absolute.returncode == 0, absolute.stderr
    assert explicit.is_file()
    victim = tmp_path / "victim.txt"  # the attack: append Optuna's journal to any file the server can write
    victim.write_text("precious\n")
    for storage in (f"journal:{victim}", f"sqlite:///{home / 'registry.db'}", "postgresql://u@127.0.0.1:1/x",
                    "foo://bar"):
        refused = invoke(*common, "-p", f"storage={storage}", "-p", "study=c", home=home)
        assert refused.returncode == 2, refused.stderr
        assert len(error_lines(refused.stderr)) == 1, refused.stderr
    assert victim.read_text() == "precious\n"
    from sqlalchemy import create_engine, inspect

    assert not [t for t in inspect(create_engine(f"sqlite:///{home / 'registry.db'}")).get_table_names()
                if "trial" in t or "studies" in t]


class SabotageParams(TaskParams):
    pass


class Fits(Task[SabotageParams]):
    """Fits a 'model' and succeeds; the sabotage comes after it."""

    name = "fits"
    title = summary = "Fits"
    applies_models = True

    def run(self, data, params, ctx):
        from workbench.sdk import ModelArtifact

        folder = ctx.new_model_dir()
        (folder / "model.json").write_text("{}")
        return Result(tables={"rows": data}, models=[ModelArtifact(folder)])


class Saboteur:
    """Breaks the output folder after validation passed, as a full disk or a removed share would."""

    def __init__(self, out: Path) -> None:
        self.out = out

    @hookimpl
    def register_tasks(self, register):
        register(Fits())

    @hookimpl
    def before_task_run(self, task, params, ctx):
        self.out.rmdir()
        self.out.write_text("not a folder any more")


def test_a_run_that_fails_late_registers_nothing(home, tmp_path):
    out = tmp_path / "out"
    plugins.register_plugin(Saboteur(out), "saboteur")
    try:
        with pytest.raises(OSError):
            run_task("fits", pl.DataFrame({"a": [1, 2]}), "data", register="model", out=str(out),
                     registry=Registry.open())
    finally:
        plugins.unregister_plugin("saboteur")
    registry = Registry.open()
    assert registry.models.list() == [] and registry.datasets.list() == []
    (run,) = registry.runs.list()
    assert run.status == "failed" and not registry.run_dir(run.id).exists()
    assert run.inputs == ["data (not registered: the run did not succeed)"]


def test_an_unwritable_out_is_refused_before_anything_is_recorded(home, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = run_cli("run", "onehot", "--data", str(DATASETS / "adult_train.csv"), "--register", "e", "--out",
                   str(blocker / "sub"), home=home)
    assert done.returncode == 2 and "cannot be written" in done.stderr
    registry = Registry.open()
    assert registry.runs.list() == [] and registry.models.list() == [] and registry.datasets.list() == []


def test_a_killed_run_is_interrupted_registers_nothing_and_its_scratch_goes(home, tmp_path):
    args = [str(WORKBENCH), "run", "feature-selection", "--data", str(DATASETS / "mobile_price_sample.csv"),
            "-p", "target=price_range", "-p", "trials=5000", "--register", "never"]
    env = {**os.environ, "WORKBENCH_HOME": str(home), "WORKBENCH_HEARTBEAT_SECONDS": "0.5"}
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = Registry.open().runs.list() if (home / "registry.db").exists() else []
            if runs and runs[0].progress.get("done"):
                break
            time.sleep(0.5)
        (run,) = Registry.open().runs.list()
        assert run.status == "running" and run.pid == process.pid
        assert (home / "scratch" / f"run-{run.id}").is_dir()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    registry = Registry.open()
    (run,) = registry.runs.list()
    assert run.status == "interrupted" and f"pid {process.pid}" in run.error
    assert not (home / "scratch" / f"run-{run.id}").exists()
    assert registry.models.list() == [] and registry.datasets.list() == []
    listed = run_cli("runs", "list", home=home)
    assert "interrupted" in listed.stdout


def test_a_cancelled_run_ends_cancelled_with_nothing_registered(home, tmp_path):
    args = [str(WORKBENCH), "run", "feature-selection", "--data", str(DATASETS / "mobile_price_sample.csv"),
            "-p", "target=price_range", "-p", "trials=5000", "--register", "never"]
    env = {**os.environ, "WORKBENCH_HOME": str(home), "WORKBENCH_HEARTBEAT_SECONDS": "0.5"}
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
            (home / "registry.db").exists() and (runs := Registry.open().runs.list()) and runs[0].progress.get("done")):
        time.sleep(0.5)
    cancel = run_cli("runs", "cancel", "1", home=home)
    assert cancel.returncode == 0 and "asked to stop" in cancel.stdout
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and error_lines(stderr) == ["Error: run #1 was cancelled on request"]
    registry = Registry.open()
    assert registry.runs.get(1).status == "cancelled"
    assert registry.models.list() == [] and registry.datasets.list() == []


def test_scratch_of_a_dead_run_is_cleaned_when_the_registry_opens(home):
    registry = Registry.open()
    run_id = registry.runs.start("describe", {}, ["x"])
    with registry.db.writer.begin() as connection:  # a process that no longer exists
        connection.execute(text("update runs set pid = 999999999 where id = :id"), {"id": run_id})
    scratch = home / "scratch" / f"run-{run_id}"
    scratch.mkdir(parents=True)
    (scratch / "half-written.bin").write_bytes(b"\0" * 10)
    assert Registry.open().runs.get(run_id).status == "interrupted"
    assert not scratch.exists()


def test_the_seed_is_recorded_and_reaches_the_task(home):
    seen = []

    class SeedParams(TaskParams):
        pass

    class Seeded(Task[SeedParams]):
        name, title, summary = "seeded", "Seeded", "Records its seed."

        def run(self, data, params, ctx):
            seen.append((ctx.seed, ctx.rng.integers(1_000_000)))
            return Result()

    plugin = type("SeededPlugin", (), {"register_tasks": hookimpl(lambda self, register: register(Seeded()))})()
    plugins.register_plugin(plugin, "seeded")
    try:
        for seed in (7, 7, 8):
            run_task("seeded", pl.DataFrame({"a": [1]}), "d", seed=seed, registry=Registry.open())
    finally:
        plugins.unregister_plugin("seeded")
    assert seen[0] == seen[1] != seen[2] and seen[0][0] == 7
    assert [run.seed for run in Registry.open().runs.list()] == [8, 7, 7]

