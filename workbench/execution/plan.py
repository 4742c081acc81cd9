"""Deciding, once, how a request runs: in memory, out of core, streamed in this process, or on Ray (and whether
it is queued for a worker), and refusing every option the chosen mode cannot honour before anything runs.

The CLI and the dashboard both call `plan_run`; the runner executes what it returns. `HONOURED` is the whole
contract between options and modes: an option given to a mode it does not list is a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from workbench.errors import Invalid, NotFound
from workbench.execution.request import RunRequest
from workbench.execution.results import TABLE_FORMATS, check_out
from workbench.jsonable import jsonable
from workbench.params import build_params
from workbench.settings import number_setting, setting
from workbench.workspace import validate_name

if TYPE_CHECKING:
    import polars as pl

    from workbench.io.sources import DataSource
    from workbench.registry import DatasetRecord, ModelRecord, Registry
    from workbench.sdk.task import Task, TaskParams

DEFAULT_BATCH_ROWS = 100_000
MAX_SEED = 2**32 - 1
SAMPLE_ROWS = 1_000  # the first rows of data not read whole: what the checks look at
MEMORY_LIMIT_MB = 16_384
RAY_CONNECT_SECONDS = 10


class Mode(StrEnum):
    in_memory = "in memory"
    out_of_core = "out of core"
    streamed = "streamed"
    ray = "ray"
    ray_fit = "fitted with Ray workers"


ALL_MODES = frozenset(Mode)
# Which modes honour each run option. Anything else given is refused with the reason in REFUSALS.
HONOURED: dict[str, frozenset[Mode]] = {
    "model": ALL_MODES - {Mode.out_of_core, Mode.ray_fit},
    "register": frozenset({Mode.in_memory, Mode.out_of_core, Mode.ray_fit}),
    "save": ALL_MODES,
    "out": ALL_MODES,
    "overwrite": ALL_MODES,
    "format": ALL_MODES,
    "name": ALL_MODES,
    "encoding": ALL_MODES,
    "delimiter": ALL_MODES,
    "batch-rows": frozenset({Mode.streamed, Mode.ray}),
    "ray-address": frozenset({Mode.ray, Mode.ray_fit}),
    "detach": ALL_MODES,
}
REFUSALS = {
    "model": "an out-of-core run profiles data and applies no model; drop --model",
    "batch-rows": "--batch-rows sizes the batches a model is applied in (--stream with --model); drop --batch-rows "
                  "or add them",
    "ray-address": "--ray-address is where --executor ray runs; add --executor ray, or drop --ray-address",
}


@dataclass
class Input:
    """The data of a run: in memory (whole, or its first rows for the checks), as a source of parts, or both."""

    name: str  # the dataset name it is (or will be) registered under
    origin: str  # where it came from, as the dataset's source
    frame: pl.DataFrame  # the whole data in memory, or (`partial`) its first rows
    partial: bool = False
    source: DataSource | None = None  # files, parts or a reference, read in batches or out of core
    dataset: DatasetRecord | None = None  # the registered version it is, if it is one

    def ref(self, note: str) -> str:
        return self.dataset.ref if self.dataset else f"{self.name} ({note})"


@dataclass
class ExecutionPlan:
    """A request that passed every check, with the mode it runs in."""

    request: RunRequest
    task: Task[Any]
    mode: Mode
    data: Input
    params: TaskParams
    params_json: dict[str, Any]
    model: ModelRecord | None
    table_format: str
    batch_rows: int

    def inputs(self, note: str) -> list[str]:
        return [self.data.ref(note)] + ([self.model.ref] if self.model else [])


def runs_lazily(task: Task[Any]) -> bool:
    """Whether the task can run out of core (it implements `run_lazy`)."""
    from workbench.sdk.task import Task

    return type(task).run_lazy is not Task.run_lazy


def plan_run(request: RunRequest, registry: Registry) -> ExecutionPlan:
    """Every check a run can fail before it starts, nothing written; the mode it runs in."""
    task = request.task
    _check_names(request)
    if request.model and not task.applies_models:
        raise Invalid(f"task {task.name!r} does not apply registered models; drop --model")
    if request.register is not None and (request.model or not task.applies_models):
        raise Invalid("--register keeps a fitted model, and " + (
            "a run with --model fits none" if request.model else f"task {task.name!r} fits none")
            + "; drop --register")
    data = resolve_input(request, registry)
    mode = choose_mode(request, task, data)
    _check_options(request, mode, data)
    model = None
    if request.model:
        if not registry.exists():
            raise NotFound(f"unknown model {request.model.partition('@')[0]!r}; no model is registered yet (no "
                           f"workspace at {registry.home})")
        model = registry.models.load(request.model)
        if model.task != task.name:
            raise Invalid(f"model {model.ref} was made by task {model.task!r}, not {task.name!r}; "
                          f"run `workbench run {model.task} --model {model.ref}`")
    params = cast("TaskParams", build_params(task.name, task.Params, applied_values(task, model, request.params)))
    task.check_columns(data.frame, params, applying=model is not None)
    task.check(data.frame, params, model)
    if mode in (Mode.streamed, Mode.ray) and task.batch_table is None:
        raise Invalid(f"task {task.name!r} cannot score data in batches; run it without --stream")
    if request.out is not None:
        check_out(request.out, request.overwrite, registry.home)
    table_format = request.table_format or ("parquet" if mode in (Mode.streamed, Mode.ray) else "csv")
    return ExecutionPlan(request, task, mode, data, params, jsonable(params.model_dump(mode="json")), model,
                         table_format, request.batch_rows or DEFAULT_BATCH_ROWS)


def with_params(plan: ExecutionPlan, values: dict[str, Any]) -> ExecutionPlan:
    """The same plan (data, model, mode) with other parameter values, checked like the first."""
    from dataclasses import replace

    task = plan.task
    params = cast("TaskParams", build_params(task.name, task.Params, applied_values(task, plan.model, values)))
    task.check_columns(plan.data.frame, params, applying=plan.model is not None)
    task.check(plan.data.frame, params, plan.model)
    return replace(plan, request=replace(plan.request, params=values), params=params,
                   params_json=jsonable(params.model_dump(mode="json")))


def applied_values(task: Task[Any], model: ModelRecord | None, given: dict[str, Any]) -> dict[str, Any]:
    """Applying a model starts from the parameters it was fitted with (those the task still has); given ones win."""
    fields = task.Params.model_fields
    inherited = {key: value for key, value in (model.params if model else {}).items() if key in fields}
    return {**inherited, **given}


def _check_names(request: RunRequest) -> None:
    if not 0 <= request.seed <= MAX_SEED:
        raise Invalid(f"--seed {request.seed} is out of range; use a whole number from 0 to {MAX_SEED}")
    for kind, value in (("model name", request.register), ("dataset name", request.name)):
        if value is not None:
            validate_name(value, kind)
    for table, name in request.save.items():
        validate_name(table, "--save table")
        validate_name(name, "--save dataset name")
    if request.table_format is not None and request.table_format not in TABLE_FORMATS:
        raise Invalid(f"unknown table format {request.table_format!r}; use csv or parquet")
    if request.batch_rows is not None and not 1 <= request.batch_rows <= 10_000_000:
        raise Invalid(f"--batch-rows {request.batch_rows} must be from 1 to 10,000,000 rows")
    if request.delimiter is not None and len(request.delimiter) != 1:
        raise Invalid(f"--delimiter {request.delimiter!r} must be one character, e.g. ',' or ';' "
                      "(use $'\\t' for tab)")
    if request.executor not in (None, "local", "ray"):
        raise Invalid(f"unknown executor {request.executor!r}; use local or ray")
    if request.ray_address is not None:
        check_ray_address(request.ray_address)
    if request.detach:
        setting("WORKBENCH_WORKERS")  # a malformed worker count is refused before the data is registered


def check_ray_address(address: str) -> None:
    """Refuse, within seconds, a Ray address that is malformed or where nothing listens (Ray itself retries for
    minutes before it gives up)."""
    import re
    import socket

    if address in ("auto", "local"):
        return
    match = re.fullmatch(r"(?:ray://)?\[?([A-Za-z0-9_.:-]+?)\]?:(\d{1,5})", address)
    if match is None:
        raise Invalid(f"--ray-address {address!r} is not HOST:PORT or ray://HOST:PORT (or auto)")
    try:
        with socket.create_connection((match.group(1), int(match.group(2))), timeout=RAY_CONNECT_SECONDS):
            pass
    except OSError as error:
        raise Invalid(f"nothing answers at the Ray address {address} ({error.strerror or error}); start the cluster "
                      "or fix --ray-address") from None


def choose_mode(request: RunRequest, task: Task[Any], data: Input) -> Mode:
    """Ray when asked (a model applied by actors, or a fit whose task spreads its work over Ray workers); streamed
    when asked with a model; out of core when asked, or when the data is too large to read and the task can;
    otherwise in memory."""
    if request.wants_ray and not request.model and not request.stream:
        if task.fits_on_ray:
            return Mode.ray_fit
        raise Invalid(f"--executor ray applies a registered model in batches (pass --model NAME), or fits a task "
                      f"that spreads its work over Ray workers; task {task.name!r} fits in this process: drop "
                      "--executor ray")
    if request.stream or request.wants_ray:
        if request.model:
            return Mode.ray if request.wants_ray else Mode.streamed
        if runs_lazily(task):
            if request.wants_ray:
                raise Invalid(f"task {task.name!r} runs out of core in this process; --executor ray applies a model "
                              "in batches: drop --executor ray")
            return Mode.out_of_core
        raise Invalid(f"--stream applies a registered model batch by batch; pass --model NAME (task {task.name!r} "
                      "cannot run out of core without one)")
    if data.partial:
        return Mode.out_of_core
    return Mode.in_memory


def _check_options(request: RunRequest, mode: Mode, data: Input) -> None:
    for option, value in request.given().items():
        if mode not in HONOURED[option]:
            reason = REFUSALS.get(option, f"--{option} does not apply to a {{mode}} run")
            raise Invalid(reason.format(mode=mode.value))
        if option in ("encoding", "delimiter") and not _reads_csv(data):
            raise Invalid(f"--{option} {value!r} applies to CSV files; {data.origin} is not one: drop --{option}")
        if option == "name" and data.dataset is not None:
            raise Invalid(f"--name names the dataset a file is registered as, and {data.dataset.ref} is already "
                          "registered: drop --name")
        if option in ("overwrite", "format") and request.out is None:
            raise Invalid(f"--{option} is about what --out holds, and there is no --out: pass --out, or drop "
                          f"--{option}")
    if mode in (Mode.streamed, Mode.ray):
        if request.out is None:
            raise Invalid("a streamed run writes its output as parts; pass --out FOLDER (or an s3:// prefix)")
        if data.source is None:
            raise Invalid(f"--stream reads its input in batches from files; {data.origin} is held in memory: run "
                          "without --stream")


def _reads_csv(data: Input) -> bool:
    if data.dataset is not None:
        return False
    if data.source is not None:
        return data.source.format == "csv"
    return Path(data.origin).suffix.lower() in (".csv", ".tsv", ".txt")


def resolve_input(request: RunRequest, registry: Registry) -> Input:
    """The data a request names: a frame, a registered dataset, or files (read whole when they fit)."""
    import polars as pl

    if isinstance(request.data, pl.DataFrame):
        return Input(request.name or "data", request.origin or "memory", request.data)
    location = request.data
    if not location.strip():
        raise Invalid("--data is empty; pass a file, a folder of parts, an s3:// URI or a registered dataset")
    dataset = registered(location, registry)
    if dataset is not None:
        return dataset_input(dataset, registry, request)
    return file_input(location, request)


def registered(location: str, registry: Registry) -> DatasetRecord | None:
    """The registered dataset `location` names (`NAME`, `NAME@3`, `NAME@alias`), if it names one; an error when it
    also names a file, or names a version the dataset lacks."""
    from workbench.workspace import NAME_PATTERN

    name = location.partition("@")[0]
    if not NAME_PATTERN.fullmatch(name) or not registry.exists() or not registry.datasets.has(name):
        return None
    if Path(location).exists():
        if registry.datasets.get(name).source in (location, str(Path(location).resolve())):
            return None  # the dataset was registered from this very file: it is the file, read afresh
        raise Invalid(f"--data {location} names both the file ./{location} and the registered dataset {name}; "
                      f"pass ./{location} for the file or {name}@latest for the dataset")
    return registry.datasets.get(location)


def dataset_input(dataset: DatasetRecord, registry: Registry, request: RunRequest) -> Input:
    """A registered version, read from the workspace (a copy) or from where its parts are (a reference)."""
    from workbench.io.sources import open_source

    source = registry.datasets.source(dataset) if dataset.storage == "reference" else open_source(str(dataset.path))
    return _source_input(source, dataset.name, dataset.ref, request, dataset)


def file_input(location: str, request: RunRequest) -> Input:
    """Files: a small one read whole with its checks; parts, large files and object stores as a source."""
    from workbench.io.sources import copy_limit_bytes, is_multipart, open_source
    from workbench.io.tables import read_table
    from workbench.registry.datasets import dataset_name

    name = request.name or dataset_name(location)
    path = Path(location)
    tabular = path.suffix.lower() in (".csv", ".tsv", ".parquet", ".pq")
    streaming = request.stream or _scores_on_ray(request)
    if is_multipart(location) or path.is_file() and tabular and (
            streaming or path.stat().st_size > copy_limit_bytes() or path.suffix.lower() in (".parquet", ".pq")):
        source = open_source(location, request.delimiter, request.encoding)
        return _source_input(source, name, source.uri, request)
    frame = read_table(location, encoding=request.encoding or "utf-8", delimiter=request.delimiter)
    return Input(name, location, frame)


def _source_input(source: DataSource, name: str, origin: str, request: RunRequest,
                  dataset: DatasetRecord | None = None) -> Input:
    """A source read whole when it fits in memory and the run is not streamed; else only its first rows."""
    source.check_parts()
    limit = number_setting("WORKBENCH_MEMORY_LIMIT_MB", MEMORY_LIMIT_MB) * 1024 * 1024
    streaming = request.stream or _scores_on_ray(request)
    large = source.too_large_to_read()
    if streaming or (large and runs_lazily(request.task) and not request.model):
        return Input(name, origin, _head(source), partial=True, source=source, dataset=dataset)
    needed = source.memory_bytes()
    if needed > limit:
        raise Invalid(f"{origin} would take about {needed / 2**30:,.1f} GiB in memory (over WORKBENCH_MEMORY_LIMIT_MB="
                      f"{limit / 2**20:,.0f}); apply a model to it with --stream, or raise the limit")
    return Input(name, origin, _read(source), source=source, dataset=dataset)


def _scores_on_ray(request: RunRequest) -> bool:
    """Ray asked for to apply a model in batches (a fit on Ray reads its data whole, like one in memory)."""
    return request.wants_ray and (request.model is not None or not request.task.fits_on_ray)


def _head(source: DataSource) -> pl.DataFrame:
    frame = _guarded(source, lambda: source.head(SAMPLE_ROWS))
    if frame.height == 0:
        raise Invalid(f"{source.location} has no rows; pass data with at least one row")
    return frame


def _read(source: DataSource) -> pl.DataFrame:
    frame = _guarded(source, source.read)
    if frame.height == 0:
        raise Invalid(f"{source.location} has no rows; pass data with at least one row")
    return frame


def _guarded(source: DataSource, read: Any) -> pl.DataFrame:
    """Reading parts, with a reader's failure (pyarrow's, polars' panics included) as a one-line error."""
    from workbench.errors import first_line

    try:
        return cast("pl.DataFrame", read())
    except (OSError, ValueError, ArithmeticError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise Invalid(f"{source.location} cannot be read: {first_line(error)}") from None
    except BaseException as error:
        if type(error).__name__ != "PanicException":
            raise
        raise Invalid(f"{source.location} cannot be read: {first_line(error)} (a type this reader does not "
                      "support, such as nested binary columns)") from None
