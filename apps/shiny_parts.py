"""What the Shiny report app loads once per process (registry, tasks), outside the Express file's top level."""

from __future__ import annotations

import os
from functools import cache

from workbench.registry import Registry, default_home
from workbench.reports import RecordedRun, load_run

ALL_TASKS = "(all tasks)"


def registry() -> Registry:
    return _open_registry(str(default_home()), os.environ.get("WORKBENCH_REGISTRY_URL"))


@cache
def _open_registry(home: str, url: str | None) -> Registry:
    from pathlib import Path

    return Registry(url, Path(home))


def task_choices() -> list[str]:
    """Tasks that have succeeded runs, for the filter."""
    return [ALL_TASKS, *sorted({run.task for run in registry().runs(limit=1000) if run.status == "succeeded"})]


def run_choices(task: str) -> dict[str, str]:
    """Succeeded runs (newest first) as select choices: id to a readable line."""
    runs = registry().runs(None if task == ALL_TASKS else task, limit=500)
    return {str(run.id): f"#{run.id} {run.task} · {', '.join(run.inputs)} · {run.started_at:%Y-%m-%d %H:%M}"
            for run in runs if run.status == "succeeded"}


@cache
def recorded_run(run_id: int) -> RecordedRun:
    """A finished run never changes, so each is read from disk once."""
    return load_run(registry(), run_id)
