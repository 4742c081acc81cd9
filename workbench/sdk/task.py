"""The Task API: what a task declares (`Task`, `TaskParams`), receives (`RunContext`) and returns (`Result`).

Plugins import these through `workbench.sdk`.
"""

from __future__ import annotations

import tempfile
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from workbench.errors import Invalid
from workbench.sdk.cache import DiskCache, NamespacedCache
from workbench.sdk.columns import KINDS
from workbench.sdk.progress import ProgressReporter
from workbench.workspace import Workspace, inside, validate_name

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from workbench.registry.records import DatasetRecord, ModelRecord, RunRecord

COLUMN_ROLE = "column_role"
FIT_ONLY = "fit_only"
COLUMN_KIND = "column_kind"
ADVANCED = "advanced"
VALUES_OF = "values_of"
KEYS_OF = "keys_of"
SKIP_KEY = "skip_key"


def column(role: str, description: str, default: Any = ..., fit_only: bool = False, kind: str | None = None,
           **kwargs: Any) -> Any:
    """A parameter that names a column of the data (or a list of columns) playing `role`.

    `fit_only` columns (a target, say) are not expected in the data a registered model is applied to.
    `kind` (`numeric`, `text`, `date`, `categorical`) is the type of column the parameter accepts.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"column kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
    extra: dict[str, JsonValue] = {COLUMN_ROLE: role, FIT_ONLY: fit_only, COLUMN_KIND: kind}
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


def advanced(default: Any, description: str, **kwargs: Any) -> Any:
    """A parameter most runs leave alone: the dashboard folds it under "Advanced"."""
    return Field(default, description=description, json_schema_extra={ADVANCED: True}, **kwargs)


def value_of(column_param: str, default: Any, description: str, **kwargs: Any) -> Any:
    """A parameter that takes one of the values of the column `column_param` names (the control arm of the
    treatment column, say): the dashboard offers those values."""
    return Field(default, description=description, json_schema_extra={VALUES_OF: column_param}, **kwargs)


def per_value_of(column_param: str, default: Any, description: str, skip: str | None = None, **kwargs: Any) -> Any:
    """A mapping keyed by the values of the column `column_param` names (a cost per arm, say), but the value
    parameter `skip` holds (the control): the dashboard offers a table with one row per value."""
    extra: dict[str, JsonValue] = {KEYS_OF: column_param, SKIP_KEY: skip, ADVANCED: bool(kwargs.pop("advanced",
                                                                                                    False))}
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


class TaskParams(BaseModel):
    """Base for task parameters: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class ModelArtifact:
    """A model folder a task wrote; the runner registers it when the run asks for `--register`."""

    path: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    suffix: str = ""


@dataclass
class Result:
    """Everything a run produces: tables, metrics, charts, a markdown summary and models."""

    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    charts: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    models: list[ModelArtifact] = field(default_factory=list)
    registered: list[ModelRecord] = field(default_factory=list)


@dataclass
class RecordedRun:
    """One finished run: its record plus the tables, charts (Vega-Lite specs), metrics and summary it wrote."""

    record: RunRecord
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    folder: Path | None = None  # where they were read from


@dataclass
class ReportSection:
    """A task's own part of a report: markdown text and, optionally, a table."""

    title: str
    text: str = ""
    table: pl.DataFrame | None = None


class RunContext:
    """What a task may use while it runs, and its only door to the workspace.

    `seed`/`rng` (every random choice starts here), `progress`, `device`, `model` (the verified registered model
    in apply mode, a read-only copy), `given` (the parameter names the user set), `scratch_dir` and
    `new_model_dir()` (removed when the run ends), `cache(namespace)` (kept across runs), `state_dir(name)` (a
    folder kept across runs) and `storage_path()` for paths a parameter names.

    For hooks: `run_id`, `user`, `records` (the run's registry, see `workbench.sdk.records`), and once the run has
    succeeded `record` (the run as recorded), `datasets` (the registered versions it read and saved) and `outputs`
    (its folder of tables, charts, metrics and summary).
    """

    def __init__(self, task: str, workspace: Workspace, scratch_dir: Path, seed: int = 0,
                 progress: ProgressReporter | None = None, model: ModelRecord | None = None,
                 given: frozenset[str] = frozenset(), run_id: int | None = None, user: str | None = None) -> None:
        self.task, self.seed, self.model = task, seed, model
        self.given = given  # the parameters the user set (others are defaults, or the applied model's)
        self.progress = progress or ProgressReporter()
        self.scratch_dir = scratch_dir
        self.run_id, self.user = run_id, user
        self.ray_address: str | None = None  # with --executor ray and a task that `fits_on_ray`: Ray is connected
        self.record: RunRecord | None = None
        self.datasets: list[DatasetRecord] = []
        self.outputs: Path | None = None
        self.records: Any = None  # a `workbench.sdk.records.Records` over the run's registry, set by the runner
        self._workspace = workspace
        self._cache: DiskCache | None = None

    @cached_property
    def rng(self) -> np.random.Generator:
        """A NumPy generator seeded with the run's seed."""
        import numpy as np

        return np.random.default_rng(self.seed)

    @cached_property
    def device(self) -> str:
        """`cuda` when torch sees a GPU, else `cpu` (imports torch only when asked)."""
        try:
            import torch
        except ImportError:
            return "cpu"
        return "cuda" if torch.cuda.is_available() else "cpu"

    def new_model_dir(self, label: str = "model") -> Path:
        """A fresh empty folder (in the run's scratch space) to write a model artifact into."""
        return Path(tempfile.mkdtemp(prefix=f"{validate_name(label, 'folder label')}-", dir=self.scratch_dir))

    def cache(self, namespace: str) -> NamespacedCache:
        """A disk cache kept across runs (embeddings, teacher answers), its keys private to this task and namespace."""
        if self._cache is None:
            self._cache = DiskCache(self._workspace.cache_file)
        return NamespacedCache(self._cache, f"{self.task}:{namespace}")

    def state_dir(self, name: str) -> Path:
        """A folder this task keeps between runs (e.g. a study shared by workers), created on demand."""
        return self._workspace.state_dir(self.task, name)

    def storage_path(self, path: str, state: str) -> Path:
        """Where a path a parameter names lives: inside `state_dir(state)` when relative; an absolute path must lie
        inside the workspace (a parameter never writes elsewhere)."""
        if not path.strip():
            raise Invalid("an empty path was given; name a file or drop the parameter")
        if Path(path).expanduser().is_absolute():
            return inside(self._workspace.home, Path(path).expanduser())
        return inside(self.state_dir(state), path)

    def close(self) -> None:
        """Release what the run opened (the runner calls this when the run ends)."""
        if self._cache is not None:
            self._cache.close()
            self._cache = None


P = TypeVar("P", bound=TaskParams)


class Task(Generic[P]):
    """Base class of every task: subclass `Task[MyParams]`, set the class attributes and implement `run`."""

    name: ClassVar[str]
    title: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[TaskParams]] = TaskParams
    applies_models: ClassVar[bool] = False
    # Metrics shown as tiles, the first one ranking runs on the leaderboard (see `ranking`); the rest go in a table.
    headline: ClassVar[tuple[str, ...]] = ()
    # A task whose fit spreads its own work over Ray workers when run with --executor ray (`ctx.ray_address` is
    # then set and Ray connected); others refuse --executor ray without a model.
    fits_on_ray: ClassVar[bool] = False
    # A task that applies models and can score data in batches names the table its batches make (see
    # `batch_scorer`); `gpu_batches` asks for GPU workers on a Ray cluster that has them.
    batch_table: ClassVar[str | None] = None
    gpu_batches: ClassVar[bool] = False
    # Words in this task's metric names shown in a fixed spelling (`{"ndcg": "NDCG"}`), metric names holding a
    # year (shown without a thousands separator), and the types its skops artifacts may hold (`load_skops`).
    metric_words: ClassVar[dict[str, str]] = {}
    year_metrics: ClassVar[frozenset[str]] = frozenset()
    trusted_types: ClassVar[frozenset[str]] = frozenset()
    # The parameters applying a registered model uses, beside its non-`fit_only` column parameters (the dashboard
    # shows only these in apply mode).
    apply_params: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """`class OneHot(Task[OneHotParams])` sets `OneHot.Params`."""
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            arguments = typing.get_args(base)
            if typing.get_origin(base) is Task and arguments and isinstance(arguments[0], type):
                cls.Params = arguments[0]

    def check(self, data: pl.DataFrame, params: P, model: ModelRecord | None) -> None:
        """Refuse bad data or parameters (raise `WorkbenchError`) before the run starts and anything is written.

        Keep it cheap: no model loading. `model` is the verified model being applied, if any.
        """

    def run(self, data: pl.DataFrame, params: P, ctx: RunContext) -> Result:
        raise NotImplementedError

    def batch_scorer(self, params: P, model: ModelRecord, device: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
        """The function from one batch of rows to the same rows scored, in the same order (the `batch_table`).

        Built once per process or Ray actor (load the model here). A row's output must not depend on the other
        rows of its batch: streamed and Ray runs give exactly what the in-memory run gives.
        """
        raise NotImplementedError(f"task {self.name!r} does not score data in batches")

    def run_lazy(self, data: pl.LazyFrame, params: P, ctx: RunContext) -> Result | None:
        """The task on data too large for memory, as a LazyFrame (polars' streaming engine); None if it cannot."""
        return None

    def ranking(self, metrics: dict[str, Any]) -> tuple[str, bool] | None:
        """The metric runs of this task are ranked by, and whether lower is better: the first headline metric the
        run recorded as a number (lower is better when its name says loss, error, rmse or mae)."""
        for name in self.headline:
            value = metrics.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return name, any(word in name for word in ("loss", "error", "rmse", "mae"))
        return None

    def metric_units(self, params: dict[str, Any]) -> dict[str, str]:
        """Units to show after metrics, by metric name, for a run with these parameters (e.g. `$` after a value)."""
        return {}

    def report(self, run: RecordedRun) -> list[ReportSection]:
        """Sections this task adds to the report of one of its recorded runs; none by default."""
        return []

    @classmethod
    def column_params(cls) -> dict[str, dict[str, Any]]:
        """Parameter name to its column settings (role, fit_only, kind), for the parameters that name columns."""
        found = {}
        for name, info in cls.Params.model_fields.items():
            extra = info.json_schema_extra
            if isinstance(extra, dict) and COLUMN_ROLE in extra:
                found[name] = extra
        return found

    def check_columns(self, data: pl.DataFrame, params: TaskParams, applying: bool = False) -> None:
        """Refuse a run whose column parameters name columns the data lacks, or columns of the wrong kind."""
        from workbench.sdk.columns import check_kind

        chosen = {param: self._named_columns(params, param) for param in self.column_params()}
        for param, extra in self.column_params().items():
            if applying and extra.get(FIT_ONLY):
                continue
            wanted = chosen[param]
            missing = [name for name in wanted if name not in data.columns]
            if missing:
                raise Invalid(f"column {missing[0]!r} (parameter {param}) is not in the data; "
                              f"columns are: {', '.join(data.columns)}")
            taken = frozenset(name for other, names in chosen.items() if other != param for name in names)
            for name in wanted:
                check_kind(data, name, extra.get(COLUMN_KIND), param, taken)

    @staticmethod
    def _named_columns(params: TaskParams, param: str) -> list[str]:
        value = getattr(params, param)
        return value if isinstance(value, list) else [value] if value is not None else []
