"""Queued runs: recorded by a surface (the dashboard, `workbench run --detach`), carried out by worker processes.

A queued run keeps its request with its data as a registered dataset version; a worker rebuilds the request,
plans it again (the model or data may have changed since) and runs it through the same runner. Up to
WORKBENCH_WORKERS workers (default: cores - 1) run at once, each holding one slot lock, so a short run does not
wait behind a long one; a worker that dies releases its slot, and the next surface to look starts another.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO

from workbench.errors import one_line
from workbench.execution.plan import ExecutionPlan, plan_run
from workbench.execution.request import RunRequest
from workbench.execution.runner import PENDING, Runner, stage_input
from workbench.identity import current_user
from workbench.registry import Registry, RunStatus
from workbench.settings import setting

LOCK_PREFIX = "worker"


def worker_count() -> int:
    """WORKBENCH_WORKERS, else one per core but one (at least one)."""
    return int(setting("WORKBENCH_WORKERS") or max(1, (os.cpu_count() or 2) - 1))


def enqueue(plan: ExecutionPlan, registry: Registry, start_worker: bool = True) -> int:
    """Queue a planned run: its data registered first (a worker loads it by version), then a worker started."""
    data = plan.data
    if data.dataset is None:
        data.dataset = registry.datasets.register(stage_input(registry, data))
    request = plan.request
    run_id = registry.runs.start(plan.task.name, plan.params_json, plan.inputs(PENDING), request.seed,
                                 request.record(data.dataset.ref), queued=True, user=request.user or current_user(),
                                 group_id=request.group_id, step=request.step, fingerprint=request.fingerprint)
    if start_worker:
        ensure_workers(registry)
    return run_id


def submit(request: RunRequest, registry: Registry, start_worker: bool = True) -> int:
    """Plan a request (refusing it now, before anything is written, if it would fail its checks) and queue it."""
    from dataclasses import replace

    return enqueue(plan_run(replace(request, detach=True), registry), registry, start_worker)


def _slot_file(registry: Registry, slot: int) -> str:
    return str(registry.home / f"{LOCK_PREFIX}-{slot}.lock")


@contextmanager
def worker_slot(registry: Registry) -> Iterator[int | None]:
    """A free worker slot, held until the block ends (released by the kernel if the process dies); None if all
    WORKBENCH_WORKERS slots are taken."""
    handle: IO[str] | None = None
    slot = None
    for candidate in range(worker_count()):
        opened = open(_slot_file(registry, candidate), "a")  # noqa: SIM115 - held for the whole block
        try:
            fcntl.flock(opened, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            opened.close()
            continue
        handle, slot = opened, candidate
        break
    try:
        yield slot
    finally:
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def busy_slots(registry: Registry) -> int:
    """How many worker slots are held by live workers."""
    busy = 0
    for slot in range(worker_count()):
        path = _slot_file(registry, slot)
        if not os.path.exists(path):
            continue
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                busy += 1
            else:
                fcntl.flock(handle, fcntl.LOCK_UN)
    return busy


def ensure_workers(registry: Registry) -> int:
    """Start workers for queued runs while slots are free (one per queued run at most); how many were started."""
    queued = len(registry.runs.list(status=RunStatus.queued, limit=worker_count()))
    wanted = min(queued, worker_count() - busy_slots(registry))
    for _ in range(wanted):
        start_worker_process(registry)
    return max(wanted, 0)


def start_worker_process(registry: Registry) -> None:
    """A detached `python -m workbench.execution.worker` for this workspace; its output goes to worker.log."""
    env = {**os.environ, "WORKBENCH_HOME": str(registry.home), "WORKBENCH_REGISTRY_URL": registry.url}
    with (registry.home / "worker.log").open("a") as log:
        subprocess.Popen([sys.executable, "-m", "workbench.execution.worker"], env=env, stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, start_new_session=True, close_fds=True)


def next_queued(registry: Registry) -> int | None:
    """The oldest queued run."""
    queued = registry.runs.list(status=RunStatus.queued, limit=None)
    return queued[-1].id if queued else None


def run_queued(registry: Registry, run_id: int) -> bool:
    """Claim a queued run and run it to its end (its failure is recorded in the run, not raised); False when
    another worker took it first."""
    if not registry.runs.claim(run_id):
        return False
    record = registry.runs.get(run_id)
    try:
        from workbench import plugins

        request = RunRequest.from_record(plugins.get_task(record.task), record.request)
        plan = plan_run(request, registry)
    except Exception as error:  # noqa: BLE001 - the data or model changed since it was queued
        registry.runs.finish(run_id, RunStatus.failed, 0.0, error=one_line(error))
        return True
    with suppress(Exception):  # a failure is recorded in the run by the runner
        Runner(registry).execute(run_id, plan)
    return True


def drain(registry: Registry) -> int:
    """Run queued runs, oldest first, in one worker slot until none is left; returns how many this worker ran."""
    done = 0
    with worker_slot(registry) as slot:
        if slot is None:
            return 0
        while (run_id := next_queued(registry)) is not None:
            done += run_queued(registry, run_id)
    return done
