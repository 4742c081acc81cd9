"""The plugin manager: discovers plugins through the `workbench` entry-point group."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from workbench import hookspecs
from workbench.errors import NotFound, one_line

if TYPE_CHECKING:
    import typer

    from workbench._task import Result, RunContext, Task

ENTRY_POINT_GROUP = "workbench"

pm = pluggy.PluginManager("workbench")
pm.add_hookspecs(hookspecs)


@dataclass
class PluginInfo:
    """What `workbench plugins` shows for one plugin."""

    name: str
    version: str | None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None


_infos: dict[str, PluginInfo] = {}
_loaded = False


def _names_from_env(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def load_plugins() -> None:
    """Load every entry-point plugin once, honouring the allow- and block-list variables."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    allowed = _names_from_env("WORKBENCH_LOAD_PLUGINS")
    blocked = _names_from_env("WORKBENCH_DISABLE_PLUGINS") or set()
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if (allowed is not None and entry_point.name not in allowed) or entry_point.name in blocked:
            continue
        if pm.has_plugin(entry_point.name):
            continue
        version = entry_point.dist.version if entry_point.dist else None
        try:
            plugin = entry_point.load()
        except Exception as error:  # noqa: BLE001 - one broken plugin must not stop the others
            _report_broken(entry_point.name, version, error)
            continue
        register_plugin(plugin, entry_point.name, version)


def register_plugin(plugin: ModuleType | object, name: str, version: str | None = None) -> None:
    """Register a plugin object (usually a module); a misspelled hook or another hook API version is refused."""
    try:
        wanted = getattr(plugin, "WORKBENCH_HOOK_API", hookspecs.HOOK_API_VERSION)
        if wanted != hookspecs.HOOK_API_VERSION:
            raise RuntimeError(f"written for hook API {wanted}; this workbench has {hookspecs.HOOK_API_VERSION}: "
                               "install a version of the plugin made for it")
        pm.register(plugin, name=name)
        pm.check_pending()
    except Exception as error:  # noqa: BLE001
        if pm.has_plugin(name):
            pm.unregister(name=name)
        _report_broken(name, version, error)
        return
    hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
    _infos[name] = PluginInfo(name, version, hooks)
    _tasks_cache.clear()


def unregister_plugin(name: str) -> None:
    """Remove a plugin (tests use this to undo an in-process registration)."""
    if pm.has_plugin(name):
        pm.unregister(name=name)
    _infos.pop(name, None)
    _tasks_cache.clear()


def _report_broken(name: str, version: str | None, error: BaseException) -> None:
    message = one_line(error)
    _infos[name] = PluginInfo(name, version, error=message)
    print(f"workbench: plugin {name!r} failed to load and was skipped ({message})", file=sys.stderr)


def plugins() -> list[PluginInfo]:
    """Every plugin seen, loaded or broken, sorted by name."""
    load_plugins()
    return sorted(_infos.values(), key=lambda info: info.name)


_tasks_cache: dict[str, Task[Any]] = {}


def tasks() -> dict[str, Task[Any]]:
    """Every registered task by name; a second task with a taken name, or a task class, is reported and skipped."""
    load_plugins()
    if _tasks_cache:
        return _tasks_cache

    def register(task: Task[Any]) -> None:
        if isinstance(task, type):
            print(f"workbench: {task.__name__} was registered as a class and was skipped; "
                  f"call register({task.__name__}()) with an instance", file=sys.stderr)
            return
        if task.name in _tasks_cache:
            print(f"workbench: task {task.name!r} is registered twice; keeping the first", file=sys.stderr)
            return
        _tasks_cache[task.name] = task

    pm.hook.register_tasks(register=register)
    return _tasks_cache


def get_task(name: str) -> Task[Any]:
    """The task called `name`, or an error that lists the known ones."""
    known = tasks()
    if name not in known:
        raise NotFound(f"unknown task {name!r}; known tasks: {', '.join(sorted(known)) or 'none'}")
    return known[name]


def register_commands(cli: typer.Typer) -> None:
    """Let plugins add their own CLI commands."""
    load_plugins()
    pm.hook.register_commands(cli=cli)


def before_task_run(task: Task[Any], params: Any, ctx: RunContext) -> None:
    """Every plugin's `before_task_run`."""
    pm.hook.before_task_run(task=task, params=params, ctx=ctx)


def after_task_run(task: Task[Any], params: Any, ctx: RunContext, result: Result) -> None:
    """Every plugin's `after_task_run`."""
    pm.hook.after_task_run(task=task, params=params, ctx=ctx, result=result)


def on_task_error(task: Task[Any], params: Any, ctx: RunContext, error: BaseException) -> None:
    """Every plugin's `on_task_error`."""
    pm.hook.on_task_error(task=task, params=params, ctx=ctx, error=error)
