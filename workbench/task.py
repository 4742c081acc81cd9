"""The Task API: what a task declares, what it receives (`RunContext`) and returns (`Result`)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from workbench.errors import WorkbenchError
from workbench.progress import ProgressReporter

if TYPE_CHECKING:
    import polars as pl

    from workbench.registry import ModelRecord, Registry
    from workbench.reports import RecordedRun, ReportSection

COLUMN_ROLE = "column_role"
FIT_ONLY = "fit_only"


def column(role: str, description: str, default: Any = ..., fit_only: bool = False, **kwargs: Any) -> Any:
    """A parameter that names a column of the data (or a list of columns) playing `role`.

    `fit_only` columns (a target, say) are not expected in the data a registered model is applied to.
    """
    extra = {COLUMN_ROLE: role, FIT_ONLY: fit_only}
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
class RunContext:
    """What a task may use while it runs."""

    registry: Registry
    progress: ProgressReporter = field(default_factory=ProgressReporter)
    seed: int = 0
    out_dir: Path | None = None
    model: ModelRecord | None = None

    @cached_property
    def device(self) -> str:
        """`cuda` when torch sees a GPU, else `cpu` (imports torch only when asked)."""
        try:
            import torch
        except ImportError:
            return "cpu"
        return "cuda" if torch.cuda.is_available() else "cpu"

    @cached_property
    def work_dir(self) -> Path:
        """A scratch folder inside the workspace, so finished artifacts can be moved, not copied."""
        return Path(tempfile.mkdtemp(prefix="run-", dir=self.registry.scratch_dir))

    def new_model_dir(self, label: str = "model") -> Path:
        """A fresh empty folder to write a model artifact into."""
        return Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.work_dir))


class Task:
    """Base class of every task: set the class attributes and implement `run`."""

    name: ClassVar[str]
    title: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = TaskParams
    applies_models: ClassVar[bool] = False

    def run(self, data: pl.DataFrame, params: Any, ctx: RunContext) -> Result:
        raise NotImplementedError

    def report(self, run: RecordedRun) -> list[ReportSection]:
        """Sections this task adds to the report of one of its recorded runs; none by default."""
        return []

    @classmethod
    def column_roles(cls) -> dict[str, str]:
        """Parameter name to column role, for the parameters that name columns."""
        roles = {}
        for name, info in cls.Params.model_fields.items():
            extra = info.json_schema_extra
            if isinstance(extra, dict) and COLUMN_ROLE in extra:
                roles[name] = str(extra[COLUMN_ROLE])
        return roles

    def check_columns(self, data: pl.DataFrame, params: BaseModel, applying: bool = False) -> None:
        """Refuse a run whose column parameters name columns the data lacks."""
        for param in self.column_roles():
            extra = self.Params.model_fields[param].json_schema_extra
            if applying and extra.get(FIT_ONLY):
                continue
            value = getattr(params, param)
            wanted = value if isinstance(value, list) else [value] if value is not None else []
            missing = [name for name in wanted if name not in data.columns]
            if missing:
                raise WorkbenchError(
                    f"column {missing[0]!r} (parameter {param}) is not in the data; "
                    f"columns are: {', '.join(data.columns)}"
                )
