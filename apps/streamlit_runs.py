"""The Runs page: every run, and one run in full: live progress and Cancel, or its results, report and re-run."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from workbench.errors import WorkbenchError
from workbench.presentation.numbers import duration
from workbench.presentation.reports import load_run
from workbench.registry import RunRecord
from workbench.registry.records import FINAL_STATUSES
from workbench_apps.streamlit_form import widget_values
from workbench_apps.streamlit_results import show_results
from workbench_apps.streamlit_shared import KEEP, PAGES, registry, report_url, table, task_catalog

ALL = "(all)"
STATUS_ICONS = {"queued": ":material/schedule:", "running": ":material/play_circle:",
                "succeeded": ":material/check_circle:", "failed": ":material/error:", "cancelled": ":material/cancel:",
                "interrupted": ":material/warning:"}
ENDINGS = {"failed": "Failed", "cancelled": "Cancelled on request; nothing was registered",
           "interrupted": "Interrupted: its process ended before the run finished; nothing was registered"}


def page() -> None:
    chosen = st.query_params.get("run")
    if chosen and chosen.isdigit():
        if st.button("← All runs"):
            st.query_params.clear()
            st.rerun()
        show_run(int(chosen))
        return
    runs_list()


def runs_list() -> None:
    left, right = st.columns(2)
    task = left.selectbox("Task", [ALL, *sorted(task_catalog())], key=f"{KEEP}runs-task")
    status = right.selectbox("Status", [ALL, *STATUS_ICONS], key=f"{KEEP}runs-status")
    records = registry().runs.list(None if task == ALL else task, None if status == ALL else status, limit=500)
    if not records:
        st.info("No runs recorded yet.")
        return
    frame = pl.DataFrame([{"run": r.id, "task": r.task, "status": r.status,
                           "inputs": ", ".join(r.inputs), "started": r.started_at,
                           "duration": duration(r.duration_s), "models": ", ".join(r.outputs.get("models", [])),
                           "error": r.error or ""} for r in records])
    st.caption("Select a run to open it.")
    picked = table(frame, key="runs-table", on_select="rerun", selection_mode="single-row", hide_index=True)
    rows = picked.selection.rows if picked is not None else []
    if rows:
        st.query_params["run"] = str(frame["run"][rows[0]])
        st.rerun()


def show_run(run_id: int) -> None:
    try:
        record = registry().runs.get(run_id)
    except WorkbenchError as error:
        st.error(str(error))
        return
    st.subheader(f"Run #{record.id}: {record.task}")
    if record.status not in FINAL_STATUSES:
        live(run_id)
        return
    status_line(record)
    actions(record)
    if record.status != "succeeded":
        message = ENDINGS.get(record.status, record.status)
        if record.status == "failed" and record.error:
            message += f": {record.error}"
        st.error(message)
        return
    try:
        recorded = load_run(registry(), run_id)
    except WorkbenchError as error:
        st.error(str(error))
        return
    show_results(recorded, task_catalog().get(record.task))


@st.fragment(run_every=1.0)
def live(run_id: int) -> None:
    """Progress of a queued or running run, refreshed every second; the page reloads when it ends."""
    record = registry().runs.get(run_id)
    if record.status in FINAL_STATUSES:
        st.rerun()
    status_line(record)
    progress = record.progress or {}
    if record.status == "queued":
        st.info("Queued: it starts when the runs before it have finished.")
    else:
        done, total = progress.get("done") or 0, progress.get("total")
        share = min(done / total, 1.0) if total else 0.0
        step = progress.get("step") or "starting"
        count = f"{done:,} of {total:,}" if total else f"{done:,}"
        st.progress(share, text=f"{step}: {count}" + (f" ({progress['note']})" if progress.get("note") else ""))
        elapsed = progress.get("elapsed")
        eta = progress.get("eta")
        st.caption(" · ".join(part for part in (
            f"elapsed {duration(elapsed)}" if elapsed is not None else "",
            f"about {duration(eta)} left in this step" if eta is not None else "",
            f"steps done: {', '.join(progress.get('steps_done', []))}" if progress.get("steps_done") else "")
            if part))
    if record.cancel_requested:
        st.warning("Cancelling…")
    elif st.button("Cancel", key=f"cancel-{run_id}", type="secondary"):
        registry().runs.request_cancel(run_id)
        st.rerun()


def status_line(record: RunRecord) -> None:
    started = f" · started {record.started_at:%Y-%m-%d %H:%M:%S}" if record.started_at else ""
    took = f" · took {duration(record.duration_s)}" if record.duration_s else ""
    st.caption(f"{STATUS_ICONS.get(record.status, '')} **{record.status}** · inputs: {', '.join(record.inputs)} · "
               f"seed {record.seed}{started}{took}")


def actions(record: RunRecord) -> None:
    """Re-run (the form filled with this run's values, editable) and the report link."""
    left, right = st.columns([2, 3])
    if record.request and left.button("Run again with these settings", key=f"rerun-{record.id}"):
        prefill(record)
        st.switch_page(PAGES["run"])
    if record.status == "succeeded":
        right.markdown(f"[Open the report of run #{record.id}]({report_url(record.id)})")


def prefill(record: RunRecord) -> None:
    """Put a past run's data, task, parameters, model and seed into the Run page's form."""
    asked: dict[str, Any] = record.request
    task = task_catalog().get(record.task)
    # The dataset it was queued with, or (a CLI run) the version it registered when it succeeded.
    dataset = asked.get("dataset") or (record.inputs[0] if record.status == "succeeded" and record.inputs else None)
    if task is None or dataset is None:
        return
    state = st.session_state
    state[f"{KEEP}data-source"] = "A registered dataset"
    state[f"{KEEP}dataset-ref"] = dataset
    state[f"{KEEP}task"] = record.task
    if task.applies_models:
        state[f"{KEEP}mode-{record.task}"] = "Apply a registered model" if asked.get("model") else "Fit a new model"
        if asked.get("model"):
            state[f"{KEEP}model-{record.task}"] = asked["model"]
        else:
            state[f"{KEEP}register-{record.task}"] = asked.get("register") or ""
    state[f"{KEEP}seed"] = int(asked.get("seed", 0))
    params = record.params if not asked.get("model") else {**asked.get("params", {})}
    for key, value in widget_values(task, params).items():
        state[key] = value
