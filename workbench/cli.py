"""The `workbench` command line: plugins, tasks, run, and the registry's datasets, models and runs.

Every user error, usage errors included, is one `Error: ...` line and exit status 2 (a traceback only with
`--debug`). Heavy libraries are imported inside the commands that need them, so `--help` stays fast.
"""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table
from typer.exceptions import TyperException

from workbench import plugins
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import polars as pl

    from workbench._progress import ProgressReporter
    from workbench.registry import Registry
    from workbench.runner import RunOutcome, RunRequest

app = typer.Typer(
    help="A plugin-based data-science workbench over a shared dataset/model registry.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
)
datasets_app = typer.Typer(help="Registered datasets (versioned by content hash).", no_args_is_help=True)
models_app = typer.Typer(help="Registered models, their lineage and aliases.", no_args_is_help=True)
runs_app = typer.Typer(help="The record of every `workbench run`.", no_args_is_help=True)
apps_app = typer.Typer(help="The browser apps: a dashboard for analysts, reports for readers.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(models_app, name="models")
app.add_typer(runs_app, name="runs")
app.add_typer(apps_app, name="app")

console = Console()
state = {"debug": False, "commands_added": False}


@app.callback()
def root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False) -> None:
    state["debug"] = debug


def _registry() -> Registry:
    from workbench.registry import Registry

    return Registry()


# Short values a reader scans for: never broken across lines.
WHOLE_COLUMNS = {"id", "status", "version", "run"}


def _table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for name in columns:
        table.add_column(name, overflow="fold", no_wrap=name in WHOLE_COLUMNS)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    return table


def _preview(frame: pl.DataFrame, title: str, rows: int = 10) -> str:
    """The first rows as polars prints them, elided to fit the terminal."""
    import polars as pl

    with pl.Config(tbl_rows=rows, tbl_cols=8, fmt_str_lengths=28, float_precision=4, tbl_hide_column_data_types=True,
                   tbl_hide_dataframe_shape=True, tbl_width_chars=console.width):
        return f"{title} ({frame.height:,} rows x {frame.width} columns)\n{frame.head(rows)}"


def _metrics_text(metrics: dict[str, Any]) -> str:
    from workbench.presentation import metric_line

    return metric_line(metrics)


@app.command("plugins")
def list_plugins(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List installed plugins with their versions and hooks."""
    infos = plugins.plugins()
    if as_json:
        print(json.dumps([info.__dict__ for info in infos], indent=2))
        return
    rows = [[info.name, info.version or "", ", ".join(info.hooks), info.error or "ok"] for info in infos]
    console.print(_table(None, ["plugin", "version", "hooks", "status"], rows))


@app.command("tasks")
def list_tasks(name: Annotated[str | None, typer.Argument(help="Show one task's parameters.")] = None) -> None:
    """List tasks, or show one task's parameters with types, defaults and descriptions."""
    from workbench.params import describe_params

    if name is None:
        rows = [[task.name, task.title, task.summary] for task in plugins.tasks().values()]
        console.print(_table(None, ["task", "title", "summary"], rows))
        return
    task = plugins.get_task(name)
    console.print(f"[bold]{task.name}[/bold]: {task.title}\n{task.summary}", markup=False, highlight=False)
    if task.applies_models:
        console.print("Fits a model: `--register NAME` keeps it; `--model NAME[@version|alias]` applies one.")
    rows = [[info.name + (" (column)" if info.column_role else ""), info.type,
             "required" if info.required else repr(info.default), info.description]
            for info in describe_params(task.Params)]
    console.print(_table("Parameters (--param name=value)", ["name", "type", "default", "description"], rows))


class TableFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def _dataset_name(location: str | Path) -> str:
    """A dataset name from a file name, a folder, a glob or a URI (its last plain segment)."""
    segments = [part for part in re.split(r"[/\\]", str(location).removeprefix("s3://")) if part
                and not any(char in part for char in "*?[")]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(segments[-1] if segments else "data").stem).strip(".-") or "data"


def progress_for(task: str) -> ProgressReporter:
    """Bars in a terminal; plain timestamped lines at a steady interval in a log file or a scheduler."""
    import os

    from workbench._progress import LogProgress, RichProgress

    if sys.stderr.isatty():
        return RichProgress()
    return LogProgress(task, float(os.environ.get("WORKBENCH_PROGRESS_INTERVAL", "10")))


class Executor(StrEnum):
    local = "local"
    ray = "ray"


@app.command("run")
def run(
    task: Annotated[str, typer.Argument(help="Task name (see `workbench tasks`).")],
    data: Annotated[str, typer.Option("--data", "-d", help="CSV, Parquet or JSON-lines file; a folder or glob of "
                                      "Parquet/CSV parts; or an s3:// URI.")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value, repeatable.")] = None,
    params_file: Annotated[Path | None, typer.Option("--params", help="JSON file of parameters.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Apply a model: NAME[@version|alias].")] = None,
    register: Annotated[str | None, typer.Option("--register", help="Register fitted models as NAME.")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Folder for tables, metrics, charts (with --stream: "
                                            "for the Parquet parts, a folder or an s3:// prefix).")] = None,
    table_format: Annotated[TableFormat, typer.Option("--format", help="Tables in --out as.")] = TableFormat.csv,
    name: Annotated[str | None, typer.Option("--name", help="Dataset name (default: file stem).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="The run's one random seed (every task uses it).")] = 0,
    encoding: Annotated[str, typer.Option("--encoding", help="Text encoding of a CSV file.")] = "utf-8",
    delimiter: Annotated[str | None, typer.Option("--delimiter", help="CSV delimiter (default: sniffed).")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Queue the run for a background worker and return "
                                         "at once (the data is registered now).")] = False,
    stream: Annotated[bool, typer.Option("--stream", help="Bounded memory: apply --model batch by batch, writing "
                                         "Parquet parts to --out (or, for describe, profile out of core).")] = False,
    batch_rows: Annotated[int, typer.Option("--batch-rows", min=1, help="Rows per batch with --stream.")] = 100_000,
    executor: Annotated[Executor | None, typer.Option("--executor", help="Where streamed batches are scored: in "
                                                      "this process, or on Ray (implies --stream).")] = None,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Ray cluster address (default: "
                                                    "WORKBENCH_RAY_ADDRESS, else a local Ray).")] = None,
) -> None:
    """Run TASK on a data file, record the run, and register what it fitted."""
    from workbench.params import parse_pairs, read_params_file
    from workbench.workspace import validate_name

    runnable = plugins.get_task(task)  # an unknown task fails before the data is read
    values = read_params_file(params_file) if params_file else {}
    values.update(parse_pairs(param or []))
    dataset_name = validate_name(name or _dataset_name(data), "dataset name")
    executor = executor or Executor.local
    if stream or executor is Executor.ray or ray_address:
        if detach:
            raise WorkbenchError("--detach cannot be combined with --stream or --executor ray; run it in the "
                                 "foreground (a scheduler's log gets plain progress lines)")
        if model or not _runs_lazily(runnable):
            _stream(task, data, dataset_name, values, model, out, batch_rows, seed, executor.value, ray_address,
                    delimiter)
            return
    _run_in_memory(task, data, dataset_name, values, model, register, out, table_format.value, seed, encoding,
                   delimiter, detach, lazy=stream)


def _runs_lazily(task: Any) -> bool:
    from workbench._task import Task

    return type(task).run_lazy is not Task.run_lazy


def _run_in_memory(task: str, data: str, dataset_name: str, values: dict[str, Any], model: str | None,
                   register: str | None, out: str | None, table_format: str, seed: int, encoding: str,
                   delimiter: str | None, detach: bool, lazy: bool) -> None:
    """Read the input (or, for a task that can, profile it out of core) and run the task on it."""
    from workbench._io import read_table
    from workbench.runner import RunRequest, run_task
    from workbench.sources import copy_limit_bytes, is_multipart, open_source

    source = None
    if is_multipart(data) or lazy or Path(data).is_file() and Path(data).stat().st_size > copy_limit_bytes() \
            and Path(data).suffix.lower() in (".csv", ".tsv", ".parquet", ".pq"):
        source = open_source(data, delimiter)
    lazy = lazy or (source is not None and source.too_large_to_read() and _runs_lazily(plugins.get_task(task)))
    if source is None:
        frame = read_table(data, encoding=encoding, delimiter=delimiter)
    else:
        frame = source.head() if lazy else source.read()
    request = RunRequest(task=task, data=frame, dataset_name=dataset_name, source=source.uri if source else data,
                         params=values, model=model, register=register, out_dir=Path(out) if out else None,
                         table_format=table_format, seed=seed, reference=source, lazy=lazy)
    if detach:
        _detach(request)
        return
    outcome = run_task(request, _registry(), progress_for(task))
    _print_outcome(task, outcome, register, out)


def _stream(task: str, data: str, dataset_name: str, values: dict[str, Any], model: str | None, out: str | None,
            batch_rows: int, seed: int, executor: str, ray_address: str | None, delimiter: str | None) -> None:
    """Apply a model batch by batch (here or on Ray), writing Parquet parts under --out."""
    from workbench.sources import open_source
    from workbench.streaming import StreamRequest, stream_apply

    if not model:
        raise WorkbenchError(f"--stream applies a registered model; pass --model NAME (task {task!r} cannot "
                             "run out of core without one)")
    if not out:
        raise WorkbenchError("--stream writes Parquet parts; pass --out FOLDER (or an s3:// prefix)")
    request = StreamRequest(task=task, source=open_source(data, delimiter), dataset_name=dataset_name, model=model,
                            out=out, params=values, batch_rows=batch_rows, seed=seed, executor=executor,
                            ray_address=ray_address)
    outcome = stream_apply(request, _registry(), progress_for(task))
    _print_outcome(task, outcome, None, None)


def _print_outcome(task: str, outcome: RunOutcome, register: str | None, out: str | None) -> None:
    result = outcome.result
    if result.summary:
        console.print(Markdown(result.summary))
    if result.metrics:
        from workbench.presentation import split_metrics

        tiles, rest = split_metrics(result.metrics, plugins.get_task(task).headline)
        more = f" ({len(rest)} more in metrics.json and `workbench runs show {outcome.run_id}`)" if rest else ""
        console.print(f"[bold]metrics[/bold]: {_metrics_text(tiles)}{more}", highlight=False)
    for table_name, table in result.tables.items():
        console.print(_preview(table, table_name), highlight=False, markup=False)
    for record in result.registered:
        console.print(f"registered model [bold]{record.ref}[/bold] (sha256 {record.sha256[:12]})")
    if result.models and not register:
        console.print("[yellow]the fitted model was not kept; pass --register NAME to keep it[/yellow]")
    if out:
        console.print(f"wrote {len(outcome.written)} files to {out}", markup=False, highlight=False)
    console.print(f"run #{outcome.run_id} recorded")


def _detach(request: RunRequest) -> None:
    """Queue a run (its data registered first) for the background worker, as the dashboard does."""
    from workbench.jobs import submit

    if request.out_dir is not None:
        raise WorkbenchError("--out cannot be used with --detach; read the results with `workbench runs show ID` "
                             "or in the apps")
    from workbench.runner import prepare

    registry = _registry()
    prepare(request, registry)  # bad input is refused before the data is registered
    request.dataset = registry.datasets.add(request.dataset_name, request.data, request.source)
    run_id = submit(request, registry)
    console.print(f"run #{run_id} queued; follow it with `workbench runs show {run_id}`, stop it with "
                  f"`workbench runs cancel {run_id}`", markup=False, highlight=False)


@datasets_app.command("list")
def datasets_list(
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many.")] = None,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many.")] = 0,
) -> None:
    """List every dataset version."""
    rows = [[r.name, r.version, r.n_rows, len(r.schema), r.sha256[:12], r.source, f"{r.created_at:%Y-%m-%d %H:%M}"]
            for r in _registry().datasets.list(limit=limit, offset=offset)]
    console.print(_table(None, ["name", "version", "rows", "columns", "sha256", "source", "created"], rows))


@datasets_app.command("add")
def datasets_add(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON-lines file.")],
    encoding: Annotated[str, typer.Option("--encoding")] = "utf-8",
    delimiter: Annotated[str | None, typer.Option("--delimiter")] = None,
) -> None:
    """Register a file as a dataset version (identical content returns the existing version)."""
    from workbench._io import read_table
    from workbench.workspace import validate_name

    validate_name(name, "dataset name")
    record = _registry().datasets.add(name, read_table(file, encoding, delimiter), str(file))
    console.print(f"dataset [bold]{record.ref}[/bold]: {record.n_rows:,} rows, sha256 {record.sha256[:12]}")


@datasets_app.command("show")
def datasets_show(ref: Annotated[str, typer.Argument(help="NAME[@version].")]) -> None:
    """Show a dataset version's schema and first rows."""
    registry = _registry()
    record = registry.datasets.get(ref)
    console.print(f"[bold]{record.ref}[/bold] {record.n_rows:,} rows, sha256 {record.sha256}, source {record.source}")
    console.print(_table("schema", ["column", "dtype"], [list(item) for item in record.schema.items()]))
    console.print(_preview(registry.datasets.load(record.ref), "first rows"), highlight=False, markup=False)


@models_app.command("list")
def models_list(
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Only models made by this task.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many.")] = None,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many.")] = 0,
) -> None:
    """List model versions with aliases and metrics."""
    rows = [[r.name, r.version, ", ".join(r.aliases), r.task, _metrics_text(r.metrics)[:60],
             f"{r.created_at:%Y-%m-%d %H:%M}"] for r in _registry().models.list(name, task, limit, offset)]
    console.print(_table(None, ["name", "version", "aliases", "task", "metrics", "created"], rows))


@models_app.command("show")
def models_show(ref: Annotated[str, typer.Argument(help="NAME[@version|alias].")]) -> None:
    """Show a model's lineage, params, metrics and artifact."""
    from workbench.output import jsonable

    record = _registry().models.get(ref)
    details = {"ref": record.ref, "aliases": list(record.aliases), "task": record.task, "run": record.run_id,
               "inputs": record.inputs, "params": record.params, "metrics": record.metrics,
               "artifact": str(record.path), "sha256": record.sha256, "created_at": str(record.created_at)}
    print(json.dumps(jsonable(details), indent=2, ensure_ascii=False))


@models_app.command("alias")
def models_alias(
    ref: Annotated[str, typer.Argument(help="NAME@version the alias points at.")],
    alias: Annotated[str, typer.Argument(help="Alias, e.g. champion.")],
) -> None:
    """Point an alias (e.g. champion) at a model version."""
    record = _registry().models.set_alias(ref, alias)
    console.print(f"{record.name}@{alias} -> version {record.version}", markup=False, highlight=False)


@models_app.command("unalias")
def models_unalias(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Argument(help="The alias to remove.")],
) -> None:
    """Remove an alias from a model."""
    _registry().models.delete_alias(name, alias)
    console.print(f"removed alias {alias} of {name}", markup=False, highlight=False)


@runs_app.command("list")
def runs_list(
    task: Annotated[str | None, typer.Option("--task", help="Only this task.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only runs with this status.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 20,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many.")] = 0,
) -> None:
    """List recent runs, newest first."""
    from workbench.presentation import duration

    rows = [[r.id, r.task, r.status, duration(r.duration_s), ", ".join(r.inputs),
             f"{r.started_at:%Y-%m-%d %H:%M:%S}", r.error or ""]
            for r in _registry().runs.list(task, status, limit, offset)]
    console.print(_table(None, ["id", "task", "status", "duration", "inputs", "started", "error"], rows))


@runs_app.command("show")
def runs_show(run_id: Annotated[int, typer.Argument(help="Run id.")]) -> None:
    """Show one run's params, inputs, outputs, progress and error."""
    from workbench.output import jsonable

    record = _registry().runs.get(run_id)
    print(json.dumps(jsonable(record.__dict__), indent=2, ensure_ascii=False))


@runs_app.command("cancel")
def runs_cancel(run_id: Annotated[int, typer.Argument(help="Run id.")]) -> None:
    """Cancel a queued run, or ask a running one to stop (it ends `cancelled`, registering nothing)."""
    record = _registry().runs.request_cancel(run_id)
    console.print(f"run #{run_id}: " + ("cancelled" if record.status == "cancelled" else "asked to stop"))


HostOption = Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 exposes the app to your network.")]
PortOption = Annotated[int, typer.Option(help="Port to listen on.")]


def _app_file(name: str) -> Path:
    """Where an app's script is installed (the `workbench_apps` package, located without importing it)."""
    from importlib.util import find_spec

    spec = find_spec("workbench_apps")
    if spec is None or not spec.submodule_search_locations:
        raise WorkbenchError("the apps are not installed; reinstall with `pip install -e '.[apps]'`")
    return Path(next(iter(spec.submodule_search_locations))) / name


@apps_app.command("streamlit")
def app_streamlit(host: HostOption = "127.0.0.1", port: PortOption = 8501) -> None:
    """The Streamlit dashboard: upload data, run any task, browse the registry."""
    command = [sys.executable, "-m", "streamlit", "run", str(_app_file("streamlit_app.py")),
               "--server.address", host, "--server.port", str(port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]
    _replace_process(command)


@apps_app.command("shiny")
def app_shiny(host: HostOption = "127.0.0.1", port: PortOption = 8000) -> None:
    """The Shiny Express report app: any recorded run as a report, downloadable as offline HTML."""
    _replace_process([sys.executable, "-m", "shiny", "run", str(_app_file("shiny_report.py")), "--host", host,
                      "--port", str(port)])


def _replace_process(command: list[str]) -> None:
    """Become the server process (no child left behind when this one is stopped)."""
    import os

    sys.stdout.flush()
    os.execv(command[0], command)


def _fail(message: str, code: int = 2) -> None:
    """One line on stderr, then exit."""
    print(f"Error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)


def main() -> None:
    """Entry point: user and usage errors print one line and exit 2; tracebacks only with --debug."""
    if not state["commands_added"]:
        plugins.register_commands(app)
        state["commands_added"] = True
    try:
        code = app(prog_name="workbench", standalone_mode=False)
    except TyperException as error:  # usage: a bad option, a missing one, a value of the wrong type
        if type(error).__name__ == "NoArgsIsHelpError":
            print(error.format_message())
            sys.exit(0)
        if state["debug"]:
            raise
        command = getattr(getattr(error, "ctx", None), "command_path", "workbench")
        _fail(f"{error.format_message()} (see `{command} --help`)", getattr(error, "exit_code", 2) or 2)
    except WorkbenchError as error:
        if state["debug"]:
            raise
        _fail(str(error))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as error:  # noqa: BLE001
        if state["debug"]:
            raise
        _fail(f"{type(error).__name__}: {error} (run with --debug for the traceback)", 1)
    sys.exit(code if isinstance(code, int) else 0)
