# An MLflow "model from code": MLflow runs this file to load a workbench model (no pickle is written or read).
# The logged model carries the workbench model's folder (artifact `workbench_model`) and its manifest (artifact
# `workbench_manifest`: task, parameters, sha256); predicting applies the task's batch scorer.

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

import mlflow
from mlflow.pyfunc import PythonModel


class WorkbenchModel(PythonModel):
    """A registered workbench model as an MLflow pyfunc: `predict(frame)` is the task's batch scorer."""

    def load_context(self, context: Any) -> None:
        from workbench.sdk import ModelRecord, UnsafeArtifact, check_model_folder, tree_sha256
        from workbench.sdk.records import installed_task

        folder = Path(context.artifacts["workbench_model"])
        manifest = json.loads(Path(context.artifacts["workbench_manifest"]).read_text())
        check_model_folder(folder, f"workbench model {manifest['ref']}")
        if tree_sha256(folder) != manifest["sha256"]:
            raise UnsafeArtifact(f"workbench model {manifest['ref']} fails its sha256 check; export it again")
        task = installed_task(manifest["task"])
        name, _, version = manifest["ref"].partition("@")
        record = ModelRecord(name, int(version), manifest["task"], manifest["params"], {}, [], folder,
                             manifest["sha256"], datetime.now(UTC))
        self.scorer = task.batch_scorer(task.Params.model_validate(manifest["params"]), record, "cpu")

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        frame = model_input if isinstance(model_input, pl.DataFrame) else pl.from_pandas(model_input)
        return self.scorer(frame).to_pandas()


mlflow.models.set_model(WorkbenchModel())
