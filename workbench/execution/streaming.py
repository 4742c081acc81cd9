"""Applying a registered model to data of any size, batch after batch in this process, each batch written as a
part as soon as it is scored (bounded memory). The Ray executor (`ray.py`) writes the same parts from its actors.

Parts are `TABLE/part-00000.parquet` (or `.csv`) under `--out`, numbered in input order, so reading them sorted
by name gives the rows in the input's order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.execution.results import Produced, write_part
from workbench.sdk.task import Result, RunContext

if TYPE_CHECKING:
    import polars as pl

    from workbench.execution.plan import ExecutionPlan
    from workbench.execution.results import OutputFolder

SAMPLE_ROWS = 1_000  # kept in the run's folder, so the apps can show what the output looks like

Scorer = Callable[["pl.DataFrame"], "pl.DataFrame"]


def part_name(table: str, index: int, table_format: str) -> str:
    return f"{table}/part-{index:05d}.{table_format}"


def score_locally(plan: ExecutionPlan, scorer: Scorer, out: OutputFolder, ctx: RunContext) -> Produced:
    """Score every batch of the input here, writing each as a part."""
    assert plan.data.source is not None
    source, table = plan.data.source, str(plan.task.batch_table)
    started = time.perf_counter()
    collector = PartCollector(table)
    with ctx.progress.bar(f"Scoring in batches of {plan.batch_rows:,}", total=source.rows()) as bar:
        for index, batch in enumerate(source.batches(plan.batch_rows)):
            scored = scorer(batch)
            name = part_name(table, index, plan.table_format)
            write_part(scored.to_arrow(), out.staging, name, plan.table_format)
            collector.add(name, scored)
            bar.advance(batch.height)
    return collector.produced(plan, "local", time.perf_counter() - started)


class PartCollector:
    """Counts the parts and rows of a streamed table and keeps its first rows as a sample."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.parts: list[str] = []
        self.rows = 0
        self.samples: list[pl.DataFrame] = []
        self.sampled = 0
        self.per_node: dict[str, int] = {}

    def add(self, name: str, scored: pl.DataFrame, node: str | None = None) -> None:
        self.parts.append(name)
        self.rows += scored.height
        if node is not None:
            self.per_node[node] = self.per_node.get(node, 0) + scored.height
        if self.sampled < SAMPLE_ROWS:
            self.samples.append(scored.head(SAMPLE_ROWS - self.sampled))
            self.sampled += self.samples[-1].height

    def add_counted(self, name: str, rows: int, sample: pl.DataFrame | None, node: str) -> None:
        """A part another process wrote: its name, rows and (for the first parts) a few of its rows."""
        self.parts.append(name)
        self.rows += rows
        self.per_node[node] = self.per_node.get(node, 0) + rows
        if sample is not None and self.sampled < SAMPLE_ROWS:
            self.samples.append(sample.head(SAMPLE_ROWS - self.sampled))
            self.sampled += self.samples[-1].height

    def produced(self, plan: ExecutionPlan, executor: str, seconds: float,
                 extra: dict[str, Any] | None = None) -> Produced:
        import polars as pl

        sample = pl.concat(self.samples, how="vertical_relaxed") if self.samples else pl.DataFrame()
        metrics: dict[str, Any] = {"rows": self.rows, "parts": len(self.parts), "seconds": round(seconds, 2),
                                   "rows_per_second": round(self.rows / max(seconds, 1e-9), 1), "executor": executor,
                                   "batch_rows": plan.batch_rows, **(extra or {})}
        if self.per_node:
            metrics.update(nodes=len(self.per_node), rows_per_node=dict(sorted(self.per_node.items())))
        model = plan.model.ref if plan.model else "?"
        summary = (f"Scored {self.rows:,} rows with model {model} ({executor}, batches of {plan.batch_rows:,}): "
                   f"{len(self.parts)} {plan.table_format.capitalize()} parts under `{plan.request.out}/{self.table}/`"
                   f". The table here shows the first {min(self.rows, SAMPLE_ROWS):,} rows.")
        return Produced(Result(tables={self.table: sample}, metrics=metrics, summary=summary),
                        parts={self.table: self.parts},
                        record={"parts": self.parts[:1000], "rows": self.rows,
                                **({"rows_per_node": metrics["rows_per_node"]} if self.per_node else {})})
