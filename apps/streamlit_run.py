"""The Run page: bring data, pick a task, fill its form, and start it as a background run."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from workbench.errors import WorkbenchError, first_line
from workbench.execution.jobs import submit
from workbench.execution.request import RunRequest
from workbench.io.tables import read_table, safe_file_name
from workbench.registry import DatasetRecord
from workbench.sdk.task import Task
from workbench_apps.streamlit_form import initial, param_inputs
from workbench_apps.streamlit_results import show_profile
from workbench_apps.streamlit_shared import KEEP, open_run, registry, signed_in_user, table, task_catalog

UPLOAD, REGISTERED = "Upload a file", "A registered dataset"
FIT, APPLY = "Fit a new model", "Apply a registered model"
ENCODINGS = ["utf-8", "windows-1252", "latin-1", "utf-16"]
# Advice in errors that names a command-line option, and the field on this page that does the same.
CLI_ADVICE = {"pass --encoding with the file's encoding": "choose the file's encoding in 'Text encoding of uploads'",
              "pass --encoding": "choose the file's encoding in 'Text encoding of uploads'",
              ", or --delimiter": ", or save it with commas"}


def page() -> None:
    chosen = choose_data()
    if chosen is None:
        return
    frame, record = chosen
    preview, profiled = st.tabs(["Preview", "Profile"])
    with preview:
        table(frame.head(200), height=250, key=f"preview-{record.ref}")
    with profiled:
        show_profile(frame, record.sha256)
    tasks = task_catalog()
    name = st.selectbox("Task", sorted(tasks), format_func=lambda n: f"{tasks[n].title} ({n})", key=f"{KEEP}task")
    task = tasks[name]
    st.caption(task.summary)
    model_ref, defaults = choose_model(task)
    with st.container(border=True):  # not a form: every value is kept as soon as it is set
        values = param_inputs(task, frame, defaults, applying=model_ref is not None)
        register = None
        if task.applies_models and model_ref is None:
            key = f"{KEEP}register-{name}"
            register = st.text_input("Register the model as", key=key, help="Leave empty to run without keeping "
                                     "the model.", **initial(key, value="")).strip() or None
        seed = st.number_input("seed", step=1, key=f"{KEEP}seed", help="The run's one random seed; the same seed "
                               "gives the same results.", **initial(f"{KEEP}seed", value=0))
        if st.button("Run", type="primary", key=f"run-{name}"):
            start(task, frame, record, values, model_ref, register, int(seed or 0))


def choose_data() -> tuple[pl.DataFrame, DatasetRecord] | None:
    """The data to run on: an upload is registered at once, then picked like any registered dataset."""
    source = st.radio("Data", [UPLOAD, REGISTERED], horizontal=True, key=f"{KEEP}data-source")
    if source == UPLOAD:
        st.text_input("Register uploads as", key=f"{KEEP}upload-name", placeholder="the file's name",
                      help="The dataset name for the next upload.")
        st.selectbox("Text encoding of uploads", ENCODINGS, key=f"{KEEP}upload-encoding",
                     help="How a CSV or JSON file's characters are written; most are utf-8, older Excel exports "
                     "often windows-1252.")
        st.file_uploader("CSV, TSV, Parquet or JSON", type=["csv", "tsv", "txt", "parquet", "json", "jsonl"],
                         key="upload", on_change=register_upload)
        if "upload-error" in st.session_state:
            st.error(st.session_state.pop("upload-error"))
        return None
    if "upload-note" in st.session_state:
        st.success(st.session_state.pop("upload-note"))
    records = sorted(registry().datasets.list(), key=lambda r: r.created_at, reverse=True)
    if not records:
        st.info("No registered datasets yet: upload a file.")
        return None
    refs = [record.ref for record in records]
    key = f"{KEEP}dataset-ref"
    if st.session_state.get(key) not in refs:
        st.session_state.pop(key, None)
    ref = st.selectbox("Dataset", refs, key=key, format_func=lambda r: f"{r} ({_rows(records, r)} rows)")
    record = registry().datasets.get(ref)
    return registry().datasets.load(ref), record


def _rows(records: list[DatasetRecord], ref: str) -> str:
    return f"{next(r.n_rows for r in records if r.ref == ref):,}"


def register_upload() -> None:
    """Read and register the file just uploaded; a bad file is one line of explanation, never a traceback."""
    upload = st.session_state.get("upload")
    if upload is None:
        return
    safe = safe_file_name(upload.name)
    name = (st.session_state.get(f"{KEEP}upload-name") or "").strip() or dataset_name(safe)
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / safe
            path.write_bytes(upload.getvalue())
            frame = read_table(path, encoding=st.session_state.get(f"{KEEP}upload-encoding") or "utf-8")
        record = registry().datasets.add(name, frame, source=f"upload:{safe}")
    except WorkbenchError as error:
        message = first_line(error).replace(str(path), safe)
        for cli, field in CLI_ADVICE.items():
            message = message.replace(cli, field)
        st.session_state["upload-error"] = f"{safe} was not registered: {message}"
        return
    st.session_state[f"{KEEP}dataset-ref"] = record.ref
    st.session_state[f"{KEEP}data-source"] = REGISTERED
    st.session_state["upload-note"] = f"Registered {safe} as dataset {record.ref} ({record.n_rows:,} rows)."


def dataset_name(filename: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(filename).stem).strip("-.") or "upload"
    return stem[:64]


def choose_model(task: Task[Any]) -> tuple[str | None, dict[str, Any]]:
    """Fit, or apply one of the task's registered models (whose parameters become the form's defaults)."""
    if not task.applies_models:
        return None, {}
    models = registry().models.list(task=task.name)
    if not models:
        return None, {}
    if st.radio("Mode", [FIT, APPLY], horizontal=True, key=f"{KEEP}mode-{task.name}") == FIT:
        return None, {}
    refs = [m.ref for m in reversed(models)]
    key = f"{KEEP}model-{task.name}"
    if st.session_state.get(key) not in refs:
        st.session_state.pop(key, None)
    ref = st.selectbox("Model", refs, key=key)
    return ref, registry().models.get(ref).params


def start(task: Task[Any], frame: pl.DataFrame, record: DatasetRecord, values: dict[str, Any], model_ref: str | None,
          register: str | None, seed: int) -> None:
    """Queue the run (everything is checked first) and open it; a refusal is shown right here, in full."""
    request = RunRequest(task, record.ref, params=values, model=model_ref, register=register, seed=seed,
                         user=signed_in_user())
    try:
        run_id = submit(request, registry())
    except WorkbenchError as error:
        st.error(str(error))
        return
    open_run(run_id)
