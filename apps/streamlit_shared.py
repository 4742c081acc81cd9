"""What every dashboard page shares: the registry, the tasks, page links, kept form state, number formats."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl
import streamlit as st

from workbench import plugins
from workbench.presentation.numbers import column_format
from workbench.registry import Registry
from workbench.sdk.task import Task
from workbench.workspace import default_home

# Widget keys starting with this survive page changes (Streamlit drops the state of widgets not drawn).
KEEP = "keep:"
REPORTS_URL = "http://127.0.0.1:8000"
PAGES: dict[str, Any] = {}  # name -> st.Page, filled by the app on every run


def registry() -> Registry:
    """The registry of WORKBENCH_HOME / WORKBENCH_REGISTRY_URL, opened once per process."""
    return _open_registry(str(default_home()), os.environ.get("WORKBENCH_REGISTRY_URL"))


@st.cache_resource
def _open_registry(home: str, url: str | None) -> Registry:
    """The dashboard writes (uploads, runs), so it creates the workspace and clears stale leftovers once."""
    return Registry.open(url, Path(home))


@st.cache_resource
def task_catalog() -> dict[str, Task[Any]]:
    return plugins.tasks()


def keep_widget_state() -> None:
    """Re-save kept widget values at the top of every run, so leaving a page does not reset its form."""
    for key in list(st.session_state):
        if isinstance(key, str) and key.startswith(KEEP):
            st.session_state[key] = st.session_state[key]


def report_url(run_id: int, audience: str = "general") -> str:
    """The report app's address for one run and audience (WORKBENCH_REPORTS_URL, else the default port)."""
    base = os.environ.get("WORKBENCH_REPORTS_URL", REPORTS_URL).rstrip("/")
    return f"{base}/?{urlencode({'run': run_id, 'audience': audience})}"


def open_run(run_id: int) -> None:
    """Show run `run_id` on the Runs page (the address keeps it, so a reload shows it again)."""
    st.query_params.clear()
    st.query_params["run"] = str(run_id)
    st.switch_page(PAGES["runs"], query_params={"run": str(run_id)})


def table(frame: pl.DataFrame, height: int | str = "auto", key: str | None = None,
          columns: dict[str, Any] | None = None, **options: Any) -> Any:
    """A sortable table whose numbers read well: years plain, counts grouped, reals with sensible decimals."""
    config: dict[str, Any] = {}
    for name, dtype in frame.schema.items():
        if dtype.is_numeric() and dtype != pl.Boolean:
            fmt = column_format(name, frame[name].head(1000).to_list())
            if fmt:
                config[name] = st.column_config.NumberColumn(name, format=fmt)
    config.update(columns or {})
    return st.dataframe(frame, column_config=config, width="stretch", height=height,  # type: ignore[call-overload]
                        key=key, **options)
