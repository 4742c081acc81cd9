"""What the registry recorded, for plugins that act on it: an exporter (the MLflow bridge), a notifier.

A hook gets the run's own registry as `ctx.records`; a command a plugin adds uses `records()`, the registry of
the current workspace (`WORKBENCH_HOME`, `WORKBENCH_REGISTRY_URL`). A plugin never opens the registry, nor builds
a path in the workspace, itself. Everything here reads, but `tag_run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.registry import DatasetRecord, ModelRecord, Registry, RunRecord
    from workbench.sdk.task import RecordedRun, Task


class Records:
    """Read access to one registry's runs, datasets and models, and tags on its runs."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def runs(self, since: int = 0) -> list[RunRecord]:
        """Every finished run with an id above `since`, oldest first (none when there is no workspace yet)."""
        if not self._registry.exists():
            return []
        return sorted((run for run in self._registry.runs.list(limit=None) if run.id > since and run.finished),
                      key=lambda run: run.id)

    def run(self, run_id: int) -> RecordedRun:
        """A run with what it wrote (tables, charts, metrics, summary); a run that did not succeed has its record."""
        from workbench.presentation.reports import load_run
        from workbench.sdk.task import RecordedRun

        record = self._registry.runs.get(run_id)
        return load_run(self._registry, run_id) if record.status == "succeeded" else RecordedRun(record)

    def outputs(self, run_id: int) -> Path:
        """The folder of what a succeeded run wrote (tables as Parquet, charts as Vega-Lite, metrics, summary)."""
        return self._registry.run_dir(run_id)

    def model(self, ref: str) -> ModelRecord:
        """A registered model, its artifact verified (sha256, no pickle, no link) where it lies."""
        return self._registry.models.load(ref)

    def dataset(self, ref: str) -> DatasetRecord:
        """A registered dataset version (name, version, sha256, source or URI)."""
        return self._registry.datasets.get(ref)

    def tag_run(self, run_id: int, **tags: str) -> None:
        """Set tags on a run (an empty value removes one): what a plugin says of it, e.g. `mlflow=pending`."""
        self._registry.runs.annotate(run_id, tags=tags, user="plugin")


def records() -> Records:
    """The records of the current workspace's registry (for a plugin's own commands)."""
    from workbench.registry import Registry

    registry = Registry()
    if registry.exists():
        registry.ensure()
    return Records(registry)


def installed_task(name: str) -> Task[Any]:
    """The installed task called `name` (to rebuild its batch scorer outside a run, as a model server does)."""
    from workbench import plugins

    return plugins.get_task(name)
