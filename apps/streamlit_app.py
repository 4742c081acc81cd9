"""The analysts' dashboard: bring data, run any task in the background, follow it, compare runs, keep models.

Started by `workbench app streamlit`. Every page is generated from the Task API and the registry; runs go to a
worker process (`workbench.execution.jobs`), so they survive page changes, reloads and closed tabs.
"""

from __future__ import annotations

import streamlit as st

from workbench.presentation.markdown import safe_markdown
from workbench_apps import streamlit_compare, streamlit_registry, streamlit_run, streamlit_runs
from workbench_apps.streamlit_shared import PAGES, keep_widget_state, registry, signed_in_user

st.set_page_config(page_title="workbench", layout="wide")
keep_widget_state()
PAGES.update({
    "run": st.Page(streamlit_run.page, title="Run a task", default=True),
    "runs": st.Page(streamlit_runs.page, title="Runs", url_path="runs"),
    "compare": st.Page(streamlit_compare.page, title="Compare", url_path="compare"),
    "models": st.Page(streamlit_registry.models_page, title="Models", url_path="models"),
    "datasets": st.Page(streamlit_registry.datasets_page, title="Datasets", url_path="datasets"),
    "audit": st.Page(streamlit_registry.audit_page, title="Audit", url_path="audit"),
})
current = st.navigation(list(PAGES.values()))
st.sidebar.caption(f"Signed in as **{safe_markdown(signed_in_user())}** · registry: {registry().home}")
st.title(current.title)
current.run()
