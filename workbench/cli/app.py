"""The Typer apps every command group hangs on, the console, and opening the registry for reading or writing."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from workbench.registry import Registry

# Help texts are plain text: `[@version|alias]` and other brackets are shown as written, never as markup.
app = typer.Typer(help="A plugin-based data-science workbench over a shared dataset/model registry.",
                  no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)
datasets_app = typer.Typer(help="Registered datasets (versioned by content hash), aliases and lineage.",
                           no_args_is_help=True, rich_markup_mode=None)
models_app = typer.Typer(help="Registered models, their lineage and aliases.", no_args_is_help=True,
                         rich_markup_mode=None)
runs_app = typer.Typer(help="The record of every run: list, search, show, tag, cancel.", no_args_is_help=True,
                       rich_markup_mode=None)
apps_app = typer.Typer(help="The browser apps: a dashboard for analysts, reports for readers.", no_args_is_help=True,
                       rich_markup_mode=None)
pipeline_app = typer.Typer(help="Pipelines: named steps chained through the registry, skipped when up to date.",
                           no_args_is_help=True, rich_markup_mode=None)
app.add_typer(datasets_app, name="datasets")
app.add_typer(models_app, name="models")
app.add_typer(runs_app, name="runs")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(apps_app, name="app")

console = Console(highlight=False)
state = {"debug": False, "commands_added": False}


def existing_registry(wanted: str) -> Registry:
    """The registry for a command that changes `wanted` (a model, a run): no registry yet means it is unknown."""
    from workbench.errors import NotFound

    registry = read_registry(quiet=True)
    if registry is None:
        from workbench.workspace import default_home

        raise NotFound(f"unknown {wanted}; nothing is registered yet (no workspace at {default_home()}; "
                       "WORKBENCH_HOME chooses another)")
    registry.maintain()
    return registry


def write_registry(registry: Registry | None = None) -> Registry:
    """The registry for a command that writes: created (saying where) when new, schema current, leftovers cleared."""
    from workbench.registry import Registry

    registry = registry or Registry()
    if registry.ensure():
        print(f"workbench: created the workspace {registry.home} (WORKBENCH_HOME chooses another; "
              "`workbench settings` shows them all)", file=sys.stderr)
    registry.maintain()
    return registry


def read_registry(quiet: bool = False) -> Registry | None:
    """The registry for a command that only reads, or None (after saying so, unless `quiet`) when there is none
    yet: nothing is created. A registry made by an older release is upgraded first."""
    from workbench.registry import Registry
    from workbench.registry.schema import SCHEMA_REVISION

    registry = Registry()
    if not registry.exists():
        if not quiet:
            print(f"workbench: no workspace at {registry.home} yet, so nothing is registered there (WORKBENCH_HOME "
                  "chooses another)", file=sys.stderr)
        return None
    if registry.db.revision() != SCHEMA_REVISION:
        registry.ensure()
    return registry
