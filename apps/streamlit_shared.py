"""What every dashboard page shares: the registry, the tasks, who is signed in, page links, kept form state, number
formats and charts that follow the light or dark theme."""

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


def signed_in_user() -> str:
    """Who is using the dashboard: the header a signing-in proxy sets (WORKBENCH_USER_HEADER), else the user
    Streamlit's own sign-in (`st.login`, OIDC in secrets.toml) knows, else the operating-system user running it (a
    dashboard for one person). A configured sign-in that has not happened stops the page."""
    from workbench.identity import current_user
    from workbench.settings import setting

    header = setting("WORKBENCH_USER_HEADER")
    if header:
        user = st.context.headers.get(header, "").strip()
        if not user:
            st.error(f"Sign in first: this dashboard takes who you are from the {header} header that its "
                     "signing-in proxy sets, and this request has none.")
            st.stop()
        return str(user[:128])
    if _oidc_configured():
        if not st.user.is_logged_in:
            st.button("Log in", on_click=st.login, type="primary")
            st.stop()
        return str(st.user.get("email") or st.user.get("name") or "unknown")
    return current_user()


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, AttributeError):
        return False
    except Exception:  # noqa: BLE001 - no secrets file at all (Streamlit raises its own error type)
        return False


def report_url(run_id: int, audience: str = "general") -> str:
    """The report app's address for one run and audience: WORKBENCH_REPORTS_URL, else the report app running on
    this workspace (it leaves its address there when it starts), else the default port."""
    from workbench.settings import setting

    base = setting("WORKBENCH_REPORTS_URL") or running_reports_app() or REPORTS_URL
    return f"{base.rstrip('/')}/?{urlencode({'run': run_id, 'audience': audience})}"


def running_reports_app() -> str | None:
    """The address `workbench app shiny` left in the workspace, if its process is still alive."""
    import json

    from workbench.registry.runs import process_alive

    path = registry().workspace.reports_app_file
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return str(found["url"]) if process_alive(int(found.get("pid", 0)), found.get("host")) else None


def dark_theme() -> bool:
    """Whether the page is drawn in Streamlit's dark theme."""
    theme = getattr(st.context, "theme", None)
    return getattr(theme, "type", None) == "dark"


def themed_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A chart drawn for the page's theme: in the dark, light text and lines on a transparent background."""
    from workbench.kit.charts import for_dark_background

    return for_dark_background(spec) if dark_theme() else spec


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
