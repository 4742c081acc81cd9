"""The plugin SDK: everything a workbench plugin may import, and nothing else.

    from workbench.sdk import Result, Task, TaskParams, column, hookimpl

These names are stable within a `HOOK_API_VERSION`. Every other module of `workbench` is internal: the ones
behind this SDK have names starting with `_`; the host's own (`cli`, `plugins`, `runner`, `registry`,
`workspace`, `reporting`, `params`, `output`) serve the surfaces, not plugins. See docs/plugins.md.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from workbench._artifacts import load_arrays, load_skops, save_arrays, save_skops
from workbench._charts import (
    ACCENT,
    AUDIENCES,
    FONT,
    INK,
    MUTED,
    audience_config,
    render_png,
    render_svg,
    tailor_spec,
    theme,
    themed,
)
from workbench._huggingface import quiet_huggingface
from workbench._progress import ProgressBar, ProgressReporter
from workbench._task import (
    ModelArtifact,
    RecordedRun,
    ReportSection,
    Result,
    RunContext,
    Task,
    TaskParams,
    advanced,
    column,
)
from workbench.errors import Conflict, Invalid, NotFound, WorkbenchError, first_line
from workbench.hookspecs import HOOK_API_VERSION, hookimpl
from workbench.workspace import validate_name

if TYPE_CHECKING:
    from workbench._encoding import RobustOneHotEncoder
    from workbench._io import read_table, text_values
    from workbench.registry.records import ModelRecord

__all__ = [
    "ACCENT", "AUDIENCES", "Conflict", "FONT", "HOOK_API_VERSION", "INK", "Invalid", "MUTED", "ModelArtifact",
    "ModelRecord", "NotFound", "ProgressBar", "ProgressReporter", "RecordedRun", "ReportSection", "Result",
    "RobustOneHotEncoder", "RunContext", "Task", "TaskParams", "WorkbenchError", "advanced", "audience_config",
    "column", "first_line", "hookimpl", "load_arrays", "load_skops", "quiet_huggingface", "read_table", "render_png",
    "render_svg", "save_arrays", "save_skops", "tailor_spec", "text_values", "theme", "themed", "validate_name",
]

# Imported on first use, so loading a plugin (and `workbench --help`) does not import scikit-learn or SQLAlchemy.
_LAZY = {"RobustOneHotEncoder": "workbench._encoding", "text_values": "workbench._io", "read_table": "workbench._io",
         "ModelRecord": "workbench.registry.records"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'workbench.sdk' has no attribute {name!r}")
