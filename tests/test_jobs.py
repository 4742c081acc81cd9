"""Runs as background jobs: queued, run one after another by a worker process, cancellable while queued."""

import os
import subprocess
import sys
import time

import polars as pl
import pytest
from conftest import DATASETS, run_cli

from workbench import plugins
from workbench.errors import WorkbenchError
from workbench.execution.jobs import drain, submit
from workbench.execution.request import RunRequest
from workbench.registry import Registry


def queue(registry: Registry, task: str, record, **params) -> int:
    return submit(RunRequest(plugins.get_task(task), record.ref, params=params), registry, start_worker=False)


def test_queued_runs_run_in_order_and_a_cancelled_one_never_starts(home):
    registry = Registry.open()
    adult = registry.datasets.add("adult", pl.read_csv(DATASETS / "adult_train.csv"))
    first = queue(registry, "describe", adult, top=2)
    second = queue(registry, "onehot", adult)
    third = queue(registry, "describe", adult)
    assert [registry.runs.get(i).status for i in (first, second, third)] == ["queued"] * 3
    registry.runs.request_cancel(second)
    assert drain(registry) == 2
    runs = {run.id: run for run in registry.runs.list()}
    assert (runs[first].status, runs[second].status, runs[third].status) == ("succeeded", "cancelled", "succeeded")
    assert runs[first].started_at < runs[third].started_at
    assert runs[first].inputs == ["adult@1"] and runs[first].params["top"] == 2


def test_a_queued_run_is_checked_before_it_is_queued(home):
    registry = Registry.open()
    adult = registry.datasets.add("adult", pl.read_csv(DATASETS / "adult_train.csv"))
    request = RunRequest(plugins.get_task("describe"), adult.ref, params={"top": 0})
    with pytest.raises(WorkbenchError, match="greater than or equal to 1"):
        submit(request, registry, start_worker=False)
    assert registry.runs.list() == []


def test_detach_queues_the_run_and_a_worker_process_finishes_it(home, tmp_path):
    done = run_cli("run", "describe", "--data", str(DATASETS / "adult_train.csv"), "--detach", home=home)
    assert done.returncode == 0, done.stderr
    assert "run #1 queued" in done.stdout
    deadline = time.monotonic() + 120
    while Registry.open().runs.get(1).status in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    record = Registry.open().runs.get(1)
    assert record.status == "succeeded" and record.outputs["tables"]["profile"] == [15, 11]
    assert (home / "worker.log").exists()


def test_a_worker_waits_for_the_one_before_it(home):
    """Two workers on one workspace never run jobs at once: the second waits for the lock, then finds none."""
    registry = Registry.open()
    adult = registry.datasets.add("adult", pl.read_csv(DATASETS / "adult_train.csv"))
    ids = [queue(registry, "describe", adult) for _ in range(3)]
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    workers = [subprocess.Popen([sys.executable, "-m", "workbench.execution.worker"], env=env) for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=180) == 0
    runs = sorted((registry.runs.get(i) for i in ids), key=lambda run: run.started_at)
    assert [run.status for run in runs] == ["succeeded"] * 3
    for earlier, later in zip(runs, runs[1:], strict=False):  # one after another, never overlapping
        assert earlier.started_at.timestamp() + earlier.duration_s <= later.started_at.timestamp() + 0.5
