"""Showing a run's results and the registry's contents in Streamlit."""

from __future__ import annotations

import json

import polars as pl
import streamlit as st

from workbench.output import jsonable
from workbench.registry import Registry
from workbench.reports import scalar_metrics
from workbench.task import Result

METRICS_PER_ROW = 5


def show_result(run_id: int, result: Result) -> None:
    """Summary, metrics, charts, tables (sortable, downloadable) and the models the run registered."""
    st.subheader(f"Results of run #{run_id}")
    if result.summary:
        st.markdown(result.summary)
    scalars = scalar_metrics(result.metrics)
    for start in range(0, len(scalars), METRICS_PER_ROW):
        shown = list(scalars.items())[start:start + METRICS_PER_ROW]
        for column, (name, value) in zip(st.columns(METRICS_PER_ROW), shown,
                                         strict=False):
            column.metric(name, _short(value))
    others = {k: v for k, v in result.metrics.items() if k not in scalars}
    if others:
        with st.expander("More metrics"):
            st.json(jsonable(others))
    for name, chart in result.charts.items():
        st.altair_chart(chart, width="content", key=f"chart-{run_id}-{name}")
    if result.tables:
        for tab, (name, table) in zip(st.tabs(list(result.tables)), result.tables.items(), strict=True):
            with tab:
                st.caption(f"{name}: {table.height:,} rows x {table.width} columns")
                st.dataframe(table.head(10_000), width="stretch")
                st.download_button(f"Download {name}.csv", table.write_csv(), f"{name}.csv", "text/csv",
                                   key=f"download-{run_id}-{name}")
    for record in result.registered:
        st.success(f"Registered model **{record.ref}** (sha256 {record.sha256[:12]}).")


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else value


def datasets_page(registry: Registry) -> None:
    records = registry.datasets()
    if not records:
        st.info("No datasets yet: upload one on the Run page, or `workbench datasets add FILE`.")
        return
    st.dataframe(pl.DataFrame([{"dataset": r.ref, "rows": r.n_rows, "columns": len(r.schema), "source": r.source,
                                "sha256": r.sha256[:12], "created": r.created_at} for r in records]),
                 width="stretch")
    ref = st.selectbox("Preview", [r.ref for r in records])
    st.dataframe(registry.load_dataset(ref).head(200), width="stretch")


def models_page(registry: Registry) -> None:
    records = registry.models()
    if not records:
        st.info("No models yet: run a task with 'Register the model as' filled in.")
        return
    st.dataframe(pl.DataFrame([{"model": r.ref, "task": r.task, "aliases": ", ".join(r.aliases),
                                "inputs": ", ".join(r.inputs), "metrics": json.dumps(jsonable(r.metrics)),
                                "created": r.created_at} for r in records]), width="stretch")
    ref = st.selectbox("Lineage of", [r.ref for r in records])
    record = registry.model(ref)
    left, right = st.columns(2)
    left.markdown(f"**Task** `{record.task}` · **inputs** {', '.join(record.inputs)} · "
                  f"**sha256** `{record.sha256[:16]}`")
    left.json(record.params)
    right.json(jsonable(record.metrics))
    with st.form("alias"):
        alias = st.text_input("Alias", help="Point a name such as 'production' at this version.")
        if st.form_submit_button("Set alias") and alias:
            from workbench.errors import WorkbenchError

            try:
                updated = registry.set_alias(ref, alias.strip())
            except WorkbenchError as error:
                st.error(str(error))
            else:
                st.success(f"{alias} now points at {updated.ref}.")


def runs_page(registry: Registry, tasks: list[str]) -> None:
    task = st.selectbox("Task", ["(all)", *tasks])
    records = registry.runs(None if task == "(all)" else task, limit=200)
    if not records:
        st.info("No runs recorded yet.")
        return
    st.dataframe(pl.DataFrame([{"run": r.id, "task": r.task, "status": r.status, "seconds": r.duration_s,
                                "inputs": ", ".join(r.inputs), "models": ", ".join(r.outputs.get("models", [])),
                                "error": r.error or "", "started": r.started_at} for r in records]),
                 width="stretch")
