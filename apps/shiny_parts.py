"""What the Shiny report app loads once per process (registry, runs), outside the Express file's top level."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from workbench.presentation.reports import load_run
from workbench.registry import Registry
from workbench.sdk.task import RecordedRun
from workbench.workspace import default_home

ALL_TASKS = "(all tasks)"


def registry() -> Registry:
    return _open_registry(str(default_home()), os.environ.get("WORKBENCH_REGISTRY_URL"))


@cache
def _open_registry(home: str, url: str | None) -> Registry:
    registry = Registry(url, Path(home))
    if registry.exists():
        registry.ensure()  # an older registry's schema brought up to date; a missing one is not created
    return registry


def task_choices() -> list[str]:
    """Tasks that have succeeded runs, for the filter."""
    runs = registry().runs.list(status="succeeded", limit=1000) if registry().exists() else []
    return [ALL_TASKS, *sorted({run.task for run in runs})]


def run_choices(task: str) -> dict[str, str]:
    """Succeeded runs (newest first) as select choices: id to a readable line."""
    if not registry().exists():  # the report app only reads: it creates no workspace
        return {}
    runs = registry().runs.list(None if task == ALL_TASKS else task, "succeeded", limit=500)
    return {str(run.id): f"#{run.id} {run.task} · {', '.join(run.inputs)} · "
                         f"{run.started_at:%Y-%m-%d %H:%M}" if run.started_at else f"#{run.id} {run.task}"
            for run in runs}


@cache
def recorded_run(run_id: int) -> RecordedRun:
    """A finished run never changes, so each is read from disk once."""
    return load_run(registry(), run_id)
