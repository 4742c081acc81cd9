"""How the CLI prints: tables, previews of frames, metrics lines and a run's outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markdown import Markdown
from rich.table import Table

from workbench.cli.app import console

if TYPE_CHECKING:
    import polars as pl

    from workbench.execution.runner import RunOutcome

# Short values a reader scans for: never broken across lines.
WHOLE_COLUMNS = {"id", "status", "version", "run", "user"}


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    """A Rich table of plain text (no markup in values)."""
    shown = Table(title=title, title_justify="left")
    for name in columns:
        shown.add_column(name, overflow="fold", no_wrap=name in WHOLE_COLUMNS)
    for row in rows:
        shown.add_row(*("" if value is None else str(value) for value in row))
    return shown


def plain(text: str) -> None:
    """A line printed as written: no markup, no highlighting."""
    console.print(text, markup=False, highlight=False)


def preview(frame: pl.DataFrame, title: str, rows: int = 10) -> str:
    """The first rows as polars prints them, elided to fit the terminal."""
    import polars as pl

    with pl.Config(tbl_rows=rows, tbl_cols=8, fmt_str_lengths=28, float_precision=4, tbl_hide_column_data_types=True,
                   tbl_hide_dataframe_shape=True, tbl_width_chars=console.width):
        return f"{title} ({frame.height:,} rows x {frame.width} columns)\n{frame.head(rows)}"


def metrics_text(metrics: dict[str, Any]) -> str:
    from workbench.presentation.numbers import metric_line

    return metric_line(metrics)


def outcome(result_of: RunOutcome) -> None:
    """What a finished run made: summary, headline metrics, previews, registrations and where things went."""
    from workbench.presentation.markdown import safe_markdown
    from workbench.presentation.numbers import split_metrics

    result, plan = result_of.result, result_of.plan
    assert result is not None and plan is not None
    if result.summary:
        console.print(Markdown(safe_markdown(result.summary)))
    if result.metrics:
        tiles, rest = split_metrics(result.metrics, plan.task.headline)
        more = f" ({len(rest)} more in metrics.json and `workbench runs show {result_of.run_id}`)" if rest else ""
        plain(f"metrics: {metrics_text(tiles)}{more}")
    for name, frame in result.tables.items():
        plain(preview(frame, name))
    for record in result.registered:
        plain(f"registered model {record.ref} (sha256 {record.sha256[:12]})")
    for dataset in result_of.datasets:
        plain(f"saved dataset {dataset.ref} ({dataset.n_rows:,} rows)" if dataset.n_rows >= 0
              else f"saved dataset {dataset.ref} (by reference)")
    if result.models and not plan.request.register:
        plain("the fitted model was not kept; pass --register NAME to keep it")
    if plan.request.out:
        plain(f"wrote {len(result_of.out_files)} files to {plan.request.out}")
    plain(f"run #{result_of.run_id} recorded")
