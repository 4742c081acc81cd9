"""Exporting workbench runs to MLflow: one MLflow run per workbench run, its models as registered versions.

An MLflow run gets the task's experiment (or WORKBENCH_MLFLOW_EXPERIMENT), the parameters, scalar metrics, tags
(task, workbench run id, seed, status, plugin version, user), the summary as its description, the inputs with
`log_input` (name@version, the sha256 as digest, the source), and the run's outputs as artifacts (tables, charts as
Vega-Lite, HTML, PNG and SVG, summary.md, metrics.json). Every registered model becomes a version of the MLflow
registered model of the same name: a pyfunc (a model from code, no pickle) whose `predict` is the task's batch
scorer. An export is marked complete only at its end, so an interrupted one is redone, never doubled: `sync`
finds complete exports by their `workbench.run_id` tag.

A tracking server that is down or slow never fails a workbench run, nor delays it by more than
WORKBENCH_MLFLOW_TIMEOUT seconds: the run is tagged `mlflow=pending`, and `workbench mlflow sync` exports it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from workbench.sdk import first_line, render_html, render_png, render_svg, setting
from workbench.sdk.records import Records

TIMEOUT_SECONDS = 10.0
COMPLETE = "workbench.export"
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")


def tracking_uri() -> str | None:
    """WORKBENCH_MLFLOW_URI, else MLflow's own MLFLOW_TRACKING_URI."""
    return setting("WORKBENCH_MLFLOW_URI") or os.environ.get("MLFLOW_TRACKING_URI") or None


def configured() -> bool:
    return tracking_uri() is not None


def _client() -> Any:
    """An MLflow client for the configured store, failing fast on a server that does not answer."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(_timeout())))
    import mlflow
    from mlflow import MlflowClient

    uri = str(tracking_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _timeout() -> float:
    return float(setting("WORKBENCH_MLFLOW_TIMEOUT") or TIMEOUT_SECONDS)


def export_soon(records: Records, run_id: int) -> None:
    """Export a run that just ended, waiting at most WORKBENCH_MLFLOW_TIMEOUT; otherwise tag it `mlflow=pending`."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            export_run(records, run_id)
        except BaseException as error:  # noqa: BLE001 - reported below: a failed export never fails the run
            failure.append(error)

    thread = threading.Thread(target=work, name=f"mlflow-export-{run_id}", daemon=True)
    thread.start()
    thread.join(_timeout())
    if thread.is_alive() or failure:
        why = first_line(failure[0]) if failure else f"no answer within {_timeout():g} s"
        records.tag_run(run_id, mlflow="pending")
        print(f"workbench: run #{run_id} is not yet exported to MLflow ({why}); `workbench mlflow sync` exports it",
              file=sys.stderr)


def _experiment(client: Any, task: str) -> str:
    """The experiment's id (created when missing; a local store keeps its artifacts beside its database)."""
    name = setting("WORKBENCH_MLFLOW_EXPERIMENT") or task
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    uri = tracking_uri() or ""
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts" / name).as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def exported(client: Any, run_id: int) -> Any:
    """The complete MLflow export of a workbench run, if there is one (an interrupted one is deleted)."""
    runs = client.search_runs(experiment_ids=[e.experiment_id for e in client.search_experiments()],
                              filter_string=f"tags.`workbench.run_id` = '{run_id}'")
    complete = [run for run in runs if run.data.tags.get(COMPLETE) == "complete"]
    for run in runs:
        if run not in complete:
            client.delete_run(run.info.run_id)
    return complete[0] if complete else None


def export_run(records: Records, run_id: int) -> str:
    """Export one workbench run (if it is not there already); the MLflow run's id."""
    import mlflow

    client = _client()
    done = exported(client, run_id)
    if done is not None:
        return str(done.info.run_id)
    run = records.run(run_id)
    record = run.record
    started = int(record.started_at.timestamp() * 1000) if record.started_at else None
    created = client.create_run(_experiment(client, record.task), start_time=started,
                                run_name=f"{record.task} #{record.id}", tags=_tags(records, record))
    mlflow_id = created.info.run_id
    _log_values(client, mlflow_id, record, run.metrics or record.outputs.get("metrics", {}))
    _log_inputs(client, mlflow_id, records, record)
    with tempfile.TemporaryDirectory() as folder:
        if _write_outputs(records, run, Path(folder)):
            client.log_artifacts(mlflow_id, folder, artifact_path="outputs")
    with mlflow.start_run(run_id=mlflow_id):
        for ref in record.outputs.get("models", []):
            _log_model(client, records, ref)
    end = started + int((record.duration_s or 0) * 1000) if started else None
    client.set_terminated(mlflow_id, status="FINISHED" if record.status == "succeeded" else "FAILED", end_time=end)
    client.set_tag(mlflow_id, COMPLETE, "complete")
    records.tag_run(run_id, mlflow="exported", mlflow_run=mlflow_id)
    return str(mlflow_id)


def _tags(records: Records, record: Any) -> dict[str, str]:
    from importlib.metadata import version

    tags = {"workbench.task": record.task, "workbench.run_id": str(record.id), "workbench.seed": str(record.seed),
            "workbench.status": record.status, "workbench.version": version("dsworkbench"),
            "workbench.user": record.user or "",
            "mlflow.user": record.user or "", "mlflow.note.content": _summary(records, record)}
    tags.update({f"workbench.tag.{key}": value for key, value in record.tags.items()})
    if record.error:
        tags["workbench.error"] = record.error[:5000]
    return tags


def _summary(records: Records, record: Any) -> str:
    summary = records.outputs(record.id) / "summary.md"
    return summary.read_text()[:5000] if summary.exists() else (record.error or "")


def _log_values(client: Any, mlflow_id: str, record: Any, metrics: dict[str, Any]) -> None:
    from mlflow.entities import Metric, Param

    params = [Param(key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)[:6000])
              for key, value in record.params.items()]
    stamp = int(record.started_at.timestamp() * 1000) if record.started_at else 0
    numbers = [Metric(key, float(value), stamp, 0) for key, value in metrics.items()
               if isinstance(value, int | float) and not isinstance(value, bool)]
    client.log_batch(mlflow_id, metrics=numbers, params=params)


def _log_inputs(client: Any, mlflow_id: str, records: Records, record: Any) -> None:
    """The datasets the run read, by name@version, with their sha256 (the first 36 hex digits as the digest, the
    most MLflow's schema stores; the whole of it as a tag) and where they come from."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag
    from workbench.sdk import WorkbenchError

    inputs = []
    for ref in record.inputs:
        try:
            dataset = records.dataset(ref)
        except WorkbenchError:  # a model the run applied, or an input it did not register
            continue
        location = dataset.uri or str(dataset.path)
        source = resolve_dataset_source(location if "://" in location else Path(location).resolve().as_uri())
        meta = MetaDataset(source=source, name=dataset.ref, digest=dataset.sha256[:36])  # type: ignore[abstract]
        inputs.append(DatasetInput(meta._to_mlflow_entity(), tags=[
            InputTag("mlflow.data.context", "input"), InputTag("workbench.sha256", dataset.sha256)]))
    if inputs:
        client.log_inputs(mlflow_id, datasets=inputs)


def _write_outputs(records: Records, run: Any, folder: Path) -> bool:
    """The run's tables, metrics, summary and charts (Vega-Lite, HTML, PNG, SVG) into `folder`."""
    source = records.outputs(run.record.id)
    if not source.is_dir():
        return False
    for path in source.iterdir():
        if path.is_file():
            shutil.copy2(path, folder / path.name)
    for name, spec in run.charts.items():
        (folder / f"{name}.html").write_text(render_html(spec))
        (folder / f"{name}.svg").write_text(render_svg(spec))
        (folder / f"{name}.png").write_bytes(render_png(spec))
    return True


def _log_model(client: Any, records: Records, ref: str) -> None:
    """A registered workbench model as a version of the MLflow registered model of its name (aliases mirrored)."""
    import mlflow

    record = records.model(ref)
    with tempfile.TemporaryDirectory() as folder:
        bundle = Path(folder)
        shutil.copytree(record.path, bundle / "model")
        manifest = {"ref": record.ref, "task": record.task, "params": record.params, "sha256": record.sha256}
        (bundle / "workbench-model.json").write_text(json.dumps(manifest))
        info = mlflow.pyfunc.log_model(name=f"model-{record.name}", python_model=str(PYFUNC_CODE),
                                       artifacts={"workbench_model": str(bundle / "model"),
                                                  "workbench_manifest": str(bundle / "workbench-model.json")},
                                       registered_model_name=record.name, pip_requirements=["dsworkbench"])
    version = info.registered_model_version
    client.set_model_version_tag(record.name, version, "workbench.ref", record.ref)
    for alias in record.aliases:
        if alias != "latest":
            client.set_registered_model_alias(record.name, alias, version)


def mirror_alias(model: str, alias: str, version: int | None) -> None:
    """`workbench models alias|unalias` done in MLflow too (the version exported from `model@version`)."""
    try:
        client = _client()
        if version is None:
            client.delete_registered_model_alias(model, alias)
            return
        found = client.search_model_versions(f"name = '{model}'")
        target = [v for v in found if v.tags.get("workbench.ref") == f"{model}@{version}"]
        if target:
            client.set_registered_model_alias(model, alias, target[0].version)
    except Exception as error:  # noqa: BLE001 - MLflow being down never undoes the workbench alias
        print(f"workbench: alias {model}@{alias} not mirrored to MLflow ({first_line(error)}); `workbench mlflow "
              "sync` does not redo aliases: set it again once MLflow answers", file=sys.stderr)


def sync_runs(records: Records, since: int = 0) -> tuple[int, int]:
    """Export every finished run after `since` that MLflow lacks; (runs exported now, runs already there)."""
    client = _client()
    exported_now = present = 0
    for record in records.runs(since):
        if exported(client, record.id) is not None:
            present += 1
            if record.tags.get("mlflow") != "exported":
                records.tag_run(record.id, mlflow="exported")
            continue
        export_run(records, record.id)
        exported_now += 1
    return exported_now, present
