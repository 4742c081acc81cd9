"""The plugin host: built-in default plugins and the `workbench` entry-point group, over one pluggy manager.

Like llm's and datasette's, the built-in `describe` task is a default plugin registered by module; every other
task (the built-in ones under `plugins/` included) comes through an entry point, exactly as a third party's
does. One broken plugin never stops the others, a misspelled hook is refused (`check_pending`), and a plugin
whose libraries are not installed is listed with the command that installs them.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass, field
from importlib.metadata import Distribution, PackageNotFoundError, distribution, entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from workbench.errors import Invalid, NotFound, one_line
from workbench.sdk import hookspecs
from workbench.settings import setting

if TYPE_CHECKING:
    import typer

    from workbench.sdk.task import Result, RunContext, Task

ENTRY_POINT_GROUP = "workbench"
DEFAULT_PLUGINS = ("workbench.builtin.describe",)
DISTRIBUTION = "dsworkbench"

pm = pluggy.PluginManager("workbench")
pm.add_hookspecs(hookspecs)


@dataclass
class PluginInfo:
    """What `workbench plugins` shows for one plugin."""

    name: str
    version: str | None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    needs: str | None = None  # the command that installs its missing libraries

    @property
    def status(self) -> str:
        return self.error or (f"needs: {self.needs}" if self.needs else "ok")


_infos: dict[str, PluginInfo] = {}
_task_plugin: dict[str, str] = {}
_loaded = False


def load_plugins() -> None:
    """Load the default plugins and every entry-point plugin once, honouring the allow- and block-lists."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    allowed = setting("WORKBENCH_LOAD_PLUGINS")
    blocked = set(setting("WORKBENCH_DISABLE_PLUGINS") or [])
    for module_name in DEFAULT_PLUGINS:
        name = module_name.rsplit(".", 1)[-1]
        if name not in blocked and not pm.has_plugin(name):
            register_plugin(importlib.import_module(module_name), name, _own_version())
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
        register_plugin(plugin, entry_point.name, version, missing_requirements(entry_point.dist, entry_point.name,
                                                                                   plugin))


def _own_version() -> str:
    from workbench import __version__

    return __version__


def missing_requirements(dist: Distribution | None, name: str, plugin: object) -> str | None:
    """`pip install 'DIST[extra]'` when the plugin's distribution has an extra named after the plugin (or after its
    package, `workbench_featsel` -> `featsel`) whose requirements are not all installed; else None."""
    if dist is None or not dist.requires:
        return None
    package = getattr(plugin, "__name__", "").split(".")[0].removeprefix("workbench_")
    extras = {name, package}
    missing = []
    for line in dist.requires:
        requirement, _, marker = line.partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if extra is None or extra.group(1) not in extras:
            continue
        wanted = re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0]
        try:
            distribution(wanted)
        except PackageNotFoundError:
            missing.append((wanted, extra.group(1)))
    if not missing:
        return None
    return f"pip install '{dist.metadata['Name']}[{missing[0][1]}]'"


def register_plugin(plugin: ModuleType | object, name: str, version: str | None = None,
                    needs: str | None = None) -> None:
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
    _infos[name] = PluginInfo(name, version, hooks, needs=needs)
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
    for implementation in pm.hook.register_tasks.get_hookimpls():
        def register(task: Task[Any], plugin: str = implementation.plugin_name) -> None:
            if isinstance(task, type):
                print(f"workbench: {task.__name__} was registered as a class and was skipped; "
                      f"call register({task.__name__}()) with an instance", file=sys.stderr)
                return
            if task.name in _tasks_cache:
                print(f"workbench: task {task.name!r} is registered twice; keeping the first", file=sys.stderr)
                return
            _tasks_cache[task.name] = task
            _task_plugin[task.name] = plugin

        implementation.function(register=register)
    return _tasks_cache


def get_task(name: str) -> Task[Any]:
    """The task called `name`, or an error that lists the known ones (or says how to install what it needs)."""
    known = tasks()
    if name not in known:
        raise NotFound(f"unknown task {name!r}; known tasks: {', '.join(sorted(known)) or 'none'}")
    info = _infos.get(_task_plugin.get(name, ""))
    if info is not None and info.needs:
        raise Invalid(f"task {name!r} needs libraries that are not installed: {info.needs}")
    return known[name]


def plugin_of(task: str) -> PluginInfo | None:
    """The plugin that registered `task` (its name and version go into run records and exports)."""
    tasks()
    return _infos.get(_task_plugin.get(task, ""))


def register_commands(cli: typer.Typer) -> None:
    """Let plugins add their own CLI commands."""
    load_plugins()
    pm.hook.register_commands(cli=cli)


def before_task_run(task: Task[Any], params: Any, ctx: RunContext) -> None:
    """Every plugin's `before_task_run`; one that raises stops the run (a plugin may veto a run)."""
    pm.hook.before_task_run(task=task, params=params, ctx=ctx)


def after_task_run(task: Task[Any], params: Any, ctx: RunContext, result: Result) -> None:
    """Every plugin's `after_task_run`; the run has succeeded, so one that raises is reported, not raised."""
    _call_each("after_task_run", task=task, params=params, ctx=ctx, result=result)


def on_task_error(task: Task[Any], params: Any, ctx: RunContext, error: BaseException) -> None:
    """Every plugin's `on_task_error`; the run is already marked failed, so one that raises is reported only."""
    _call_each("on_task_error", task=task, params=params, ctx=ctx, error=error)


def after_alias_change(model: str, alias: str, version: int | None) -> None:
    """Every plugin's `after_alias_change` (reported, not raised: the alias has moved)."""
    _call_each("after_alias_change", model=model, alias=alias, version=version)


def _call_each(hook: str, **arguments: Any) -> None:
    """Call every implementation of `hook` on its own, so one plugin's failure neither stops nor hides another's."""
    for implementation in getattr(pm.hook, hook).get_hookimpls():
        try:
            implementation.function(**{name: arguments[name] for name in implementation.argnames})
        except Exception as error:  # noqa: BLE001 - reported: the run's outcome is already recorded
            print(f"workbench: plugin {implementation.plugin_name!r} failed in {hook} ({one_line(error)})",
                  file=sys.stderr)
