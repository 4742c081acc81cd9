"""Plugin discovery through real entry points, isolation of broken plugins, and the hooks."""

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
from conftest import DATASETS, ROOT, run_cli

from workbench import plugins
from workbench.registry import Registry
from workbench.sdk import Result, Task, TaskParams, WorkbenchError, column, hookimpl
from workbench.testing import run_task


def test_builtin_plugins_come_through_the_entry_point_group_and_describe_is_a_default_plugin():
    import workbench

    names = {entry_point.name for entry_point in entry_points(group="workbench")}
    assert {"onehot", "feature-selection", "uplift", "fewshot", "relations", "charts"} <= names
    assert "describe" not in names  # registered by module, as llm's and datasette's defaults are
    info = {p.name: p for p in plugins.plugins()}["describe"]
    assert info.error is None and info.version == workbench.__version__ and "register_tasks" in info.hooks
    assert "describe" in plugins.tasks()


def test_third_party_plugin_loads_and_broken_ones_are_skipped(home):
    result = run_cli("plugins", "--json", home=home, third_party=True)
    assert result.returncode == 0, result.stderr
    listed = {item["name"]: item for item in json.loads(result.stdout)}
    assert listed["scale"]["error"] is None
    assert listed["scale"]["version"] == "0.1.0"
    assert listed["scale"]["hooks"] == ["register_commands", "register_tasks"]
    assert "frobnicate" in listed["broken"]["error"]
    assert "register_taskz" in listed["typo"]["error"]
    assert listed["describe"]["error"] is None
    assert "plugin 'broken' failed to load and was skipped" in result.stderr
    tasks = run_cli("tasks", home=home, third_party=True)
    assert "scale" in tasks.stdout and "describe" in tasks.stdout


def test_plugin_command_is_added_to_the_cli(home):
    result = run_cli("scale-hello", home=home, third_party=True)
    assert result.returncode == 0, result.stderr
    assert "hello from wb_scale" in result.stdout


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("WORKBENCH_LOAD_PLUGINS", "scale", {"scale", "describe"}),  # default plugins load unless disabled
    ("WORKBENCH_DISABLE_PLUGINS", "broken,typo", {"describe", "scale"}),
])
def test_allow_and_block_lists(home, variable, value, expected):
    result = run_cli("plugins", "--json", home=home, third_party=True, env={variable: value})
    names = {item["name"] for item in json.loads(result.stdout)}
    assert names >= expected
    assert not names & ({"describe", "scale", "broken", "typo"} - expected)


def test_help_and_plugins_do_not_import_heavy_libraries():
    code = (
        "import sys\nfrom workbench.cli import main\n"
        "for argv in (['workbench', '--help'], ['workbench', 'plugins']):\n"
        "    sys.argv = argv\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'econml', 'sklearn') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


class EchoParams(TaskParams):
    text: str = column("text", "Column to echo.")


class Echo(Task[EchoParams]):
    name = "echo"
    title = "Echo"
    summary = "Returns its column; fails on demand."

    def run(self, data, params, ctx):
        if data[params.text][0] == "fail":
            raise RuntimeError("asked to fail")
        return Result(tables={"echo": data.select(params.text)}, metrics={"rows": data.height})


class Recorder:
    """An in-process plugin: offers a task and records the lifecycle hooks it sees."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def register_tasks(self, register):
        register(Echo())

    @hookimpl
    def before_task_run(self, task, params, ctx):
        self.calls.append(("before", task.name, params.text))

    @hookimpl
    def after_task_run(self, task, params, ctx, result):
        self.calls.append(("after", task.name, result.metrics["rows"]))

    @hookimpl
    def on_task_error(self, task, params, ctx, error):
        self.calls.append(("error", task.name, str(error)))


@pytest.fixture
def recorder():
    plugin = Recorder()
    plugins.register_plugin(plugin, "recorder")
    yield plugin
    plugins.unregister_plugin("recorder")


def test_in_process_plugin_and_lifecycle_hooks(home, recorder):
    registry = Registry.open()
    good = pl.DataFrame({"t": ["a", "b"]})
    outcome = run_task("echo", good, "good", params={"text": "t"}, registry=registry)
    assert outcome.result.tables["echo"].equals(good)
    with pytest.raises(RuntimeError, match="asked to fail"):
        run_task("echo", pl.DataFrame({"t": ["fail"]}), "bad", params={"text": "t"}, registry=registry)
    assert recorder.calls == [("before", "echo", "t"), ("after", "echo", 2),
                              ("before", "echo", "t"), ("error", "echo", "asked to fail")]
    runs = registry.runs.list()
    assert [run.status for run in runs] == ["failed", "succeeded"]
    assert runs[0].error == "RuntimeError: asked to fail"
    assert [record.name for record in registry.datasets.list()] == ["good"]  # the failed run kept nothing


def test_missing_column_is_named_with_the_columns_listed(home, recorder):
    with pytest.raises(WorkbenchError, match=r"column 'nope' \(parameter text\) is not in the data; columns are: t"):
        run_task("echo", pl.DataFrame({"t": ["a"]}), "d", params={"text": "nope"}, registry=Registry.open())


def test_register_skips_duplicate_names_and_refuses_a_class(recorder, capsys):
    duplicate = SimpleNamespace(register_tasks=hookimpl(lambda register: register(Echo())))
    plugins.register_plugin(duplicate, "duplicate")
    try:
        assert isinstance(plugins.tasks()["echo"], Echo)
        assert "registered twice" in capsys.readouterr().err
    finally:
        plugins.unregister_plugin("duplicate")

    class Other(Echo):
        name = "other"

    as_class = SimpleNamespace(register_tasks=hookimpl(lambda register: register(Other)))
    plugins.register_plugin(as_class, "as-class")
    try:
        assert "other" not in plugins.tasks()
        assert "call register(Other()) with an instance" in capsys.readouterr().err
    finally:
        plugins.unregister_plugin("as-class")


def test_a_plugin_for_another_hook_api_is_refused(capsys):
    future = SimpleNamespace(WORKBENCH_HOOK_API=99, register_tasks=hookimpl(lambda register: None))
    plugins.register_plugin(future, "future")
    try:
        info = {p.name: p for p in plugins.plugins()}["future"]
        assert "written for hook API 99" in info.error
        assert not plugins.pm.has_plugin("future")
    finally:
        plugins.unregister_plugin("future")


def test_task_params_come_from_the_generic_argument():
    assert Echo.Params is EchoParams


def test_describe_profile_on_real_data(home):
    frame = pl.read_csv(DATASETS / "adult_train.csv")
    outcome = run_task("describe", frame, "adult", registry=Registry.open())
    profile = outcome.result.tables["profile"]
    assert profile.height == frame.width
    row = profile.filter(pl.col("column") == "workclass").row(0, named=True)
    assert row["nulls"] == frame["workclass"].null_count() > 0
    assert row["distinct"] == frame["workclass"].n_unique()
    age = profile.filter(pl.col("column") == "age").row(0, named=True)
    assert age["mean"] == pytest.approx(frame["age"].mean())
    assert outcome.result.metrics["rows"] == frame.height


def test_the_example_plugin_installs_with_pip_and_runs_through_its_entry_point(tmp_path):
    """examples/workbench-zscore is a real package: pip installs it as the README says (its dependency on the
    workbench met by the host's install, seen offline), the workbench finds it, and its own tests pass."""
    import site
    import venv

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    own_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    # The throwaway environment sees the workbench and pip (installed here) after its own packages, offline.
    (Path(own_site) / "workbench-host.pth").write_text(f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    example = ROOT / "examples" / "workbench-zscore"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--no-build-isolation", "--no-index", "-q", "-e",
                                str(example)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    assert list(Path(own_site).glob("workbench_zscore-*.dist-info"))
    own_tests = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(example / "tests")],
                               capture_output=True, text=True, cwd=tmp_path)
    assert own_tests.returncode == 0 and "2 passed" in own_tests.stdout, own_tests.stdout + own_tests.stderr

    def workbench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), "-c", "from workbench.cli import main; main()", *args],
                              capture_output=True, text=True, env={**os.environ, "WORKBENCH_HOME": str(tmp_path / "h")})

    listed = workbench("plugins", "--json")
    entry = {"name": "zscore", "version": "0.1.0", "hooks": ["register_tasks"], "error": None, "status": "ok"}
    assert entry.items() <= next(item for item in json.loads(listed.stdout) if item["name"] == "zscore").items()
    fit = workbench("run", "zscore", "--data", str(DATASETS / "adult_train.csv"), "-p", "value=age", "--register", "z")
    assert fit.returncode == 0, fit.stderr
    applied = workbench("run", "zscore", "--data", str(DATASETS / "adult_test.csv"), "--model", "z", "--out",
                        str(tmp_path / "out"))
    assert applied.returncode == 0, applied.stderr
    scored = pl.read_csv(tmp_path / "out" / "scored.csv")
    train_age = pl.read_csv(DATASETS / "adult_train.csv")["age"]
    assert scored["age_z"][0] == pytest.approx((scored["age"][0] - train_age.mean()) / train_age.std())
