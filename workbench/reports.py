"""Recorded runs as reports: what a run left in `runs/<id>/`, task-provided sections, standalone HTML."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from numbers import Integral, Number
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.registry import Registry, RunRecord


@dataclass
class RecordedRun:
    """One finished run: its record plus the tables, charts (Vega-Lite specs), metrics and summary it wrote."""

    record: RunRecord
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


@dataclass
class ReportSection:
    """A task's own part of a report: markdown text and, optionally, a table."""

    title: str
    text: str = ""
    table: pl.DataFrame | None = None


def load_run(registry: Registry, run_id: int) -> RecordedRun:
    """Read back what a succeeded run wrote under the registry's `runs/<id>/` folder."""
    record = registry.run(run_id)
    folder = registry.home / "runs" / str(run_id)
    if record.status != "succeeded" or not folder.is_dir():
        raise WorkbenchError(f"run #{run_id} has no results to report (status {record.status})")
    metrics = folder / "metrics.json"
    summary = folder / "summary.md"
    return RecordedRun(
        record=record,
        tables={path.stem: pl.read_parquet(path) for path in sorted(folder.glob("*.parquet"))},
        charts={path.name.removesuffix(".vl.json"): json.loads(path.read_text())
                for path in sorted(folder.glob("*.vl.json"))},
        metrics=json.loads(metrics.read_text()) if metrics.exists() else {},
        summary=summary.read_text().strip() if summary.exists() else "",
    )


def report_sections(run: RecordedRun) -> list[ReportSection]:
    """The sections the run's task adds to its report (none when the task is no longer installed)."""
    from workbench import plugins

    task = plugins.tasks().get(run.record.task)
    return task.report(run) if task is not None else []


def chart_svg(spec: dict[str, Any], audience: str) -> str:
    """A stored chart restyled for `audience` and rendered offline to SVG."""
    from workbench.charts import render, tailor_spec

    return render(tailor_spec(spec, audience), "svg")


def table_html(table: pl.DataFrame, rows: int = 50) -> str:
    """A plain HTML table of the first `rows` rows, with a note when there are more."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(value))}</td>" for value in row) + "</tr>"
                   for row in table.head(rows).iter_rows())
    more = f"<p class='note'>First {rows:,} of {table.height:,} rows.</p>" if table.height > rows else ""
    return (f"<div style='overflow-x: auto'><table class='table table-sm table-striped'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>{more}")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def markdown_html(text: str) -> str:
    """Markdown to HTML (the `markdown-it` parser Rich and Shiny already bring)."""
    from markdown_it import MarkdownIt

    return MarkdownIt().render(text)


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, Number | str]:
    """The metrics that are single numbers or words (not flags, lists or mappings): the ones worth a box."""
    return {name: value for name, value in metrics.items()
            if isinstance(value, Number | str) and not isinstance(value, bool)}


def metric_items(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """Scalar metrics as (name, shown value) pairs, for value boxes."""
    return [(name, f"{value:,.4g}" if isinstance(value, float) else f"{value:,}" if isinstance(value, Integral)
             else str(value)) for name, value in scalar_metrics(metrics).items()]


STYLE = """
body { font-family: Helvetica, Arial, sans-serif; color: #1f2933; max-width: 1000px; margin: 2em auto; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #e4e7eb; }
.metrics { display: flex; flex-wrap: wrap; gap: .8em; }
.metric { border: 1px solid #e4e7eb; border-radius: 6px; padding: .5em .9em; min-width: 8em; }
.metric .name { color: #7b8794; font-size: .85em; } .metric .value { font-size: 1.4em; font-weight: bold; }
table { border-collapse: collapse; font-size: .85em; } td, th { border: 1px solid #e4e7eb; padding: 2px 6px; }
th { background: #f5f7fa; } .note { color: #7b8794; font-size: .85em; }
"""


def report_html(run: RecordedRun, audience: str) -> str:
    """The whole report as one HTML file: inline CSS and SVG charts, no script and nothing fetched."""
    record = run.record
    parts = [f"<h1>Run #{record.id}: {html.escape(record.task)}</h1>",
             f"<p class='note'>{record.started_at:%Y-%m-%d %H:%M} · inputs: {html.escape(', '.join(record.inputs))}"
             f" · charts for: {audience}</p>", markdown_html(run.summary)]
    metrics = "".join(f"<div class='metric'><div class='name'>{html.escape(name)}</div><div class='value'>"
                      f"{html.escape(value)}</div></div>" for name, value in metric_items(run.metrics))
    parts.append(f"<h2>Metrics</h2><div class='metrics'>{metrics}</div>")
    params = pl.DataFrame({"parameter": list(record.params), "value": [json.dumps(v) for v in record.params.values()]})
    parts.append("<h2>Parameters</h2>" + table_html(params, rows=200))
    for section in report_sections(run):
        parts.append(f"<h2>{html.escape(section.title)}</h2>" + markdown_html(section.text))
        if section.table is not None:
            parts.append(table_html(section.table))
    for name, spec in run.charts.items():
        parts.append(f"<h2>Chart: {html.escape(name)}</h2>" + chart_svg(spec, audience))
    for name, table in run.tables.items():
        parts.append(f"<h2>Table: {html.escape(name)}</h2>" + table_html(table))
    title = f"workbench report: run #{record.id} ({record.task})"
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
