"""Applying a registered model to data of any size: batch after batch, in this process or on a Ray cluster.

The task's `batch_scorer` turns one batch of rows into the same rows scored; the runner reads the input in
batches (bounded memory), scores them here or on Ray actors that each load the model once, and writes the
output as partitioned Parquet. The run is recorded like any other; the input is registered by reference
(its URI and a fingerprint of its parts) when it is larger than WORKBENCH_COPY_LIMIT_MB.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import polars as pl

from workbench import plugins
from workbench._progress import ProgressReporter, TrackedProgress
from workbench._task import Result, RunContext, TaskParams
from workbench.errors import Cancelled, Invalid, one_line
from workbench.output import jsonable, write_result
from workbench.params import build_params
from workbench.registry import Registry, RunStatus
from workbench.registry.store import remove
from workbench.runner import RunOutcome, applied_values, check_writable, run_scope, seed_global_generators, stage_source
from workbench.sources import DataSource, write_parquet_part
from workbench.workspace import validate_name

DEFAULT_BATCH_ROWS = 100_000
SAMPLE_ROWS = 1_000  # kept in the run's folder, so the apps can show what the output looks like

Scorer = Callable[[pl.DataFrame], pl.DataFrame]


@dataclass
class StreamRequest:
    """Apply `model` to `source` in batches of `batch_rows`, writing Parquet parts under `out`."""

    task: str
    source: DataSource
    dataset_name: str
    model: str
    out: str
    params: dict[str, Any] = field(default_factory=dict)
    batch_rows: int = DEFAULT_BATCH_ROWS
    seed: int = 0
    executor: str = "local"  # or "ray"
    ray_address: str | None = None


def stream_apply(request: StreamRequest, registry: Registry, progress: ProgressReporter | None = None) -> RunOutcome:
    """Validate, record the run, score every batch, write the parts, and commit the run."""
    task = plugins.get_task(request.task)
    validate_name(request.dataset_name, "dataset name")
    if request.executor not in ("local", "ray"):
        raise Invalid(f"unknown executor {request.executor!r}; use local or ray")
    if request.batch_rows < 1:
        raise Invalid(f"batch size {request.batch_rows} must be at least 1 row")
    model = registry.models.load(request.model)
    if model.task != task.name:
        raise Invalid(f"model {model.ref} was made by task {model.task!r}, not {task.name!r}")
    params = cast(TaskParams, build_params(task.name, task.Params, applied_values(task, model, request.params)))
    sample = request.source.head(SAMPLE_ROWS)
    task.check_columns(sample, params, applying=True)
    task.check(sample, params, model)
    if task.batch_table is None:
        raise Invalid(f"task {task.name!r} cannot score data in batches; run it without --stream")
    if "://" not in request.out:
        check_writable(Path(request.out))
    params_json = jsonable(params.model_dump(mode="json"))
    run_id = registry.runs.start(task.name, params_json, [f"{request.dataset_name} (registered if the run "
                                                          "succeeds)", model.ref], request.seed,
                                 {"task": task.name, "source": request.source.uri, "model": model.ref,
                                  "params": request.params, "seed": request.seed, "executor": request.executor})
    tracked = TrackedProgress(progress)
    started = time.perf_counter()
    with run_scope(registry, run_id, tracked) as scratch:
        ctx = RunContext(task.name, registry.workspace, scratch, request.seed, tracked, model)
        try:
            seed_global_generators(request.seed)
            batches = (ray_batches(request, registry, params_json, tracked) if request.executor == "ray"
                       else local_batches(request, task.batch_scorer(params, model, ctx.device if task.gpu_batches
                                                                     else "cpu"), tracked))
            written, rows, sample_frame, extra = write_parts(batches, request.out, str(task.batch_table))
            seconds = time.perf_counter() - started
            metrics = {"rows": rows, "parts": len(written), "seconds": round(seconds, 2),
                       "rows_per_second": round(rows / max(seconds, 1e-9), 1), "executor": request.executor,
                       "batch_rows": request.batch_rows, **extra}
            result = Result(tables={str(task.batch_table): sample_frame}, metrics=metrics, summary=(
                f"Scored {rows:,} rows with model {model.ref} ({request.executor}, batches of "
                f"{request.batch_rows:,}): {len(written)} Parquet parts under `{request.out}/{task.batch_table}/`. "
                f"The table here shows the first {min(rows, SAMPLE_ROWS):,} rows."))
            write_result(result, registry.run_dir(run_id), "parquet", ())
            dataset = stage_source(registry, request.dataset_name, request.source)
            outputs = {"tables": {str(task.batch_table): [rows, sample_frame.width]}, "metrics": jsonable(metrics),
                       "charts": [], "folder": f"runs/{run_id}", "parts": written[:1000]}
            registry.commit_run(run_id, dataset, [], [model.ref], outputs, seconds)
        except BaseException as error:
            status = RunStatus.cancelled if isinstance(error, Cancelled | KeyboardInterrupt) else RunStatus.failed
            registry.runs.finish(run_id, status, time.perf_counter() - started, error=one_line(error),
                                 inputs=[f"{request.dataset_name} (not registered: the run did not succeed)",
                                         model.ref])
            remove(registry.run_dir(run_id))
            raise
        finally:
            ctx.close()
    return RunOutcome(run_id, result, [Path(path) for path in written if "://" not in path])


def local_batches(request: StreamRequest, scorer: Scorer | None, progress: TrackedProgress) -> Iterator[pl.DataFrame]:
    """Score each batch in this process."""
    assert scorer is not None
    total = request.source.rows()
    with progress.bar(f"Scoring in batches of {request.batch_rows:,}", total=total) as bar:
        for batch in request.source.batches(request.batch_rows):
            yield scorer(batch)
            bar.advance(batch.height)


def ray_batches(request: StreamRequest, registry: Registry, params_json: dict[str, Any],
                progress: TrackedProgress) -> Iterator[pl.DataFrame]:
    """Score the batches on a Ray cluster (imported only here)."""
    from workbench.ray_executor import score_on_ray

    yield from score_on_ray(request.task, request.model, request.source, request.batch_rows, registry=registry,
                            params=params_json, progress=progress, address=request.ray_address)


def write_parts(batches: Iterator[pl.DataFrame], out: str, table: str) -> tuple[list[str], int, pl.DataFrame,
                                                                                   dict[str, Any]]:
    """Write each scored batch as one Parquet part; returns the parts, the row count, a sample, and extras."""
    written: list[str] = []
    rows = 0
    sample: pl.DataFrame | None = None
    extra: dict[str, Any] = {}
    for index, batch in enumerate(batches):
        if "_workbench_node" in batch.columns:
            for node, count in batch["_workbench_node"].value_counts().iter_rows():
                nodes = extra.setdefault("rows_per_node", {})
                nodes[node] = nodes.get(node, 0) + count
            batch = batch.drop("_workbench_node")
        written.append(write_parquet_part(batch.to_arrow(), out, f"{table}/part-{index:05d}.parquet"))
        rows += batch.height
        if sample is None or sample.height < SAMPLE_ROWS:
            sample = batch.head(SAMPLE_ROWS) if sample is None else pl.concat([sample, batch]).head(SAMPLE_ROWS)
    if "rows_per_node" in extra:
        extra["nodes"] = len(extra["rows_per_node"])
        extra["rows_per_node"] = json.loads(json.dumps(extra["rows_per_node"]))
    return written, rows, sample if sample is not None else pl.DataFrame(), extra
