"""The hooks a workbench plugin can implement. Each is optional; implement them with `@hookimpl`.

A plugin may state the hook API it was written for with a module attribute `WORKBENCH_HOOK_API = 1`;
a plugin written for another version is refused with a message, not half-loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer

    from workbench._task import Result, RunContext, Task

# Raised when a hook's name or arguments change in a way existing plugins would notice.
HOOK_API_VERSION = 1

hookspec = pluggy.HookspecMarker("workbench")
hookimpl = pluggy.HookimplMarker("workbench")


@hookspec
def register_tasks(register: Callable[[Task[Any]], None]) -> None:
    """Call `register(task)` once for each task this plugin offers, with an instance: `register(MyTask())`."""


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Add extra commands to the `workbench` CLI (a Typer app)."""


@hookspec
def before_task_run(task: Task, params: Any, ctx: RunContext) -> None:
    """Called after parameters and data are validated, just before `task.run`."""


@hookspec
def after_task_run(task: Task, params: Any, ctx: RunContext, result: Result) -> None:
    """Called after a run succeeded and its models were registered."""


@hookspec
def on_task_error(task: Task, params: Any, ctx: RunContext, error: BaseException) -> None:
    """Called when `task.run` raised; the error is re-raised afterwards."""
