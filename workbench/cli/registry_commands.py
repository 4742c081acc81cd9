"""`workbench datasets|models|runs|audit`: what the registry holds, its lineage, aliases, and who did what.

Listing and showing write nothing (no workspace is created to show that it is empty); adding, aliasing,
tagging and cancelling record the user (`WORKBENCH_USER`, else the OS user) in the audit trail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.app import (
    app,
    console,
    datasets_app,
    existing_registry,
    models_app,
    read_registry,
    runs_app,
    write_registry,
)
from workbench.cli.render import metrics_text, plain, preview, table
from workbench.errors import NotFound

LimitOption = Annotated[int | None, typer.Option("--limit", min=1, max=100_000, help="At most this many.")]
OffsetOption = Annotated[int, typer.Option("--offset", min=0, max=2**31, help="Skip this many.")]
RunId = Annotated[int, typer.Argument(min=1, max=2**31, help="Run id.")]


def _user() -> str:
    from workbench.identity import current_user

    return current_user()


def _dump(value: object) -> None:
    from workbench.jsonable import jsonable

    print(json.dumps(jsonable(value), indent=2, ensure_ascii=False))


@datasets_app.command("list")
def datasets_list(limit: LimitOption = None, offset: OffsetOption = 0) -> None:
    """List every dataset version."""
    registry = read_registry()
    records = registry.datasets.list(limit=limit, offset=offset) if registry else []
    rows = [[r.name, r.version, r.n_rows if r.n_rows >= 0 else "?", len(r.schema), r.sha256[:12], r.source,
             f"run #{r.run_id}" if r.run_id else "", f"{r.created_at:%Y-%m-%d %H:%M}"] for r in records]
    console.print(table(None, ["name", "version", "rows", "columns", "sha256", "source", "made by", "created"], rows))


@datasets_app.command("add")
def datasets_add(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON-lines file.")],
    encoding: Annotated[str, typer.Option("--encoding")] = "utf-8",
    delimiter: Annotated[str | None, typer.Option("--delimiter")] = None,
) -> None:
    """Register a file as a dataset version (identical content returns the existing version)."""
    from workbench.io.tables import read_table
    from workbench.workspace import validate_name

    validate_name(name, "dataset name")
    frame = read_table(file, encoding, delimiter)
    record = write_registry().datasets.add(name, frame, str(file))
    plain(f"dataset {record.ref}: {record.n_rows:,} rows, sha256 {record.sha256[:12]}")


@datasets_app.command("show")
def datasets_show(ref: Annotated[str, typer.Argument(help="NAME[@version|alias].")]) -> None:
    """Show a dataset version: schema, first rows, and its lineage both ways (the run that made it, the runs and
    models that used it)."""
    registry = read_registry(quiet=True)
    if registry is None:
        raise NotFound(f"unknown dataset {ref.partition('@')[0]!r}; nothing is registered yet")
    record = registry.datasets.get(ref)
    aliases = f" ({', '.join(record.aliases)})" if record.aliases else ""
    plain(f"{record.ref}{aliases}: {record.n_rows:,} rows, sha256 {record.sha256}, source {record.source}"
          if record.n_rows >= 0 else f"{record.ref}{aliases}: by reference to {record.uri}")
    if record.run_id is not None:
        made = registry.runs.get(record.run_id)
        plain(f"made by run #{made.id} ({made.task}) from {', '.join(made.inputs)}")
    used = registry.runs.list(using=record.ref, limit=None)
    plain("used by: " + (", ".join(f"run #{run.id} ({run.task}, {run.status})" for run in used) or "no run yet"))
    models = [model.ref for model in registry.models.list() if record.ref in model.inputs]
    if models:
        plain("models fitted on it: " + ", ".join(models))
    console.print(table("schema", ["column", "dtype"], [list(item) for item in record.schema.items()]))
    plain(preview(registry.datasets.load(record.ref), "first rows"))


@datasets_app.command("alias")
def datasets_alias(ref: Annotated[str, typer.Argument(help="NAME@version the alias points at.")],
                   alias: Annotated[str, typer.Argument(help="Alias, e.g. training.")]) -> None:
    """Point an alias of a dataset at a version (run on it with --data NAME@alias)."""
    record = existing_registry(f"dataset {ref.partition('@')[0]!r}").datasets.set_alias(ref, alias, _user())
    plain(f"{record.name}@{alias} -> version {record.version}")


@datasets_app.command("unalias")
def datasets_unalias(name: Annotated[str, typer.Argument(help="Dataset name.")],
                     alias: Annotated[str, typer.Argument(help="The alias to remove.")]) -> None:
    """Remove an alias from a dataset."""
    from workbench.registry.aliases import check_removable

    check_removable(alias)
    existing_registry(f"dataset {name!r}").datasets.delete_alias(name, alias, _user())
    plain(f"removed alias {alias} of {name}")


@models_app.command("list")
def models_list(
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Only models made by this task.")] = None,
    limit: LimitOption = None, offset: OffsetOption = 0,
) -> None:
    """List model versions with aliases and metrics."""
    registry = read_registry()
    records = registry.models.list(name, task, limit, offset) if registry else []
    rows = [[r.name, r.version, ", ".join(r.aliases), r.task, metrics_text(r.metrics)[:60],
             f"{r.created_at:%Y-%m-%d %H:%M}"] for r in records]
    console.print(table(None, ["name", "version", "aliases", "task", "metrics", "created"], rows))


@models_app.command("show")
def models_show(ref: Annotated[str, typer.Argument(help="NAME[@version|alias].")]) -> None:
    """Show a model's lineage, params, metrics and artifact."""
    registry = read_registry(quiet=True)
    if registry is None:
        raise NotFound(f"unknown model {ref.partition('@')[0]!r}; nothing is registered yet")
    record = registry.models.get(ref)
    _dump({"ref": record.ref, "aliases": list(record.aliases), "task": record.task, "run": record.run_id,
           "inputs": record.inputs, "params": record.params, "metrics": record.metrics, "artifact": str(record.path),
           "sha256": record.sha256, "created_at": str(record.created_at)})


@models_app.command("alias")
def models_alias(ref: Annotated[str, typer.Argument(help="NAME@version the alias points at.")],
                 alias: Annotated[str, typer.Argument(help="Alias, e.g. champion.")]) -> None:
    """Point an alias (e.g. champion) at a model version (its owners or an admin)."""
    from workbench import plugins

    record = existing_registry(f"model {ref.partition('@')[0]!r}").models.set_alias(ref, alias, _user())
    plugins.after_alias_change(record.name, alias, record.version)
    plain(f"{record.name}@{alias} -> version {record.version}")


@models_app.command("unalias")
def models_unalias(name: Annotated[str, typer.Argument(help="Model name.")],
                   alias: Annotated[str, typer.Argument(help="The alias to remove.")]) -> None:
    """Remove an alias from a model."""
    from workbench import plugins
    from workbench.registry.aliases import check_removable

    check_removable(alias)
    existing_registry(f"model {name!r}").models.delete_alias(name, alias, _user())
    plugins.after_alias_change(name, alias, None)
    plain(f"removed alias {alias} of {name}")


@runs_app.command("list")
def runs_list(
    task: Annotated[str | None, typer.Option("--task", help="Only this task.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only runs with this status.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's runs.")] = None,
    group: Annotated[int | None, typer.Option("--group", min=1, max=2**31, help="Only the runs of this pipeline "
                                              "run or sweep.")] = None,
    using: Annotated[str | None, typer.Option("--using", help="Only runs that read this dataset or model "
                                              "(NAME@version).")] = None,
    where: Annotated[str | None, typer.Option("--where", help="Only runs matching this search, e.g. "
                                              "'metrics.accuracy > 0.8 and params.method = embeddings'.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="At most this many.")] = 20,
    offset: OffsetOption = 0,
) -> None:
    """List runs, newest first."""
    from workbench.presentation.numbers import duration
    from workbench.presentation.run_search import parse_search, search_runs

    parse_search(where or "")  # a bad search is refused before anything is read
    registry = read_registry()
    records = registry.runs.list(task, status, None if where else limit, 0 if where else offset, user=user,
                                 group_id=group, using=using) if registry else []
    if where:
        records = search_runs(records, where)[offset:offset + limit]
    rows = [[r.id, r.task, r.status, r.user or "", duration(r.duration_s), ", ".join(r.inputs),
             f"{r.started_at:%Y-%m-%d %H:%M:%S}", r.error or ""] for r in records]
    console.print(table(None, ["id", "task", "status", "user", "duration", "inputs", "started", "error"], rows))


@runs_app.command("show")
def runs_show(run_id: RunId) -> None:
    """Show one run's params, inputs, outputs, progress and error."""
    registry = read_registry(quiet=True)
    if registry is None:
        raise NotFound(f"unknown run {run_id}; nothing is recorded yet")
    record = registry.runs.get(run_id)
    if record.status == "queued":
        from workbench.execution.jobs import ensure_workers

        if ensure_workers(registry):
            print("workbench: started a worker for the queue (none was running)", flush=True)
    _dump(record.__dict__)


@runs_app.command("cancel")
def runs_cancel(run_id: RunId) -> None:
    """Cancel a queued run, or ask a running one to stop (your own runs; an admin's any)."""
    record = existing_registry(f"run {run_id}").runs.request_cancel(run_id, _user())
    plain(f"run #{run_id}: " + ("cancelled" if record.status == "cancelled" else "asked to stop"))


@runs_app.command("tag")
def runs_tag(run_id: RunId, tags: Annotated[list[str], typer.Argument(help="KEY=VALUE (an empty VALUE removes "
                                                                      "the tag).")]) -> None:
    """Tag a run (e.g. reviewed=yes) to find and compare it later."""
    from workbench.cli.run import pairs

    record = existing_registry(f"run {run_id}").runs.annotate(run_id, tags=pairs(tags, "tag"), user=_user())
    plain(f"run #{run_id} tags: " + (", ".join(f"{k}={v}" for k, v in record.tags.items()) or "none"))


@runs_app.command("note")
def runs_note(run_id: RunId, text: Annotated[str, typer.Argument(help="The note (empty: remove it).")]) -> None:
    """Write a note on a run (replacing the one it had)."""
    existing_registry(f"run {run_id}").runs.annotate(run_id, note=text, user=_user())
    plain(f"run #{run_id}: note " + ("saved" if text else "removed"))


@app.command("audit")
def audit(limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="At most this many.")] = 50) -> None:
    """Who cancelled runs, moved aliases or annotated runs, newest first."""
    registry = read_registry()
    entries = registry.audit.list(limit=limit) if registry else []
    rows = [[f"{e.at:%Y-%m-%d %H:%M:%S}", e.user, e.action, e.target, json.dumps(e.detail, ensure_ascii=False)]
            for e in entries]
    console.print(table(None, ["when", "user", "action", "target", "detail"], rows))
