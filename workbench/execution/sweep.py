"""Sweeps: the same run over a grid of parameter values (Hydra's multirun), one recorded run per combination,
grouped so they can be compared. Every combination is checked before the first one runs."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from workbench.errors import Invalid, WorkbenchError, first_line
from workbench.execution.dispatch import dispatch
from workbench.execution.plan import ExecutionPlan, plan_run, with_params
from workbench.registry import RunStatus

if TYPE_CHECKING:
    import polars as pl

    from workbench.execution.request import RunRequest
    from workbench.registry import Registry
    from workbench.sdk.progress import ProgressReporter

MAX_COMBINATIONS = 1_000


def combinations(grid: dict[str, str]) -> list[dict[str, str]]:
    """Every combination of the comma-separated values of each key, in the order given."""
    values = {}
    for key, text in grid.items():
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise Invalid(f"--sweep {key}= has no values; write e.g. --sweep {key}=1,2,3")
        values[key] = items
    count = 1
    for items in values.values():
        count *= len(items)
    if count > MAX_COMBINATIONS:
        raise Invalid(f"the sweep has {count:,} combinations, more than {MAX_COMBINATIONS:,}; sweep fewer values")
    return [dict(zip(values, chosen, strict=True)) for chosen in itertools.product(*values.values())]


@dataclass
class SweepOutcome:
    run_id: int | None
    status: str
    values: dict[str, str]
    error: str | None = None

    def describe(self) -> str:
        shown = ", ".join(f"{key}={value}" for key, value in self.values.items())
        return shown + (f" ({self.error})" if self.error else "")


class Sweep:
    """A grid of runs of one request, recorded as a group."""

    def __init__(self, request: RunRequest, grid: dict[str, str], registry: Registry,
                 progress: ProgressReporter | None = None) -> None:
        self.registry, self.progress = registry, progress
        self.combinations = combinations(grid)
        overlap = sorted(set(grid) & set(request.params))
        if overlap:
            raise Invalid(f"{overlap[0]} is both swept and set with -p; drop one")
        first = plan_run(replace(request, params={**request.params, **self.combinations[0]}), registry)
        self.plans = [first] + [with_params(first, {**request.params, **values}) for values in self.combinations[1:]]
        self.group_id = registry.runs.start_group("sweep", f"{request.task.name} over {', '.join(grid)}",
                                                  {"task": request.task.name, "grid": grid,
                                                   "params": request.params}, request.user)
        self.task = request.task

    def run(self) -> Iterator[SweepOutcome]:
        """Run (or queue) each combination in turn; a failing one is recorded and the others go on."""
        failed = 0
        for values, plan in zip(self.combinations, self.plans, strict=True):
            label = ", ".join(f"{key}={value}" for key, value in values.items())
            plan.request = replace(plan.request, group_id=self.group_id, step=label)
            outcome = self._one(plan, values)
            failed += outcome.status == RunStatus.failed
            yield outcome
        self.registry.runs.finish_group(self.group_id, RunStatus.failed if failed else RunStatus.succeeded)

    def _one(self, plan: ExecutionPlan, values: dict[str, str]) -> SweepOutcome:
        try:
            outcome = dispatch(plan, self.registry, self.progress)
        except WorkbenchError as error:
            latest = self.registry.runs.list(group_id=self.group_id, limit=1)
            return SweepOutcome(latest[0].id if latest else None, RunStatus.failed, values, first_line(error))
        return SweepOutcome(outcome.run_id, RunStatus.queued if outcome.queued else RunStatus.succeeded, values)

    def leaderboard(self) -> pl.DataFrame | None:
        """The group's succeeded runs, best first by the task's ranking metric."""
        from workbench.presentation.leaderboard import leaderboard

        runs = [run for run in self.registry.runs.list(group_id=self.group_id, limit=None)
                if run.status == RunStatus.succeeded]
        return leaderboard(runs, self.task) if runs else None
