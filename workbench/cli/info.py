"""`workbench plugins|tasks|settings`: what is installed, what each task takes, and the environment in force."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from workbench import plugins
from workbench.cli.app import app, console
from workbench.cli.render import plain, table


@app.command("plugins")
def list_plugins(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List installed plugins with their versions, hooks and status (`needs: pip install ...` when their libraries
    are missing)."""
    infos = plugins.plugins()
    if as_json:
        print(json.dumps([{**info.__dict__, "status": info.status} for info in infos], indent=2))
        return
    rows = [[info.name, info.version or "", ", ".join(info.hooks), info.status] for info in infos]
    console.print(table(None, ["plugin", "version", "hooks", "status"], rows))


@app.command("tasks")
def list_tasks(name: Annotated[str | None, typer.Argument(help="Show one task's parameters.")] = None) -> None:
    """List tasks, or show one task's parameters with types, defaults and descriptions."""
    from workbench.params import describe_params

    if name is None:
        rows = [[task.name, task.title, task.summary] for task in plugins.tasks().values()]
        console.print(table(None, ["task", "title", "summary"], rows))
        return
    task = plugins.get_task(name)
    console.print(f"[bold]{task.name}[/bold]: ", end="")
    plain(f"{task.title}\n{task.summary}")
    if task.applies_models:
        plain("Fits a model: `--register NAME` keeps it; `--model NAME[@version|alias]` applies one.")
    rows = [[info.name + (" (column)" if info.column_role else ""), info.type,
             "required" if info.required else repr(info.default), info.description]
            for info in describe_params(task.Params)]
    console.print(table("Parameters (--param name=value)", ["name", "type", "default", "description"], rows))


@app.command("settings")
def list_settings() -> None:
    """Every WORKBENCH_* environment variable: its value here, its default and what it does."""
    from workbench.registry import Registry
    from workbench.settings import rows

    shown = rows()
    console.print(table(None, ["variable", "value", "default", "description"],
                        [[row["variable"], row["value"], row["default"], row["description"]] for row in shown]))
    registry = Registry()
    plain(f"workspace: {registry.home}" + ("" if registry.exists() else " (not created yet)"))
    plain(f"registry: {registry.url}")
