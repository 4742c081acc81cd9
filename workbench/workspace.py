"""The workspace folder (`WORKBENCH_HOME`): the one place that knows where each kind of file lives.

Nothing else in the workbench builds a path inside the workspace; tasks reach it only through their
`RunContext` (scratch, cache, state folders).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from workbench.errors import Invalid

# One rule for every name: datasets, models, aliases, studies, state folders. Full match only.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def validate_name(name: str, kind: str = "name") -> str:
    """Refuse a name that could escape the workspace or break a reference (`name@version`)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise Invalid(f"invalid {kind} {name!r}: use letters, digits, '.', '_' and '-', starting with a letter or "
                      "digit (no path separators, no '..', no spaces or newlines, at most 128 characters)")
    return name


def default_home() -> Path:
    """`WORKBENCH_HOME`, else `./.workbench`."""
    return Path(os.environ.get("WORKBENCH_HOME", ".workbench")).resolve()


class Workspace:
    """The layout of one workspace folder."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home).resolve()

    @property
    def database_file(self) -> Path:
        return self.home / "registry.db"

    @property
    def staging_dir(self) -> Path:
        """Files being registered: hashed here, then moved into place inside the inserting transaction."""
        return self.home / "staging"

    @property
    def scratch_dir(self) -> Path:
        return self.home / "scratch"

    @property
    def cache_file(self) -> Path:
        return self.home / "cache" / "cache.sqlite"

    @property
    def reports_app_file(self) -> Path:
        """Where `workbench app shiny` leaves its address, so the dashboard links to it on whatever port."""
        return self.home / "apps" / "reports.json"

    def run_scratch(self, run_id: int) -> Path:
        """A run's scratch folder; removed when the run ends, or when the registry finds the run dead."""
        return self.scratch_dir / f"run-{run_id}"

    def run_dir(self, run_id: int) -> Path:
        """What a run wrote: tables, metrics, charts and summary."""
        return self.home / "runs" / str(int(run_id))

    def dataset_file(self, name: str, version: int) -> str:
        """A dataset version's Parquet file, relative to the home (as stored in the registry)."""
        return f"datasets/{validate_name(name, 'dataset name')}/v{int(version)}.parquet"

    def model_dir(self, name: str, version: int) -> str:
        """A model version's artifact folder, relative to the home."""
        return f"models/{validate_name(name, 'model name')}/v{int(version)}"

    def state_dir(self, owner: str, name: str) -> Path:
        """A folder a task keeps between runs (e.g. an Optuna study), created on demand."""
        folder = self.home / "state" / validate_name(owner, "task name") / validate_name(name, "state name")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def resolve(self, relative: str) -> Path:
        """A stored relative path as an absolute one, refusing any that leaves the workspace."""
        return inside(self.home, relative)


def inside(folder: Path, relative: str | Path) -> Path:
    """`folder / relative`, refused when it resolves outside `folder` (`..`, absolute paths, links out)."""
    folder = Path(folder).resolve()
    target = (folder / relative).resolve()
    if target != folder and folder not in target.parents:
        raise Invalid(f"path {str(relative)!r} leaves {folder}; use a path inside it")
    return target
