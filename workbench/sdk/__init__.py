"""The plugin SDK: everything a workbench plugin may import, and nothing else.

    from workbench.sdk import Result, Task, TaskParams, column, hookimpl

These names are stable within a `HOOK_API_VERSION`. The contract itself lives in this package (`task`, `hookspecs`,
`progress`, `cache`, `columns`); `workbench.kit` holds helpers plugins share (encoder, artifact formats, chart
theme), re-exported here. The rest of `workbench` (the runner, the registry, the CLI, the apps' presentation) serves
the surfaces, and a plugin never imports it. See docs/plugins.md; `workbench.testing` runs a task in a test.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from workbench.errors import Conflict, Invalid, NotFound, UnsafeArtifact, WorkbenchError, first_line
from workbench.kit.artifacts import load_arrays, load_skops, save_arrays, save_skops
from workbench.kit.charts import (
    ACCENT,
    AUDIENCES,
    FONT,
    INK,
    MUTED,
    audience_config,
    render_html,
    render_png,
    render_svg,
    tailor_spec,
    theme,
    themed,
)
from workbench.kit.huggingface import checked_model, quiet_huggingface
from workbench.safety import check_folder as check_model_folder
from workbench.safety import tree_sha256
from workbench.sdk.hookspecs import HOOK_API_VERSION, Register, hookimpl
from workbench.sdk.progress import ProgressBar, ProgressReporter
from workbench.sdk.task import (
    ModelArtifact,
    RecordedRun,
    ReportSection,
    Result,
    RunContext,
    Task,
    TaskParams,
    advanced,
    column,
    per_value_of,
    value_of,
)
from workbench.settings import setting
from workbench.workspace import validate_name

if TYPE_CHECKING:
    from workbench.io.tables import read_table, text_values
    from workbench.kit.encoding import RobustOneHotEncoder
    from workbench.registry.records import ModelRecord

__all__ = [
    "ACCENT", "AUDIENCES", "Conflict", "FONT", "HOOK_API_VERSION", "INK", "Invalid", "MUTED", "ModelArtifact",
    "ModelRecord", "NotFound", "ProgressBar", "ProgressReporter", "RecordedRun", "Register", "ReportSection", "Result",
    "RobustOneHotEncoder", "RunContext", "Task", "TaskParams", "UnsafeArtifact", "WorkbenchError", "advanced",
    "audience_config", "check_model_folder", "checked_model", "column", "first_line", "hookimpl", "load_arrays",
    "load_skops", "quiet_huggingface", "read_table", "render_html", "render_png", "render_svg", "save_arrays",
    "per_value_of", "save_skops", "setting", "tailor_spec", "text_values", "theme", "themed", "tree_sha256",
    "validate_name", "value_of",
]

# Imported on first use, so loading a plugin (and `workbench --help`) does not import scikit-learn or SQLAlchemy.
_LAZY = {"RobustOneHotEncoder": "workbench.kit.encoding", "text_values": "workbench.io.tables",
         "read_table": "workbench.io.tables", "ModelRecord": "workbench.registry.records"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'workbench.sdk' has no attribute {name!r}")
