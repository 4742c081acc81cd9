"""One runner for every run, whatever its mode: prepare -> execute -> finish, with the hooks fired in one place.

Like kedro's runner, the only thing that differs between modes is the executor (`executors.py`): in memory, out
of core, streamed in this process, or on Ray; a queued run is the same plan carried out later by a worker. The
runner owns the run record, the scratch folder and heartbeat, cancellation, the output folder, the one commit
that registers the run's dataset, models and saved tables with its `succeeded` status, and the lifecycle hooks:

    before_task_run -> the executor -> commit -> after_task_run     (the run's scratch and outputs still there)
                                     \\-> marked failed or cancelled -> on_task_error
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from workbench import plugins
from workbench.errors import Cancelled, Invalid, one_line
from workbench.execution.executors import EXECUTORS
from workbench.execution.heartbeat import run_scope
from workbench.execution.plan import ExecutionPlan, Input, plan_run
from workbench.execution.request import RunRequest
from workbench.execution.results import OutputFolder, Produced, write_result
from workbench.identity import current_user
from workbench.io.sources import copy_limit_bytes
from workbench.jsonable import jsonable
from workbench.registry import DatasetRecord, Registry, RunStatus
from workbench.registry.datasets import StagedDataset
from workbench.registry.models import StagedModel
from workbench.registry.store import remove
from workbench.sdk.progress import ProgressReporter, TrackedProgress
from workbench.sdk.records import Records
from workbench.sdk.task import Result, RunContext

PENDING = "registered if the run succeeds"
NOT_REGISTERED = "not registered: the run did not succeed"


@dataclass
class RunOutcome:
    """What a run left: its id, its result (none for a queued run), files written and what it registered."""

    run_id: int
    result: Result | None = None
    plan: ExecutionPlan | None = None
    out_files: list[str] = field(default_factory=list)
    datasets: list[DatasetRecord] = field(default_factory=list)
    queued: bool = False


class Runner:
    """Runs plans against one registry, reporting progress to `progress`."""

    def __init__(self, registry: Registry, progress: ProgressReporter | None = None) -> None:
        self.registry, self.progress = registry, progress

    def run(self, request: RunRequest) -> RunOutcome:
        """Plan the request (refusing it before anything is written), then run it here."""
        return self.start(plan_run(request, self.registry))

    def start(self, plan: ExecutionPlan) -> RunOutcome:
        """Record the run and execute it here."""
        run_id = self.registry.runs.start(plan.task.name, plan.params_json, plan.inputs(PENDING), plan.request.seed,
                                          plan.request.record(plan.data.dataset.ref if plan.data.dataset else None),
                                          user=plan.request.user or current_user(), group_id=plan.request.group_id,
                                          step=plan.request.step, fingerprint=plan.request.fingerprint)
        return self.execute(run_id, plan)

    def execute(self, run_id: int, plan: ExecutionPlan) -> RunOutcome:
        """Carry out a started (or claimed) run to its end: succeeded with its registrations, or failed/cancelled."""
        task, request = plan.task, plan.request
        tracked = TrackedProgress(self.progress)
        started = time.perf_counter()
        out = None
        with run_scope(self.registry, run_id, tracked) as scratch:
            ctx = RunContext(task.name, self.registry.workspace, scratch, request.seed, tracked, None,
                             frozenset(request.params), run_id=run_id, user=request.user)
            ctx.records = Records(self.registry)
            staged: list[Path] = []
            try:
                if plan.model is not None:
                    ctx.model = self.registry.models.checkout(plan.model, scratch / "model")
                out = OutputFolder(request.out, request.overwrite, run_id) if request.out else None
                seed_global_generators(request.seed)
                plugins.before_task_run(task, plan.params, ctx)
                produced = EXECUTORS[plan.mode](plan, ctx, out, self.registry)
                tracked.check()
                outcome = self._commit(run_id, plan, produced, out, staged, time.perf_counter() - started)
            except BaseException as error:
                # A cancel interrupts the run wherever it is; a library's clean-up may then raise its own error
                # in place of the interruption (Optuna's lock release does): it is still the cancel.
                cancelled = isinstance(error, Cancelled | KeyboardInterrupt) or tracked.cancel_requested.is_set()
                self.registry.runs.finish(run_id, RunStatus.cancelled if cancelled else RunStatus.failed,
                                          time.perf_counter() - started, inputs=plan.inputs(NOT_REGISTERED),
                                          error="cancelled" if cancelled and not isinstance(error, Cancelled)
                                          else one_line(error))
                remove(self.registry.run_dir(run_id))
                if out is not None:
                    out.discard()
                plugins.on_task_error(task, plan.params, ctx, error)
                if not isinstance(error, Cancelled) and tracked.cancel_requested.is_set():
                    raise Cancelled(f"run #{run_id} was cancelled on request") from None
                raise
            finally:
                ctx.close()
                for path in staged:
                    remove(path)
            ctx.record, ctx.outputs = self.registry.runs.get(run_id), self.registry.run_dir(run_id)
            ctx.datasets = [self.registry.datasets.get(ref) for ref in ctx.record.inputs[:1]] + outcome.datasets
            plugins.after_task_run(task, plan.params, ctx, produced.result)
        return outcome

    def _commit(self, run_id: int, plan: ExecutionPlan, produced: Produced, out: OutputFolder | None,
                staged: list[Path], seconds: float) -> RunOutcome:
        """Stage everything, publish `--out`, then register it all and mark the run succeeded in one transaction."""
        result, request = produced.result, plan.request
        data = None if plan.data.dataset else stage_input(self.registry, plan.data)
        staged += [data.staged] if data and data.staged else []
        models = self._stage_models(plan, result)
        staged += [model.staged for model in models]
        in_memory = {table: name for table, name in request.save.items() if table not in produced.parts}
        saved = [self._stage_table(plan, run_id, table, name, produced, staged) for table, name in in_memory.items()]
        write_result(result, self.registry.run_dir(run_id), "parquet", ("vl.json",))
        if out is not None:
            if not produced.parts:
                out.write_result(result, plan.table_format)
            out.publish()
        saved += [self._stage_table(plan, run_id, table, name, produced, staged)  # parts in place by now
                  for table, name in request.save.items() if table in produced.parts]
        outputs = {"tables": {name: list(table.shape) for name, table in result.tables.items()},
                   "metrics": jsonable(result.metrics), "charts": sorted(result.charts), "folder": f"runs/{run_id}",
                   "mode": plan.mode.value, **produced.record}
        if out is not None:
            outputs["out"] = request.out
        inputs = ([plan.data.dataset.ref] if plan.data.dataset else []) + ([plan.model.ref] if plan.model else [])
        datasets, result.registered = self.registry.commit_run(run_id, data, inputs, models, saved, outputs, seconds)
        files = []
        if out is not None:
            files = out.files()
            out.mark_complete({"files": files, **produced.record})
        return RunOutcome(run_id, result, plan, files, datasets)

    def _stage_models(self, plan: ExecutionPlan, result: Result) -> list[StagedModel]:
        if not plan.request.register:
            return []
        return [self.registry.models.stage(plan.request.register + artifact.suffix, plan.task.name, artifact.path,
                                           plan.params_json, jsonable(artifact.metrics)) for artifact in result.models]

    def _stage_table(self, plan: ExecutionPlan, run_id: int, table: str, name: str, produced: Produced,
                     staged: list[Path]) -> StagedDataset:
        """An output table saved as a dataset version that remembers this run (`--save TABLE=NAME`)."""
        datasets = self.registry.datasets
        if table in produced.parts:  # a streamed table: registered where its parts are, once they are in place
            from workbench.io.sources import open_source

            assert plan.request.out is not None
            staged_table = datasets.stage_reference(name, open_source(f"{plan.request.out.rstrip('/')}/{table}"))
            staged_table.run_id = run_id
            return staged_table
        tables = produced.result.tables
        if table not in tables:
            raise Invalid(f"--save {table}={name}: task {plan.task.name!r} made no table {table!r}; its tables: "
                          f"{', '.join(tables) or 'none'}")
        staged_table = datasets.stage(name, tables[table], f"run #{run_id}: {table}", run_id=run_id)
        staged += [staged_table.staged] if staged_table.staged else []
        return staged_table


def stage_input(registry: Registry, data: Input) -> StagedDataset:
    """A run's input staged for registering: a copy when it is small, else a reference to its parts (a large
    input is never read whole for this)."""
    datasets = registry.datasets
    if data.source is None:
        return datasets.stage(data.name, data.frame, data.origin)
    if data.partial and data.source.too_large_to_read() or data.source.total_bytes > copy_limit_bytes():
        return datasets.stage_reference(data.name, data.source)
    return datasets.stage(data.name, data.source.read() if data.partial else data.frame, data.source.uri)


def seed_global_generators(seed: int) -> None:
    """Seed the generators libraries fall back on, so a task that forgets `ctx.rng` is still repeatable."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
