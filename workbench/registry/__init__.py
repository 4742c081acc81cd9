"""The dataset/model registry, in parts (as MLflow keeps tracking apart from its model registry).

- `schema.py`: tables, connections, migrations (Alembic, in `migrations/`);
- `store.py`: staging, atomic moves, sha256 checks, refusing pickles;
- `datasets.py`, `models.py` (with aliases), `runs.py`: one small repository each.

`Registry` opens them over one workspace; `commit_run` registers a run's dataset and models and marks it
succeeded in one transaction.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from workbench.registry.datasets import Datasets, StagedDataset
from workbench.registry.models import Models, StagedModel
from workbench.registry.records import DatasetRecord, ModelRecord, RunRecord, RunStatus
from workbench.registry.runs import Runs
from workbench.registry.schema import Database, DatasetRow, ModelRow
from workbench.registry.store import ArtifactStore, Moves
from workbench.workspace import Workspace, default_home

__all__ = ["DatasetRecord", "ModelRecord", "Registry", "RunRecord", "RunStatus", "StagedDataset", "StagedModel"]


class Registry:
    """Datasets, models, aliases and runs over one workspace and one database, shared by every surface."""

    def __init__(self, url: str | None = None, home: Path | None = None) -> None:
        self.workspace = Workspace(Path(home) if home else default_home())
        self.workspace.home.mkdir(parents=True, exist_ok=True)
        self.url = url or os.environ.get("WORKBENCH_REGISTRY_URL") or f"sqlite:///{self.workspace.database_file}"
        self.db = Database(self.url, self.workspace)
        self.db.migrate()
        self.store = ArtifactStore(self.workspace)
        self.datasets = Datasets(self.db, self.store)
        self.models = Models(self.db, self.store)
        self.runs = Runs(self.db, self.workspace)
        self.store.remove_stale_staging()
        self.runs.reap()

    @property
    def home(self) -> Path:
        return self.workspace.home

    def run_dir(self, run_id: int) -> Path:
        """The folder holding what run `run_id` wrote."""
        return self.workspace.run_dir(run_id)

    def commit_run(self, run_id: int, dataset: StagedDataset, models: list[StagedModel], applied: list[str],
                   outputs: dict[str, Any], duration_s: float) -> tuple[DatasetRecord, list[ModelRecord]]:
        """Register the run's dataset and models and mark it succeeded: all in one transaction, or nothing.

        `applied` are the references of models the run applied (inputs beside the dataset).
        """
        def work(session: Session, moves: Moves) -> tuple[DatasetRow, list[ModelRow]]:
            data_row = self.datasets.insert(session, moves, dataset)
            inputs = [f"{data_row.name}@{data_row.version}", *applied]
            rows = [self.models.insert(session, moves, model, inputs, run_id) for model in models]
            refs = [f"{row.name}@{row.version}" for row in rows]
            self.runs.finish_in(session, run_id, RunStatus.succeeded, duration_s, {**outputs, "models": refs},
                                inputs=inputs)
            return data_row, rows

        data_row, rows = self.db.transaction(work)
        return self.datasets.record(data_row), [self.models.get(f"{row.name}@{row.version}") for row in rows]
