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

    from workbench.sdk.task import Result, RunContext, Task

# Raised when a hook's name or arguments change in a way existing plugins would notice.
HOOK_API_VERSION = 1

# What `register_tasks` receives: call it once per task, with an instance.
Register = Callable[["Task[Any]"], None]

hookspec = pluggy.HookspecMarker("workbench")
hookimpl = pluggy.HookimplMarker("workbench")


@hookspec
def register_tasks(register: Register) -> None:
    """Call `register(task)` once for each task this plugin offers, with an instance: `register(MyTask())`."""


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Add extra commands to the `workbench` CLI (a Typer app)."""


@hookspec
def before_task_run(task: Task, params: Any, ctx: RunContext) -> None:
    """Called once the run is recorded and checked, just before it executes (in every mode: in memory, out of core,
    streamed, Ray, or in a worker). Raising stops the run, which is then recorded failed."""


@hookspec
def after_task_run(task: Task, params: Any, ctx: RunContext, result: Result) -> None:
    """Called when a run has succeeded: its dataset, models and saved tables registered, its outputs written and
    still there (`ctx.run_id`, `ctx.outputs`). An exception here is reported, and the run stays succeeded."""


@hookspec
def on_task_error(task: Task, params: Any, ctx: RunContext, error: BaseException) -> None:
    """Called when a run failed or was cancelled, after it is recorded so; the error is raised afterwards. An
    exception here is reported and does not change the run's status."""


@hookspec
def after_alias_change(model: str, alias: str, version: int | None) -> None:
    """Called when `workbench models alias|unalias` pointed `model@alias` at `version` (None: removed)."""
