"""Running a task the same way for every surface: validate, run, then register and record in one commit.

Everything a run could be refused for is checked before the first registry write. The run's dataset and
models are registered in the same transaction that marks it succeeded; a run that fails, is cancelled or
is killed registers nothing. The runner owns the run's scratch space and its heartbeat.
"""

from __future__ import annotations

import _thread
import os
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import polars as pl

from workbench import plugins
from workbench._progress import ProgressReporter, TrackedProgress
from workbench._task import Result, RunContext, Task, TaskParams
from workbench.errors import Cancelled, Invalid, one_line
from workbench.output import jsonable, write_result
from workbench.params import build_params
from workbench.registry import DatasetRecord, ModelRecord, Registry, RunStatus
from workbench.registry.datasets import StagedDataset
from workbench.registry.runs import HEARTBEAT_SECONDS
from workbench.registry.store import remove
from workbench.sources import DataSource, copy_limit_bytes
from workbench.workspace import validate_name

TABLE_FORMATS = ("csv", "parquet")


@dataclass
class RunRequest:
    """What a surface asks for: a task, its data and how to treat the outcome."""

    task: str
    data: pl.DataFrame
    dataset_name: str
    source: str = ""
    params: dict[str, Any] | None = None
    model: str | None = None
    register: str | None = None
    out_dir: Path | None = None
    table_format: str = "csv"
    seed: int = 0
    dataset: DatasetRecord | None = None  # the registered version `data` was loaded from, if any
    # Where `data` came from when it is a file, folder, glob or s3:// URI: registered by reference when larger
    # than WORKBENCH_COPY_LIMIT_MB. With `lazy`, the task runs on it out of core (`Task.run_lazy`) and `data`
    # holds only its first rows, for the checks.
    reference: DataSource | None = None
    lazy: bool = False


@dataclass
class RunOutcome:
    run_id: int
    result: Result
    written: list[Path] = field(default_factory=list)


@dataclass
class PreparedRun:
    """A request that passed every check: the task, its validated params and the verified model."""

    request: RunRequest
    task: Task[Any]
    params: TaskParams
    params_json: dict[str, Any]
    model: ModelRecord | None


def prepare(request: RunRequest, registry: Registry) -> PreparedRun:
    """Every check a run can fail before it starts, with nothing written to the registry."""
    task = plugins.get_task(request.task)
    validate_name(request.dataset_name, "dataset name")
    if request.register:
        validate_name(request.register, "model name")
    if request.table_format not in TABLE_FORMATS:
        raise Invalid(f"unknown table format {request.table_format!r}; use csv or parquet")
    model = None
    if request.model:
        if not task.applies_models:
            raise Invalid(f"task {task.name!r} does not apply registered models; drop --model")
        model = registry.models.load(request.model)
        if model.task != task.name:
            raise Invalid(f"model {model.ref} was made by task {model.task!r}, not {task.name!r}; "
                          f"run `workbench run {model.task} --model {model.ref}`")
    params = cast(TaskParams, build_params(task.name, task.Params, applied_values(task, model, request.params)))
    task.check_columns(request.data, params, applying=model is not None)
    task.check(request.data, params, model)
    if request.out_dir is not None:
        check_writable(request.out_dir)
    return PreparedRun(request, task, params, jsonable(params.model_dump(mode="json")), model)


def applied_values(task: Task[Any], model: ModelRecord | None, given: dict[str, Any] | None) -> dict[str, Any]:
    """Applying a model starts from the parameters it was fitted with (those the task still has); given ones win."""
    fields = task.Params.model_fields
    inherited = {key: value for key, value in (model.params if model else {}).items() if key in fields}
    return {**inherited, **(given or {})}


def check_writable(folder: Path) -> None:
    """Refuse an output folder that is a file or cannot be created or written, before the run starts."""
    if folder.exists() and not folder.is_dir():
        raise Invalid(f"--out {folder} is a file; pass a folder (it is created if needed)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise Invalid(f"--out {folder} cannot be written ({error.strerror or error}); "
                      "pass a folder you can write") from None


def request_record(request: RunRequest) -> dict[str, Any]:
    """The request as the run record keeps it, to show, queue or run again."""
    return jsonable({"task": request.task, "dataset": request.dataset.ref if request.dataset else None,
                     "dataset_name": request.dataset_name, "source": request.source, "params": request.params or {},
                     "model": request.model, "register": request.register, "seed": request.seed})


def pending_inputs(prepared: PreparedRun, note: str) -> list[str]:
    request = prepared.request
    data = request.dataset.ref if request.dataset else f"{request.dataset_name} ({note})"
    return [data] + ([prepared.model.ref] if prepared.model else [])


def run_task(request: RunRequest, registry: Registry, progress: ProgressReporter | None = None) -> RunOutcome:
    """Validate everything first, then run the task and commit what it produced."""
    prepared = prepare(request, registry)
    run_id = registry.runs.start(prepared.task.name, prepared.params_json,
                                 pending_inputs(prepared, "registered if the run succeeds"), request.seed,
                                 request_record(request))
    return execute(run_id, prepared, registry, progress)


def execute(run_id: int, prepared: PreparedRun, registry: Registry,
            progress: ProgressReporter | None = None) -> RunOutcome:
    """Run a started (or claimed) run to its end: succeeded with its registrations, or failed/cancelled."""
    task, params, request = prepared.task, prepared.params, prepared.request
    tracked = TrackedProgress(progress)
    started = time.perf_counter()
    with run_scope(registry, run_id, tracked) as scratch:
        ctx = RunContext(task.name, registry.workspace, scratch, request.seed, tracked, prepared.model,
                         frozenset(request.params or {}))
        staged: list[Path] = []
        try:
            seed_global_generators(request.seed)
            plugins.before_task_run(task, params, ctx)
            result = run_in_scope(task, request, params, ctx)
            tracked.check()
            dataset = stage_input(registry, request)
            staged += [dataset.staged] if dataset.staged else []
            models = []
            if request.register:
                for artifact in result.models:
                    model = registry.models.stage(request.register + artifact.suffix, task.name, artifact.path,
                                                  prepared.params_json, jsonable(artifact.metrics))
                    staged.append(model.staged)
                    models.append(model)
            write_result(result, registry.run_dir(run_id), "parquet", ("vl.json",))
            written = write_result(result, request.out_dir, request.table_format) if request.out_dir else []
            _, result.registered = registry.commit_run(
                run_id, dataset, models, [prepared.model.ref] if prepared.model else [],
                outputs_record(run_id, result), time.perf_counter() - started)
        except BaseException as error:
            cancelled = isinstance(error, Cancelled | KeyboardInterrupt)
            status = RunStatus.cancelled if cancelled else RunStatus.failed
            plugins.on_task_error(task, params, ctx, error)
            message = "cancelled" if isinstance(error, KeyboardInterrupt) else one_line(error)
            registry.runs.finish(run_id, status, time.perf_counter() - started, error=message,
                                 inputs=pending_inputs(prepared, "not registered: the run did not succeed"))
            remove(registry.run_dir(run_id))
            if isinstance(error, KeyboardInterrupt) and tracked.cancel_requested.is_set():
                raise Cancelled(f"run #{run_id} was cancelled on request") from None
            raise
        finally:
            ctx.close()
            for path in staged:
                remove(path)
    plugins.after_task_run(task, params, ctx, result)
    return RunOutcome(run_id, result, written)


def run_in_scope(task: Task[Any], request: RunRequest, params: TaskParams, ctx: RunContext) -> Result:
    """The task on the data in memory, or out of core on its source."""
    if not request.lazy:
        return task.run(request.data, params, ctx)
    assert request.reference is not None
    result = task.run_lazy(request.reference.lazy(), params, ctx)
    if result is None:
        raise Invalid(f"task {task.name!r} cannot run out of core; run it without --stream")
    return result


def stage_input(registry: Registry, request: RunRequest) -> StagedDataset:
    """The run's dataset staged for its commit."""
    if request.reference is None:
        return registry.datasets.stage(request.dataset_name, request.data, request.source)
    return stage_source(registry, request.dataset_name, request.reference, None if request.lazy else request.data)


def stage_source(registry: Registry, name: str, source: DataSource, data: pl.DataFrame | None = None) -> StagedDataset:
    """A source larger than WORKBENCH_COPY_LIMIT_MB by reference (URI + fingerprint); a smaller one copied.

    Without `data` in memory (a streamed or out-of-core run), the row count counts too: registering must never
    read a large input whole.
    """
    if source.too_large_to_read() if data is None else source.total_bytes > copy_limit_bytes():
        return registry.datasets.stage_reference(name, source)
    return registry.datasets.stage(name, source.read() if data is None else data, source.uri)


def outputs_record(run_id: int, result: Result) -> dict[str, Any]:
    return {"tables": {name: list(table.shape) for name, table in result.tables.items()},
            "metrics": jsonable(result.metrics), "charts": sorted(result.charts), "folder": f"runs/{run_id}"}


def seed_global_generators(seed: int) -> None:
    """Seed the generators libraries fall back on, so a task that forgets `ctx.rng` is still repeatable."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)


@contextmanager
def run_scope(registry: Registry, run_id: int, progress: TrackedProgress) -> Iterator[Path]:
    """The run's scratch folder and its heartbeat for as long as it runs; both end with it."""
    scratch = registry.workspace.run_scratch(run_id)
    scratch.mkdir(parents=True, exist_ok=True)
    heartbeat = Heartbeat(registry, run_id, progress)
    heartbeat.start()
    try:
        yield scratch
    finally:
        heartbeat.stop()
        remove(scratch)


class Heartbeat(threading.Thread):
    """Records the run's progress every few seconds and notices a cancel request."""

    def __init__(self, registry: Registry, run_id: int, progress: TrackedProgress) -> None:
        super().__init__(name=f"heartbeat-run-{run_id}", daemon=True)
        self.registry, self.run_id, self.progress = registry, run_id, progress
        self.interval = float(os.environ.get("WORKBENCH_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS))
        self.stopped = threading.Event()
        self.main_thread = threading.current_thread() is threading.main_thread()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                cancel = self.registry.runs.heartbeat(self.run_id, self.progress.snapshot())
            except Exception:  # noqa: BLE001 - a busy database must not kill the run; the next beat retries
                cancel = False
            cancel = cancel or not self.registry.workspace.home.exists()  # its workspace was deleted: stop
            if cancel and not self.progress.cancel_requested.is_set():
                self.progress.cancel_requested.set()
                if self.main_thread:  # a step that reports no progress still stops at its next Python line
                    _thread.interrupt_main()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=self.interval + 5)
