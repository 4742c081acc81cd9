"""`workbench run`: one run, or a sweep of runs over a grid of parameter values."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench import plugins
from workbench.cli.app import app, write_registry
from workbench.cli.render import outcome as show_outcome
from workbench.cli.render import plain, preview
from workbench.errors import Invalid

if TYPE_CHECKING:
    from workbench.execution.request import RunRequest
    from workbench.sdk.progress import ProgressReporter


class TableFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


class Executor(StrEnum):
    local = "local"
    ray = "ray"


def progress_for(task: str) -> ProgressReporter:
    """Bars in a terminal; plain timestamped lines at a steady interval in a log file or a scheduler."""
    from workbench.sdk.progress import LogProgress, RichProgress
    from workbench.settings import number_setting

    if sys.stderr.isatty():
        return RichProgress()
    return LogProgress(task, number_setting("WORKBENCH_PROGRESS_INTERVAL", 10.0))


def pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """`["a=1", "b=x"]` to `{"a": "1", "b": "x"}`, refusing an item without `=`."""
    found = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise Invalid(f"{option} {item!r} is not key=value; write e.g. {option} top=5")
        found[key.strip()] = value
    return found


@app.command("run")
def run(
    task: Annotated[str, typer.Argument(help="Task name (see `workbench tasks`).")],
    data: Annotated[str, typer.Option("--data", "-d", help="A CSV, Parquet or JSON-lines file; a folder or glob of "
                                      "Parquet/CSV parts; an s3:// URI; or a registered dataset "
                                      "NAME[@version|alias].")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value, repeatable.")] = None,
    params_file: Annotated[Path | None, typer.Option("--params", help="JSON file of parameters.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Apply a model: NAME[@version|alias].")] = None,
    register: Annotated[str | None, typer.Option("--register", help="Register fitted models as NAME.")] = None,
    save: Annotated[list[str] | None, typer.Option("--save", help="TABLE=NAME: register an output table as a "
                                                   "dataset, with this run as its lineage (repeatable).")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Folder (or s3:// prefix) for tables, metrics, charts; "
                                            "with --stream, the parts.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace what --out already holds.")] = False,
    table_format: Annotated[TableFormat | None, typer.Option("--format", help="Tables and parts in --out as csv or "
                                                             "parquet (default: csv; parquet for parts).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Dataset name a file is registered as (default: its "
                                             "name).")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="The run's one random seed.")] = 0,
    encoding: Annotated[str | None, typer.Option("--encoding", help="Text encoding of CSV input (default utf-8).")]
    = None,
    delimiter: Annotated[str | None, typer.Option("--delimiter", help="CSV delimiter (default: sniffed).")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Queue the run for a background worker and return at once "
                                         "(the data is registered now).")] = False,
    stream: Annotated[bool, typer.Option("--stream", help="Bounded memory: apply --model batch by batch, writing parts "
                                         "to --out (describe: profile out of core).")] = False,
    batch_rows: Annotated[int | None, typer.Option("--batch-rows", help="Rows per batch with --stream (default "
                                                   "100,000).")] = None,
    executor: Annotated[Executor | None, typer.Option("--executor", help="Where streamed batches are scored: here "
                                                      "(local) or on Ray (implies --stream).")] = None,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Ray cluster address (default: "
                                                    "WORKBENCH_RAY_ADDRESS, else a local Ray).")] = None,
    sweep: Annotated[list[str] | None, typer.Option("--sweep", help="KEY=V1,V2,...: one run per combination of the "
                                                    "values (repeatable; values with commas go in -p).")] = None,
) -> None:
    """Run TASK on data, record the run, and register what it fitted or saved."""
    from workbench.execution.request import RunRequest
    from workbench.identity import current_user
    from workbench.params import read_params_file

    runnable = plugins.get_task(task)  # an unknown task fails before the data is read
    values: dict[str, Any] = read_params_file(params_file) if params_file else {}
    values.update(pairs(param, "--param"))
    request = RunRequest(task=runnable, data=data, params=values, model=model, register=register,
                         save=pairs(save, "--save"), out=out, overwrite=overwrite,
                         table_format=table_format.value if table_format else None, seed=seed, name=name,
                         encoding=encoding, delimiter=delimiter, stream=stream, batch_rows=batch_rows,
                         executor=executor.value if executor else None, ray_address=ray_address, detach=detach,
                         user=current_user())
    if sweep:
        run_sweep(request, pairs(sweep, "--sweep"))
        return
    run_one(request)


def run_one(request: RunRequest) -> None:
    from workbench.execution.dispatch import dispatch
    from workbench.execution.plan import plan_run
    from workbench.registry import Registry

    registry = Registry()
    if registry.exists():
        registry.ensure()  # an existing workspace brought to the current schema before it is read
    plan = plan_run(request, registry)  # refused here, nothing written, not even the workspace
    outcome = dispatch(plan, write_registry(registry), progress_for(request.task.name))
    if outcome.queued:
        plain(f"run #{outcome.run_id} queued; follow it with `workbench runs show {outcome.run_id}`, stop it "
                     f"with `workbench runs cancel {outcome.run_id}`")
        return
    show_outcome(outcome)


def run_sweep(request: RunRequest, grid: dict[str, str]) -> None:
    """One recorded run per combination, grouped; then the group's leaderboard."""
    from workbench.execution.sweep import Sweep

    if request.out is not None or request.register is not None or request.save:
        raise Invalid("a sweep makes many runs, so --out, --register and --save would overwrite each other; run the "
                      "best combination again with them")
    registry = write_registry()
    sweep = Sweep(request, grid, registry, progress_for(request.task.name))
    plain(f"sweep #{sweep.group_id}: {len(sweep.combinations)} runs of {request.task.name}")
    for outcome in sweep.run():
        plain(f"run #{outcome.run_id} {outcome.status}: {outcome.describe()}")
    board = sweep.leaderboard()
    if board is not None:
        plain(preview(board, f"sweep #{sweep.group_id}, best first", rows=len(board)))
    plain(f"compare them: `workbench runs list --group {sweep.group_id}` or the dashboard's Compare page")
