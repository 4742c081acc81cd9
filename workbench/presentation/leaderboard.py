"""Ranking runs of one task: the leaderboard every surface shows (a sweep's table, the dashboard's Compare)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.presentation.numbers import label, scalar_metrics

if TYPE_CHECKING:
    from workbench.registry import RunRecord
    from workbench.sdk.task import Task


def differing_params(runs: list[RunRecord]) -> list[str]:
    """The parameters whose values are not the same in every run, in the order the first run lists them."""
    names: dict[str, None] = {}
    for run in runs:
        names.update(dict.fromkeys(run.params))
    return [name for name in names
            if len({json.dumps(run.params.get(name), sort_keys=True, default=str) for run in runs}) > 1]


def ranking_of(runs: list[RunRecord], task: Task[Any] | None, metric: str | None = None) -> tuple[str, bool] | None:
    """The metric to rank by (the one asked for, else the task's) and whether lower is better."""
    if metric is not None:
        return metric, any(word in metric for word in ("loss", "error", "rmse", "mae", "seconds"))
    for run in runs:
        found = task.ranking(run.outputs.get("metrics", {})) if task is not None else None
        if found is not None:
            return found
    return None


def leaderboard(runs: list[RunRecord], task: Task[Any] | None, metric: str | None = None) -> pl.DataFrame:
    """One row per run, best first: the ranking metric, the parameters that differ, the task's headline metrics."""
    ranking = ranking_of(runs, task, metric)
    varied = differing_params(runs)
    headline = [name for name in (task.headline if task else ()) if not ranking or name != ranking[0]]
    rows = []
    for run in runs:
        metrics = scalar_metrics(run.outputs.get("metrics", {}))
        row: dict[str, Any] = {"best": "", "run": run.id}
        if ranking is not None:
            row[label(ranking[0])] = _number(metrics.get(ranking[0]))
        row.update({name: _text(run.params.get(name)) for name in varied})
        row.update({label(name): metrics.get(name) for name in headline if name in metrics})
        row.update({"user": run.user or "", "models": ", ".join(run.outputs.get("models", [])),
                    "started": f"{run.started_at:%Y-%m-%d %H:%M}" if run.started_at else ""})
        rows.append(row)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    if ranking is None or frame.is_empty():
        return frame
    column = label(ranking[0])
    frame = frame.sort([column, "run"], descending=[not ranking[1], False], nulls_last=True)
    return frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("★ best")).otherwise(pl.lit(""))
                              .alias("best"))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
