"""Running a task the same way for every surface: validate, run, register, record."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench import plugins
from workbench.errors import WorkbenchError, one_line
from workbench.output import jsonable, write_result
from workbench.params import build_params
from workbench.progress import ProgressReporter
from workbench.registry import Registry, validate_name
from workbench.task import Result, RunContext


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


@dataclass
class RunOutcome:
    run_id: int
    result: Result
    written: list[Path]


def run_task(request: RunRequest, registry: Registry, progress: ProgressReporter | None = None) -> RunOutcome:
    """Validate everything first, run the task, then register its dataset and models."""
    task = plugins.get_task(request.task)
    validate_name(request.dataset_name, "dataset name")
    if request.register:
        validate_name(request.register, "model name")
    model = None
    if request.model:
        if not task.applies_models:
            raise WorkbenchError(f"task {task.name!r} does not apply registered models; drop --model")
        model = registry.load_model(request.model)
        if model.task != task.name:
            raise WorkbenchError(
                f"model {model.ref} was made by task {model.task!r}, not {task.name!r}; "
                f"run `workbench run {model.task} --model {model.ref}`"
            )
    # Applying a model starts from the parameters it was fitted with; given ones override them.
    values = {**(model.params if model else {}), **(request.params or {})}
    params = build_params(task.name, task.Params, values)
    task.check_columns(request.data, params, applying=model is not None)
    params_json = jsonable(params.model_dump(mode="json"))
    run_id = registry.start_run(task.name, params_json, [f"{request.dataset_name} (pending)"])
    ctx = RunContext(registry, progress or ProgressReporter(), request.seed, request.out_dir, model)
    started = time.perf_counter()
    try:
        plugins.before_task_run(task, params, ctx)
        result = task.run(request.data, params, ctx)
        dataset = registry.add_dataset(request.dataset_name, request.data, request.source)
        inputs = [dataset.ref] + ([model.ref] if model else [])
        if request.register:
            for artifact in result.models:
                result.registered.append(registry.register_model(
                    request.register + artifact.suffix, task.name, artifact.path,
                    params=params_json, metrics=jsonable(artifact.metrics), inputs=inputs,
                ))
        written = write_result(result, registry.home / "runs" / str(run_id), "parquet", ("vl.json",))
        if request.out_dir:
            written = write_result(result, request.out_dir, request.table_format)
        plugins.after_task_run(task, params, ctx, result)
    except BaseException as error:
        plugins.on_task_error(task, params, ctx, error)
        registry.finish_run(run_id, "failed", time.perf_counter() - started, error=one_line(error))
        raise
    finally:
        if "work_dir" in ctx.__dict__:
            shutil.rmtree(ctx.work_dir, ignore_errors=True)
    outputs = {
        "tables": {name: list(table.shape) for name, table in result.tables.items()},
        "metrics": jsonable(result.metrics),
        "charts": sorted(result.charts),
        "models": [record.ref for record in result.registered],
        "folder": f"runs/{run_id}",
    }
    registry.finish_run(run_id, "succeeded", time.perf_counter() - started, outputs, inputs=inputs)
    return RunOutcome(run_id, result, written)

