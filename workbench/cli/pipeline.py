"""`workbench pipeline run|show|list`: chained steps through the registry, skipped when up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.app import console, pipeline_app, read_registry, write_registry
from workbench.cli.render import plain, table
from workbench.errors import NotFound


@pipeline_app.command("run")
def pipeline_run(
    file: Annotated[Path, typer.Argument(help="The pipeline file (YAML or TOML; see the README).")],
    force: Annotated[bool, typer.Option("--force", help="Run every step, even those that are up to date.")] = False,
) -> None:
    """Run a pipeline's steps in dependency order; a step whose inputs are unchanged is skipped."""
    from workbench.cli.run import progress_for
    from workbench.identity import current_user
    from workbench.pipelines.run import PipelineRun
    from workbench.pipelines.spec import load
    from workbench.registry import Registry

    registry = Registry()

    def known(value: str) -> bool:
        return Path(value).exists() or registry.exists() and registry.datasets.has(value.partition("@")[0])

    pipeline = load(file, known)  # every step checked before the first runs, nothing written
    run = PipelineRun(pipeline, write_registry(registry), progress_for(pipeline.name), force, current_user())
    plain(f"pipeline run #{run.group_id}: {pipeline.name}, {len(pipeline.steps)} steps")
    for outcome in run.run():
        where = f" (run #{outcome.run_id})" if outcome.run_id else ""
        made = ", ".join(f"{key} -> {ref}" for key, ref in outcome.outputs.items())
        plain(f"  {outcome.step}: {outcome.status}{where}" + (f"; {outcome.note}" if outcome.note else "")
              + (f"; {made}" if made and outcome.status != "skipped" else ""))
    status = registry.runs.group(run.group_id).status
    plain(f"pipeline run #{run.group_id} {status}; `workbench pipeline show {run.group_id}` shows it again")
    if status != "succeeded":
        raise typer.Exit(1)


@pipeline_app.command("show")
def pipeline_show(group_id: Annotated[int, typer.Argument(min=1, max=2**31, help="Pipeline run id.")]) -> None:
    """A pipeline run's steps: status, run, and what was skipped."""
    registry = read_registry(quiet=True)
    if registry is None:
        raise NotFound(f"unknown pipeline run {group_id}; nothing is recorded yet")
    group = registry.runs.group(group_id)
    plain(f"pipeline run #{group.id} {group.name}: {group.status} (user {group.user or '?'}, started "
          f"{group.started_at:%Y-%m-%d %H:%M:%S})" if group.started_at else f"pipeline run #{group.id}")
    outcomes = group.spec.get("outcomes", {})
    rows = [[name, outcomes.get(name, {}).get("status", "pending"), outcomes.get(name, {}).get("run_id") or "",
             step.get("task", ""), outcomes.get(name, {}).get("note", "")]
            for name, step in group.spec.get("steps", {}).items()]
    console.print(table(None, ["step", "status", "run", "task", "note"], rows))


@pipeline_app.command("list")
def pipeline_list(limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 20) -> None:
    """Pipeline runs and sweeps, newest first."""
    registry = read_registry()
    groups = registry.runs.groups(limit=limit) if registry else []
    rows = [[g.id, g.kind, g.name, g.status, g.user or "", f"{g.started_at:%Y-%m-%d %H:%M}" if g.started_at else ""]
            for g in groups]
    console.print(table(None, ["id", "kind", "name", "status", "user", "started"], rows))
