"""What the Shiny report app loads once per process (registry, runs), outside the Express file's top level."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
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
    """A finished run's outputs never change, so each is read from disk once."""
    return load_run(registry(), run_id)


def fresh_run(run_id: int) -> RecordedRun:
    """The run's outputs with its record read again (its title, commentary and tags may have changed)."""
    return replace(recorded_run(run_id), record=registry().runs.get(run_id))


def reader(headers: Mapping[str, str]) -> str:
    """Who is saving a title or commentary: the signing-in proxy's header (WORKBENCH_USER_HEADER) when one is
    configured, else the operating-system user running the app."""
    from workbench.errors import Forbidden
    from workbench.identity import current_user
    from workbench.settings import setting

    header = setting("WORKBENCH_USER_HEADER")
    if not header:
        return current_user()
    user = headers.get(header.lower(), "").strip()
    if not user:
        raise Forbidden(f"sign in first: this app takes who you are from the {header} header, and this request "
                        "has none")
    return user[:128]
