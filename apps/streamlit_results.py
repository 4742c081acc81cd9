"""Showing what a run produced (read back from its folder) and a dataset's profile."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from workbench.builtin.describe import profile_frame
from workbench.presentation.numbers import label, number, split_metrics
from workbench.presentation.reports import metrics_frame, zipped
from workbench.sdk.task import RecordedRun, Task
from workbench_apps.streamlit_shared import PAGES, table, themed_spec

TILES_PER_ROW = 4


def show_results(run: RecordedRun, task: Task[Any] | None) -> None:
    """Summary, headline tiles, every metric in a table, charts sized to the page, tables with downloads."""
    if run.summary:
        st.markdown(run.summary)
    tiles, rest = split_metrics(run.metrics, task.headline if task else ())
    units = task.metric_units(run.record.params) if task else {}
    for start in range(0, len(tiles), TILES_PER_ROW):
        shown = list(tiles.items())[start:start + TILES_PER_ROW]
        for column, (name, value) in zip(st.columns(TILES_PER_ROW), shown, strict=False):
            column.metric(label(name), number(value, name, units.get(name, "")))
    if rest:
        with st.expander(f"All metrics ({len(run.metrics)})"):
            st.dataframe(metrics_frame(rest), width="stretch", hide_index=True)
    for name, spec in run.charts.items():
        st.vega_lite_chart(own_size(themed_spec(spec)), width="content", theme=None,
                           key=f"chart-{run.record.id}-{name}")
    st.download_button("Download all outputs (zip)", zipped(run.folder), f"workbench-run-{run.record.id}.zip",
                       "application/zip", key=f"download-all-{run.record.id}")
    if run.tables:
        for tab, (name, frame) in zip(st.tabs(list(run.tables)), run.tables.items(), strict=True):
            with tab:
                st.caption(f"{name}: {frame.height:,} rows x {frame.width} columns")
                table(frame.head(10_000), height=min(400, 38 + 35 * min(frame.height, 10_000)))
                st.download_button(f"Download {name}.csv", csv_bytes(frame), f"{name}.csv", "text/csv",
                                   key=f"download-{run.record.id}-{name}")
    for ref in run.record.outputs.get("models", []):
        st.success(f"Registered model **{ref}**.")
        st.page_link(PAGES["models"], label=f"Open {ref} on the Models page", query_params={"model": ref})


def own_size(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec drawn at the size it was designed for, title and legend included (Streamlit otherwise squashes
    layered charts into its own width and height), as SVG (crisp text, readable by assistive tools)."""
    return {**spec, "autosize": {"type": "pad"}, "usermeta": {"embedOptions": {"renderer": "svg"}}}


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """CSV of a table; nested columns (lists) written as text."""
    flat = frame.with_columns(pl.col(name).cast(pl.String) if dtype.is_nested() else pl.col(name)
                              for name, dtype in frame.schema.items() if dtype.is_nested())
    return flat.write_csv().encode()


@st.cache_data(max_entries=8, show_spinner=False)
def profile(_frame: pl.DataFrame, sha256: str) -> pl.DataFrame:
    """Every column's profile with a small bar chart of its shape (histogram, or counts of its top values)."""
    shapes = []
    for name in _frame.columns:
        series = _frame[name].drop_nulls()
        if series.dtype.is_numeric() and series.dtype != pl.Boolean and series.len():
            counts = series.cast(pl.Float64).hist(bin_count=12)["count"].to_list()
        else:
            counts = series.cast(pl.String).value_counts(sort=True).head(8)["count"].to_list()
        shapes.append([int(count) for count in counts])
    return profile_frame(_frame).with_columns(pl.Series("shape", shapes))


def show_profile(frame: pl.DataFrame, sha256: str) -> None:
    shown = profile(frame, sha256)
    table(shown, height=min(420, 38 + 35 * shown.height), hide_index=True, key=f"profile-{sha256[:12]}",
          column_order=["column", "shape", "dtype", "nulls", "null_share", "distinct", "top_values", "mean", "std",
                        "min", "median", "max"],
          columns={"shape": st.column_config.BarChartColumn("shape", y_min=0,
                                                            help="Histogram, or counts of the top values"),
                   "null_share": st.column_config.NumberColumn("null share", format="percent")})
