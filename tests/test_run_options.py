"""Every `workbench run` option against every mode: honoured (its effect checked) or refused with one line before
anything runs. Nothing is ever silently ignored (issue 24)."""

import inspect
import json
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import DATASETS, error_lines, invoke

from workbench.execution.jobs import drain
from workbench.execution.plan import HONOURED, Mode
from workbench.registry import Registry
from workbench.sdk import WorkbenchError, hookimpl

RAY_FIT = "fitted with Ray workers"
MODES = ("in memory", "out of core", "streamed", "ray", RAY_FIT, "queued")
# Runs that start Ray share one xdist worker (two Ray instances starting at once on two cores time out).
MODE_CASES = [pytest.param(mode, marks=pytest.mark.xdist_group("ray")) if "ray" in mode.lower() else mode
              for mode in MODES]
# The combinations refused, and what their one line says; every other one is honoured.
REFUSED = {
    ("in memory", "batch-rows"): "--batch-rows", ("out of core", "batch-rows"): "--batch-rows",
    ("queued", "batch-rows"): "--batch-rows",
    ("in memory", "ray-address"): "pass --model", ("queued", "ray-address"): "pass --model",
    ("out of core", "ray-address"): "runs out of core in this process",
    ("out of core", "model"): "does not apply registered models",
    ("out of core", "register"): "task 'describe' fits none",
    ("streamed", "register"): "a run with --model fits none", ("ray", "register"): "a run with --model fits none",
    (RAY_FIT, "batch-rows"): "--batch-rows", (RAY_FIT, "model"): "pass --out",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A workspace with an encoder, and colours data as one CSV and as CSV parts (both `;`-separated, latin-1)."""
    folder = tmp_path_factory.mktemp("options")
    frame = pl.concat([pl.read_csv(DATASETS / "colors_inference.csv")] * 30).with_columns(
        pl.col("color_1_").str.replace("black", "négre"))
    (folder / "small.csv").write_bytes(frame.write_csv(separator=";").encode("latin-1"))
    (folder / "parts").mkdir()
    for index in range(3):
        (folder / "parts" / f"part-{index}.csv").write_bytes(
            frame.slice(index * 20, 20).write_csv(separator=";").encode("latin-1"))
    scores = frame.with_columns(score=(pl.col("numerical_1") * 2 + pl.int_range(pl.len()) % 3).cast(pl.Float64))
    (folder / "scores.csv").write_bytes(scores.write_csv(separator=";").encode("latin-1"))
    home = folder / "home"
    fit = invoke("run", "onehot", "--data", str(DATASETS / "colors_train.csv"), "--register", "enc", home=home)
    assert fit.returncode == 0, fit.stderr
    return {"home": home, "small": str(folder / "small.csv"), "parts": str(folder / "parts"),
            "scores": str(folder / "scores.csv")}


def base(mode: str, world: dict, out: Path) -> list[str]:
    """The command that runs in `mode` (with the CSV's encoding and delimiter)."""
    csv = ["--encoding", "latin-1", "--delimiter", ";"]
    return {
        "in memory": ["run", "onehot", "--data", world["small"], *csv],
        "out of core": ["run", "describe", "--data", world["parts"], "--stream", *csv],
        "streamed": ["run", "onehot", "--data", world["parts"], "--model", "enc", "--stream", "--out", str(out), *csv],
        "ray": ["run", "onehot", "--data", world["parts"], "--model", "enc", "--executor", "ray", "--out", str(out),
                *csv],
        RAY_FIT: ["run", "feature-selection", "--data", world["scores"], "-p", "target=score", "-p", "trials=10",
                  "-p", "compare=false", "-p", "folds=2", "--executor", "ray", *csv],
        "queued": ["run", "onehot", "--data", world["small"], "--detach", *csv],
    }[mode]


def table_of(mode: str) -> str:
    """The table a run in `mode` makes (what --save and --out name)."""
    return {"out of core": "profile", RAY_FIT: "comparison"}.get(mode, "encoded")


def option_args(option: str, mode: str, out: Path) -> list[str]:
    table = table_of(mode)
    return {"model": ["--model", "enc"], "register": ["--register", "fitted"], "save": ["--save", f"{table}=saved"],
            "out": ["--out", str(out)], "overwrite": ["--out", str(out), "--overwrite"],
            "format": ["--out", str(out), "--format", "csv"],
            "name": ["--name", "given"], "encoding": ["--encoding", "latin-1"], "delimiter": ["--delimiter", ";"],
            "batch-rows": ["--batch-rows", "7"], "ray-address": ["--ray-address", "local"],
            "detach": ["--detach"]}[option]


def without(args: list[str], flags: list[str]) -> list[str]:
    """`args` less every flag (and its value) the option under test gives itself."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in flags:
            skip = arg not in ("--detach", "--overwrite")
        else:
            kept.append(arg)
    return kept


def settle(registry: Registry, timeout: float = 120.0) -> None:
    """Carry out a queued run here, or wait for the worker that `--detach` started and that took it first."""
    drain(registry)
    deadline = time.monotonic() + timeout
    while registry.runs.list(limit=1)[0].status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)


def check_effect(option: str, mode: str, registry: Registry, out: Path) -> None:
    """What the option did, read back from the run and the registry."""
    run = registry.runs.list(limit=1)[0]
    assert run.status == "succeeded", run.error
    table = table_of(mode)
    if option == "model":
        assert run.inputs[-1] == "enc@1"
    elif option == "register":
        assert run.outputs["models"][0].startswith("fitted@")
    elif option == "save":  # identical content saved again is the version that first held it
        [saved] = run.outputs["datasets"]
        assert saved.startswith("saved@") and registry.datasets.get(saved).n_rows != 0
    elif option in ("out", "overwrite"):
        assert json.loads((out / "_SUCCESS").read_text())["run"] == run.id and not (out / "stale.txt").exists()
    elif option == "format":
        assert list(out.glob(f"{table}.csv")) or list(out.glob(f"{table}/part-*.csv")), list(out.rglob("*"))
    elif option == "name":
        assert run.inputs[0].startswith("given@")
    elif option in ("encoding", "delimiter"):
        read = registry.datasets.load(run.inputs[0])
        assert read.width == (4 if mode == RAY_FIT else 3) and "négre" in read["color_1_"].to_list()
    elif option == "batch-rows":
        assert run.outputs["metrics"]["batch_rows"] == 7 and run.outputs["metrics"]["parts"] >= 9
    elif option == "ray-address":
        assert run.outputs["mode"] == RAY_FIT if mode == RAY_FIT else run.outputs["metrics"]["executor"] == "ray"
    elif option == "detach":
        assert run.request["detach"] is True and run.pid is not None  # queued with its request, run by a worker


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "option"), [
    pytest.param(mode, option, id=f"{mode}-{option}",
                 marks=[pytest.mark.xdist_group("ray")] if "ray" in mode.lower() or option == "ray-address" else [])
    for mode in MODES for option in sorted(HONOURED)])
def test_every_option_in_every_mode_is_honoured_or_refused(world, tmp_path, mode, option):
    out = tmp_path / "out"
    added = option_args(option, mode, out)
    args = without(base(mode, world, out), [arg for arg in added if arg.startswith("--")]) + added
    if option == "overwrite":
        out.mkdir()
        (out / "stale.txt").write_text("from before")
    registry = Registry.open(home=world["home"])
    before = registry.runs.list(limit=1)[0].id
    done = invoke(*args, home=world["home"])
    if (mode, option) in REFUSED:
        assert done.returncode == 2, done.stdout + done.stderr
        lines = error_lines(done.stderr)
        assert len(lines) == 1 and REFUSED[mode, option] in lines[0], done.stderr
        assert registry.runs.list(limit=1)[0].id == before  # refused before anything ran
        return
    assert done.returncode == 0, done.stderr
    settle(registry)
    assert registry.runs.list(limit=1)[0].id > before
    check_effect(option, mode, registry, out)


def test_the_walk_covers_every_run_option_and_every_mode():
    from workbench.cli.run import run

    options = {name.replace("_", "-") for name in inspect.signature(run).parameters}
    # These choose the mode, the task or the input itself; everything else is an option walked above.
    choosing = {"task", "data", "param", "params-file", "seed", "stream", "executor", "sweep", "table-format"}
    assert (options - choosing) | {"format"} == set(HONOURED)  # --format is the parameter table_format
    assert {mode.value for mode in Mode} | {"queued"} == set(MODES)


class Recorder:
    """Records the hooks as they fire, what the run looked like then, and fails or raises on demand."""

    def __init__(self, registry: Registry) -> None:
        self.registry, self.seen, self.fail = registry, [], False

    @hookimpl
    def before_task_run(self, task, params, ctx):
        self.seen.append(("before", self.registry.runs.get(ctx.run_id).status))
        if self.fail:
            raise WorkbenchError("vetoed by a plugin")

    @hookimpl
    def after_task_run(self, task, params, ctx, result):
        self.seen.append(("after", self.registry.runs.get(ctx.run_id).status, ctx.scratch_dir.is_dir(),
                          (ctx.outputs / "metrics.json").is_file()))

    @hookimpl
    def on_task_error(self, task, params, ctx, error):
        self.seen.append(("error", self.registry.runs.get(ctx.run_id).status))
        raise RuntimeError("a broken error hook")


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODE_CASES)
def test_every_mode_fires_the_same_hooks_in_the_same_order(world, tmp_path, mode):
    from workbench import plugins

    registry = Registry.open(home=world["home"])
    recorder = Recorder(registry)
    plugins.register_plugin(recorder, "recorder")
    try:
        done = invoke(*base(mode, world, tmp_path / "ok"), home=world["home"])
        assert done.returncode == 0, done.stderr
        drain(registry)
        assert recorder.seen == [("before", "running"), ("after", "succeeded", True, True)]
        recorder.seen, recorder.fail = [], True
        failed = invoke(*base(mode, world, tmp_path / "failed"), home=world["home"])
        drain(registry)
    finally:
        plugins.unregister_plugin("recorder")
    assert recorder.seen == [("before", "running"), ("error", "failed")]  # marked failed before the error hook
    run = registry.runs.list(limit=1)[0]
    # the error hook's own raise changed nothing
    assert run.status == "failed" and run.error == "WorkbenchError: vetoed by a plugin"
    if mode != "queued":
        assert failed.returncode == 2 and "vetoed by a plugin" in failed.stderr
        assert "plugin 'recorder' failed in on_task_error" in failed.stderr
    assert not (tmp_path / "failed").exists()  # a failed run leaves no --out
