"""workbench: a plugin-based data-science workbench over a shared dataset/model registry."""

from workbench.errors import WorkbenchError
from workbench.hookspecs import hookimpl
from workbench.task import ModelArtifact, Result, RunContext, Task, TaskParams, column

__version__ = "0.1.0"
__all__ = [
    "ModelArtifact", "Result", "RunContext", "Task", "TaskParams", "WorkbenchError", "column", "hookimpl",
]
