"""Writing a run's result to a folder: tables, metrics.json, charts and summary.md."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from workbench._charts import save_chart
from workbench._task import Result


def jsonable(value: Any) -> Any:
    """Plain JSON types from numpy scalars, paths, dates and nested containers."""
    return json.loads(json.dumps(value, default=_default, allow_nan=True), parse_constant=_constant)


def _constant(name: str) -> None:
    return None  # NaN and infinities become null


def _default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (datetime, date, Path)):
        return str(value)
    return str(value)


def write_result(result: Result, folder: Path, table_format: str = "csv",
                 chart_formats: tuple[str, ...] = ("vl.json", "html", "png", "svg")) -> list[Path]:
    """Write everything in `result` under `folder` (charts also as offline HTML, PNG, SVG); return the files."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in result.tables.items():
        path = folder / f"{name}.{table_format}"
        if table_format == "parquet":
            table.write_parquet(path)
        else:
            table.write_csv(path)
        written.append(path)
    metrics = folder / "metrics.json"
    metrics.write_text(json.dumps(jsonable(result.metrics), indent=2) + "\n")
    written.append(metrics)
    for name, chart in result.charts.items():
        written += save_chart(chart, folder, name, chart_formats)
    summary = folder / "summary.md"
    summary.write_text(result.summary.strip() + "\n")
    written.append(summary)
    return written
