"""The dataset/model registry, in parts (as MLflow keeps tracking apart from its model registry).

- `schema.py`: tables, connections, migrations (Alembic, in `migrations/`);
- `store.py`: staging, atomic moves, sha256 checks, refusing pickles;
- `datasets.py`, `models.py` (with aliases), `runs.py`: one small repository each.

`Registry` opens them over one workspace without touching it: `ensure()` creates the workspace and migrates the
schema, `maintain()` removes stale staging and marks dead runs; the CLI's write commands, the apps and the
worker call them, so read-only commands write nothing. `commit_run` registers a run's datasets and models and
marks it succeeded in one transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from workbench.registry.audit import Audit
from workbench.registry.datasets import Datasets, StagedDataset
from workbench.registry.models import Models, StagedModel
from workbench.registry.records import DatasetRecord, ModelRecord, RunGroupRecord, RunRecord, RunStatus
from workbench.registry.runs import Runs
from workbench.registry.schema import Database, DatasetRow, ModelRow
from workbench.registry.store import ArtifactStore, Moves
from workbench.settings import setting
from workbench.workspace import Workspace, default_home

__all__ = ["DatasetRecord", "ModelRecord", "Registry", "RunGroupRecord", "RunRecord", "RunStatus", "StagedDataset",
           "StagedModel"]


class Registry:
    """Datasets, models, aliases and runs over one workspace and one database, shared by every surface."""

    def __init__(self, url: str | None = None, home: Path | None = None) -> None:
        self.workspace = Workspace(Path(home) if home else default_home())
        self.url = url or setting("WORKBENCH_REGISTRY_URL") or f"sqlite:///{self.workspace.database_file}"
        self.db = Database(self.url, self.workspace)
        self.store = ArtifactStore(self.workspace)
        self.datasets = Datasets(self.db, self.store)
        self.models = Models(self.db, self.store)
        self.runs = Runs(self.db, self.workspace)
        self.audit = Audit(self.db)

    @classmethod
    def open(cls, url: str | None = None, home: Path | None = None) -> Registry:
        """A registry ready for writes: its workspace created, its schema current, stale leftovers cleared."""
        registry = cls(url, home)
        registry.ensure()
        registry.maintain()
        return registry

    def exists(self) -> bool:
        """Whether there is a registry to read: the workspace's SQLite file, or any other database."""
        return not self.db.sqlite or self.workspace.database_file.exists() or ":memory:" in self.url

    def ensure(self) -> bool:
        """Create the workspace and bring the schema up to date; True when the workspace was created now."""
        created = not self.workspace.home.exists()
        for folder in (self.workspace.home, self.workspace.staging_dir, self.workspace.scratch_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.db.migrate()
        return created

    def maintain(self) -> list[int]:
        """Remove what killed registrations left in staging and mark runs whose process is gone; the ids marked."""
        self.store.remove_stale_staging()
        return self.runs.reap()

    @property
    def home(self) -> Path:
        return self.workspace.home

    def run_dir(self, run_id: int) -> Path:
        """The folder holding what run `run_id` wrote."""
        return self.workspace.run_dir(run_id)

    def commit_run(self, run_id: int, data: StagedDataset | None, inputs: list[str], models: list[StagedModel],
                   saved: list[StagedDataset], outputs: dict[str, Any],
                   duration_s: float) -> tuple[list[DatasetRecord], list[ModelRecord]]:
        """Register the run's input `data` (unless it is a registered version, named in `inputs` with the models
        it applied), the models it fitted and the tables it saves, and mark it succeeded: one transaction, or
        nothing. Returns the saved datasets and the models."""
        def work(session: Session, moves: Moves) -> tuple[list[DatasetRow], list[ModelRow]]:
            refs = list(inputs)
            if data is not None:
                row = self.datasets.insert(session, moves, data)
                refs.insert(0, f"{row.name}@{row.version}")
            model_rows = [self.models.insert(session, moves, model, refs, run_id) for model in models]
            saved_rows = [self.datasets.insert(session, moves, table) for table in saved]
            self.runs.finish_in(session, run_id, RunStatus.succeeded, duration_s, {
                **outputs, "models": [f"{row.name}@{row.version}" for row in model_rows],
                "datasets": [f"{row.name}@{row.version}" for row in saved_rows]}, inputs=refs)
            return saved_rows, model_rows

        saved_rows, model_rows = self.db.transaction(work)
        return ([self.datasets.record(row) for row in saved_rows],
                [self.models.get(f"{row.name}@{row.version}") for row in model_rows])
