"""Recorded runs as reports: what a run left in its folder, task-provided sections, standalone HTML.

Everything a user typed (parameters, summaries, column names) is escaped; markdown is rendered without raw HTML.
"""

from __future__ import annotations

import html
import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.errors import NotFound
from workbench.presentation.audiences import audience as audience_detail
from workbench.presentation.audiences import executive_summary, report_commentary, report_title, rest_of_summary
from workbench.presentation.numbers import label, number, split_metrics
from workbench.sdk.task import RecordedRun, ReportSection

if TYPE_CHECKING:
    from workbench.registry import Registry


def load_run(registry: Registry, run_id: int) -> RecordedRun:
    """Read back what a succeeded run wrote in its folder."""
    record = registry.runs.get(run_id)
    folder = registry.run_dir(run_id)
    if record.status != "succeeded" or not folder.is_dir():
        raise NotFound(f"run #{run_id} has no results to report (status {record.status})")
    metrics = folder / "metrics.json"
    summary = folder / "summary.md"
    return RecordedRun(
        record=record,
        tables={path.stem: pl.read_parquet(path) for path in sorted(folder.glob("*.parquet"))},
        charts={path.name.removesuffix(".vl.json"): json.loads(path.read_text())
                for path in sorted(folder.glob("*.vl.json"))},
        metrics=json.loads(metrics.read_text()) if metrics.exists() else {},
        summary=summary.read_text().strip() if summary.exists() else "",
        folder=folder,
    )


def zipped(folder: Path | None) -> bytes:
    """A folder (a run's outputs, a model's artifact) as one zip archive, paths relative to it."""
    buffer = io.BytesIO()
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder is not None else []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(str(folder)).as_posix())
    return buffer.getvalue()


def report_sections(run: RecordedRun) -> list[ReportSection]:
    """The sections the run's task adds to its report (none when the task is no longer installed)."""
    from workbench import plugins

    task = plugins.tasks().get(run.record.task)
    return task.report(run) if task is not None else []


def charts_for(run: RecordedRun, audience: str) -> list[tuple[str, dict[str, Any]]]:
    """The run's charts for one audience: where the task drew one chart per audience (named after it), only
    that one; otherwise every chart, restyled for the audience."""
    from workbench.kit.charts import AUDIENCES, tailor_spec

    if set(run.charts) & set(AUDIENCES):
        return [(name, spec) for name, spec in run.charts.items() if name == audience or name not in AUDIENCES]
    return [(name, tailor_spec(spec, audience)) for name, spec in run.charts.items()]


def chart_caption(name: str, audience: str) -> str:
    """What a chart is and whom it is drawn for."""
    return f"{label(name)} · drawn for {audience_detail(audience).name}"


def chart_svg(spec: dict[str, Any]) -> str:
    """A Vega-Lite spec rendered offline to SVG."""
    from workbench.kit.charts import render_svg

    return render_svg(spec)


def table_html(table: pl.DataFrame, rows: int = 50) -> str:
    """A plain HTML table of the first `rows` rows, with a note when there are more."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(number(value, name))}</td>"
                                    for value, name in zip(row, table.columns, strict=True)) + "</tr>"
                   for row in table.head(rows).iter_rows())
    more = f"<p class='note'>First {rows:,} of {table.height:,} rows.</p>" if table.height > rows else ""
    return (f"<div style='overflow-x: auto'><table class='table table-sm table-striped'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>{more}")


def markdown_html(text: str) -> str:
    """Markdown to HTML with raw HTML escaped and unsafe links dropped (`markdown-it`, which Rich brings)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).render(text)


STYLE = """
body { font-family: Helvetica, Arial, sans-serif; color: #1f2933; max-width: 1000px; margin: 2em auto; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #e4e7eb; }
.metrics { display: flex; flex-wrap: wrap; gap: .8em; }
.metric { border: 1px solid #e4e7eb; border-radius: 6px; padding: .5em .9em; min-width: 8em; }
.metric .name { color: #7b8794; font-size: .85em; } .metric .value { font-size: 1.4em; font-weight: bold; }
table { border-collapse: collapse; font-size: .85em; } td, th { border: 1px solid #e4e7eb; padding: 2px 6px; }
th { background: #f5f7fa; } .note { color: #7b8794; font-size: .85em; }
"""


def headline_metrics(run: RecordedRun) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tiles, the rest) of a run's metrics, the tiles chosen by its task."""
    from workbench import plugins

    task = plugins.tasks().get(run.record.task)
    return split_metrics(run.metrics, task.headline if task else ())


def metric_units(run: RecordedRun) -> dict[str, str]:
    """The units its task shows after each metric of this run."""
    from workbench import plugins

    task = plugins.tasks().get(run.record.task)
    return task.metric_units(run.record.params) if task else {}


def metrics_frame(metrics: dict[str, Any]) -> pl.DataFrame:
    """Metrics as a two-column table of readable names and formatted values."""
    return pl.DataFrame({"metric": [label(name) for name in metrics], "value": [
        number(value, name) if not isinstance(value, dict | list) else json.dumps(value, ensure_ascii=False)
        for name, value in metrics.items()]}, schema={"metric": pl.String, "value": pl.String})


def params_text(params: dict[str, Any]) -> list[tuple[str, str]]:
    """Parameters as (name, value) text, unicode as written (°C, not \\u00b0C)."""
    return [(name, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            for name, value in params.items()]


def report_html(run: RecordedRun, audience_name: str) -> str:
    """The whole report as one HTML file: inline CSS and SVG charts, no script and nothing fetched. It opens
    with the executive summary; the audience decides the words and how much detail follows."""
    record, reader = run.record, audience_detail(audience_name)
    started = f"{record.started_at:%Y-%m-%d %H:%M} · " if record.started_at else ""
    parts = [f"<h1>{html.escape(report_title(record))}</h1>",
             f"<p class='note'>{html.escape(reader.opening)}</p>",
             "<h2>Executive summary</h2>", markdown_html(report_commentary(record)), markdown_html(
                 executive_summary(run))]
    tiles, rest = headline_metrics(run)
    units = metric_units(run)
    parts.append("<div class='metrics'>" + "".join(
        f"<div class='metric'><div class='name'>{html.escape(label(name))}</div><div class='value'>"
        f"{html.escape(number(value, name, units.get(name, '')))}</div></div>" for name, value in tiles.items())
        + "</div>")
    if reader.whole_summary and rest_of_summary(run):
        parts.append("<h2>Details</h2>" + markdown_html(rest_of_summary(run)))
    if reader.sections:
        for section in report_sections(run):
            parts.append(f"<h2>{html.escape(section.title)}</h2>" + markdown_html(section.text))
            if section.table is not None and reader.section_tables:
                parts.append(table_html(section.table))
    for name, spec in charts_for(run, audience_name)[:reader.max_charts]:
        parts.append(f"<h2>Chart: {html.escape(label(name))}</h2><p class='note'>"
                     f"{html.escape(chart_caption(name, audience_name))}</p>" + chart_svg(spec))
    if reader.all_metrics and rest:
        parts.append("<h2>All metrics</h2>" + table_html(metrics_frame(rest), rows=500))
    if reader.parameters:
        named = params_text(record.params)
        parts.append("<h2>Parameters</h2>" + table_html(pl.DataFrame(
            {"parameter": [name for name, _ in named], "value": [value for _, value in named]}), rows=200))
    if reader.tables:
        for name, table in run.tables.items():
            parts.append(f"<h2>Table: {html.escape(name)}</h2>" + table_html(table))
    parts.append(f"<p class='note'>Run #{record.id} ({html.escape(record.task)}) · {started}inputs: "
                 f"{html.escape(', '.join(record.inputs))} · written for {html.escape(reader.name)}</p>")
    title = f"workbench report: {report_title(record)}"
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
