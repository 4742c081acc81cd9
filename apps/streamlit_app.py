"""The analysts' dashboard: bring data, pick a task, set its parameters, run it, read the results, keep the model.

Started by `workbench app streamlit`; every page is generated from the Task API and the registry.
"""

from __future__ import annotations

import os
import re
import tempfile
import traceback
from pathlib import Path

import polars as pl
import streamlit as st

from workbench import plugins
from workbench.describe import profile_frame
from workbench.errors import WorkbenchError, one_line
from workbench.io import read_table
from workbench.params import build_params
from workbench.registry import Registry, default_home
from workbench.runner import RunRequest, run_task
from workbench.task import Task
from workbench_apps.streamlit_form import StreamlitProgress, param_inputs
from workbench_apps.streamlit_results import datasets_page, models_page, runs_page, show_result

PAGES = ("Run a task", "Datasets", "Models", "Runs")


def registry() -> Registry:
    """The registry of WORKBENCH_HOME / WORKBENCH_REGISTRY_URL, opened once per process."""
    return _open_registry(str(default_home()), os.environ.get("WORKBENCH_REGISTRY_URL"))


@st.cache_resource
def _open_registry(home: str, url: str | None) -> Registry:
    return Registry(url, Path(home))


@st.cache_resource
def task_catalog() -> dict[str, Task]:
    return plugins.tasks()


@st.cache_data(max_entries=8)
def profile(_frame: pl.DataFrame, sha256: str) -> pl.DataFrame:
    return profile_frame(_frame)


def choose_data() -> tuple[pl.DataFrame, str, str] | None:
    """The data to run on, as (frame, dataset name, dataset version sha); an upload is registered at once."""
    source = st.radio("Data", ["Upload a file", "A registered dataset"], horizontal=True, key="data-source")
    if source == "Upload a file":
        upload = st.file_uploader("CSV, TSV, Parquet or JSON", type=["csv", "tsv", "txt", "parquet", "json"])
        if upload is None:
            return None
        name = st.text_input("Dataset name", value=_dataset_name(upload.name), key=f"name-{upload.file_id}")
        cached = st.session_state.get("upload")
        if cached is None or cached[0] != (upload.file_id, name):
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / upload.name
                path.write_bytes(upload.getvalue())
                frame = read_table(path)
            record = registry().add_dataset(name, frame, source=f"upload:{upload.name}")
            st.session_state["upload"] = cached = ((upload.file_id, name), frame, record)
        _, frame, record = cached
        st.caption(f"Registered as dataset **{record.ref}** ({record.n_rows:,} rows).")
        return frame, record.name, record.sha256
    records = registry().datasets()
    if not records:
        st.info("No registered datasets yet: upload a file.")
        return None
    ref = st.selectbox("Dataset", [r.ref for r in records], key="dataset-ref")
    record = registry().dataset(ref)
    return registry().load_dataset(ref), record.name, record.sha256


def _dataset_name(filename: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(filename).stem).strip("-.") or "upload"
    return stem[:64]


def run_page() -> None:
    chosen = choose_data()
    if chosen is None:
        return
    frame, dataset_name, sha256 = chosen
    preview, profiled = st.tabs(["Preview", "Profile"])
    preview.dataframe(frame.head(200), width="stretch", height=250)
    profiled.dataframe(profile(frame, sha256), width="stretch", height=250)

    tasks = task_catalog()
    name = st.selectbox("Task", sorted(tasks), format_func=lambda n: f"{tasks[n].title} ({n})", key="task")
    task = tasks[name]
    st.caption(task.summary)
    model_ref, defaults = None, {}
    models = [m for m in registry().models() if m.task == name] if task.applies_models else []
    if models and st.radio("Mode", ["Fit a new model", "Apply a registered model"], horizontal=True,
                           key=f"mode-{name}") == "Apply a registered model":
        model_ref = st.selectbox("Model", [m.ref for m in models], key=f"model-{name}")
        defaults = registry().model(model_ref).params
    with st.form(f"form-{name}-{model_ref}"):
        values = param_inputs(task, frame.columns, defaults)
        register = None
        if task.applies_models and model_ref is None:
            register = st.text_input("Register the model as", key=f"register-{name}",
                                     help="Leave empty to run without registering a model.").strip() or None
        submitted = st.form_submit_button("Run", type="primary")
    if submitted:
        run(task, frame, dataset_name, values, model_ref, register)
    last = st.session_state.get("last_run")
    if last is not None and last[0] == name:
        show_result(last[1], last[2])


def run(task: Task, frame: pl.DataFrame, dataset_name: str, values: dict, model_ref: str | None,
        register: str | None) -> None:
    """Validate the form, run the task with live progress, and keep the outcome for the page to show."""
    try:
        if model_ref is None:
            build_params(task.name, task.Params, values)
    except WorkbenchError as error:
        st.error(str(error))
        return
    request = RunRequest(task.name, frame, dataset_name, source="dashboard", params=values, model=model_ref,
                         register=register)
    with st.status(f"Running {task.name} ...", expanded=True) as status:
        try:
            outcome = run_task(request, registry(), StreamlitProgress(st.container()))
        except WorkbenchError as error:
            status.update(label=f"{task.name} stopped", state="error")
            st.error(str(error))
            return
        except Exception as error:  # a task's own failure: a message, with details on request
            status.update(label=f"{task.name} failed", state="error")
            st.error(f"The task failed: {one_line(error)}")
            with st.expander("Details"):
                st.code(traceback.format_exc())
            return
        status.update(label=f"{task.name}: run #{outcome.run_id} finished", state="complete", expanded=False)
    st.session_state["last_run"] = (task.name, outcome.run_id, outcome.result)


def main() -> None:
    st.set_page_config(page_title="workbench", layout="wide")
    st.sidebar.title("workbench")
    page = st.sidebar.radio("Page", PAGES, key="page")
    st.sidebar.caption(f"Registry: {registry().home}")
    st.title(page)
    if page == "Run a task":
        run_page()
    elif page == "Datasets":
        datasets_page(registry())
    elif page == "Models":
        models_page(registry())
    else:
        runs_page(registry(), sorted(task_catalog()))


main()
