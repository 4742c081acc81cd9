"""Runs as background jobs: queued in the runs table, run one after another by a worker process.

A surface (the dashboard, `workbench run --detach`) validates the request, queues it and starts a worker;
the worker outlives the page, the browser tab and the app. Progress goes to the run record through the
runner's heartbeat, so every surface can show it; `runs.request_cancel` stops a run.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from workbench.registry import Registry, RunStatus
from workbench.runner import RunRequest, execute, pending_inputs, prepare, request_record

LOCK_FILE = "worker.lock"


def submit(request: RunRequest, registry: Registry, start_worker: bool = True) -> int:
    """Check the request now, queue it, and make sure a worker will run it; returns the run id.

    The data must be a registered dataset version (`request.dataset`), which the worker loads.
    """
    if request.dataset is None:
        raise ValueError("a queued run needs a registered dataset; register the data first")
    prepared = prepare(request, registry)
    run_id = registry.runs.enqueue(prepared.task.name, prepared.params_json,
                                   pending_inputs(prepared, "registered if the run succeeds"), request.seed,
                                   request_record(request))
    if start_worker:
        start_worker_process(registry)
    return run_id


def start_worker_process(registry: Registry) -> None:
    """A detached `workbench worker` for this workspace: it waits for the lock, then drains the queue."""
    env = {**os.environ, "WORKBENCH_HOME": str(registry.home), "WORKBENCH_REGISTRY_URL": registry.url}
    log = (registry.home / "worker.log").open("a")
    subprocess.Popen([sys.executable, "-m", "workbench.worker"], env=env, stdin=subprocess.DEVNULL, stdout=log,
                     stderr=log, start_new_session=True, close_fds=True)


@contextmanager
def worker_lock(registry: Registry) -> Iterator[None]:
    """One worker at a time per workspace: the lock is held while it runs jobs (released if it dies)."""
    with (registry.home / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def next_queued(registry: Registry) -> int | None:
    """The oldest queued run."""
    queued = registry.runs.list(status=RunStatus.queued, limit=None)
    return queued[-1].id if queued else None


def run_queued(registry: Registry, run_id: int) -> None:
    """Claim a queued run and run it to its end (its failure is recorded in the run, not raised)."""
    if not registry.runs.claim(run_id):
        return
    record = registry.runs.get(run_id)
    asked = record.request
    try:
        dataset = registry.datasets.get(asked["dataset"])
        request = RunRequest(task=asked["task"], data=registry.datasets.load(dataset.ref), dataset_name=dataset.name,
                             source=asked.get("source", ""), params=asked.get("params") or {}, model=asked.get("model"),
                             register=asked.get("register"), seed=int(asked.get("seed", 0)), dataset=dataset)
        prepared = prepare(request, registry)
    except Exception as error:  # noqa: BLE001 - the data or model changed since it was queued
        from workbench.errors import one_line

        registry.runs.finish(run_id, RunStatus.failed, 0.0, error=one_line(error))
        return
    with suppress(Exception):  # a failure is recorded in the run by the runner
        execute(run_id, prepared, registry)


def drain(registry: Registry) -> int:
    """Run every queued job, oldest first, holding the worker lock; returns how many ran."""
    done = 0
    with worker_lock(registry):
        while (run_id := next_queued(registry)) is not None:
            run_queued(registry, run_id)
            done += 1
    return done
