"""The Runs page: every run, searched and filtered like MLflow's (all filters live in the address), with the
columns you choose; selecting one opens it (`streamlit_run_detail`)."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from workbench.errors import WorkbenchError
from workbench.presentation.numbers import duration, label
from workbench.presentation.run_search import EXAMPLE, dataset_of, search_runs, searchable_columns, value_of
from workbench.registry import RunRecord
from workbench_apps.streamlit_run_detail import STATUS_ICONS, show_run
from workbench_apps.streamlit_shared import registry, table

ALL = "(all)"
FILTERS = ("task", "status", "user", "dataset")  # choices, each kept in the address under its name
LISTED = 2000


def page() -> None:
    chosen = st.query_params.get("run")
    if chosen and chosen.isdigit():
        if st.button("← All runs"):
            del st.query_params["run"]
            st.rerun()
        show_run(int(chosen))
        return
    runs_list()


def runs_list() -> None:
    every = registry().runs.list(limit=LISTED)
    if not every:
        st.info("No runs recorded yet.")
        return
    options = {"task": sorted({r.task for r in every}), "status": list(STATUS_ICONS),
               "user": sorted({r.user for r in every if r.user}), "dataset": sorted({dataset_of(r) for r in every})}
    chosen = {name: _address_choice(name, options[name], column)
              for name, column in zip(FILTERS, st.columns(len(FILTERS)), strict=True)}
    search = st.text_input("Search", value=st.query_params.get("q", ""), placeholder=EXAMPLE, key="runs-search",
                           help="Conditions on metrics, params and tags (`=`, `!=`, `<`, `<=`, `>`, `>=`), "
                                "joined by `and`.").strip()
    _to_address("q", search)
    runs = [run for run in every if all(chosen[name] in (None, _field(run, name)) for name in FILTERS)]
    try:
        runs = search_runs(runs, search)
    except WorkbenchError as error:
        st.error(str(error))
        return
    available = searchable_columns(runs)
    wanted = [name for name in st.query_params.get("columns", "").split(",") if name in available]
    columns = st.multiselect("Columns", available, default=wanted, key="runs-columns", format_func=_column_label,
                             help="Parameters and metrics to show for each run.")
    _to_address("columns", ",".join(columns))
    if not runs:
        st.info("No run matches these filters.")
        return
    frame = runs_frame(runs, columns)
    st.caption(f"{len(runs):,} runs{' (the newest ' + f'{LISTED:,})' if len(every) == LISTED else ''}. "
               "Select a run to open it.")
    picked = table(frame, key="runs-table", on_select="rerun", selection_mode="single-row", hide_index=True)
    rows = picked.selection.rows if picked is not None else []
    if rows:
        st.query_params["run"] = str(frame["run"][rows[0]])
        st.rerun()


def runs_frame(runs: list[RunRecord], columns: list[str]) -> pl.DataFrame:
    """One row per run: who ran what on which data, the chosen parameter and metric columns, tags and note."""
    rows = []
    for run in runs:
        row: dict[str, Any] = {"run": run.id, "task": run.task, "status": run.status, "user": run.user or "",
                               "inputs": ", ".join(run.inputs)}
        for column in columns:
            kind, name = column.split(".", 1)
            row[_column_label(column)] = value_of(run, kind, name)
        row.update({"tags": ", ".join(f"{key}={value}" for key, value in run.tags.items()), "note": run.note or "",
                    "started": run.started_at, "duration": duration(run.duration_s),
                    "models": ", ".join(run.outputs.get("models", [])), "error": run.error or ""})
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)


def _column_label(column: str) -> str:
    kind, name = column.split(".", 1)
    return f"{label(name)} ({'param' if kind == 'params' else 'metric'})"


def _field(run: RunRecord, name: str) -> str | None:
    return {"task": run.task, "status": run.status, "user": run.user, "dataset": dataset_of(run)}[name]


def _address_choice(name: str, options: list[str], where: Any) -> str | None:
    """A filter whose choice is read from and written to the address (so a filtered list can be shared)."""
    wanted = st.query_params.get(name)
    choices = [ALL, *options]
    picked = where.selectbox(name.capitalize(), choices, index=choices.index(wanted) if wanted in choices else 0,
                             key=f"runs-{name}")
    _to_address(name, "" if picked == ALL else picked)
    return None if picked == ALL else str(picked)


def _to_address(name: str, value: str) -> None:
    if value:
        st.query_params[name] = value
    elif name in st.query_params:
        del st.query_params[name]
