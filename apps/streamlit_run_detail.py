"""One run in full: live progress and Cancel (its owner's or an admin's), or its results, report and re-run; its
tags, note and history (who did what to it)."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from workbench.errors import WorkbenchError
from workbench.execution.jobs import ensure_workers
from workbench.presentation.markdown import safe_markdown
from workbench.presentation.numbers import duration
from workbench.presentation.reports import load_run
from workbench.registry import RunRecord
from workbench.registry.records import FINAL_STATUSES
from workbench_apps.streamlit_form import widget_values
from workbench_apps.streamlit_results import show_results
from workbench_apps.streamlit_shared import KEEP, PAGES, registry, report_url, signed_in_user, task_catalog

STATUS_ICONS = {"queued": ":material/schedule:", "running": ":material/play_circle:",
                "succeeded": ":material/check_circle:", "failed": ":material/error:", "cancelled": ":material/cancel:",
                "interrupted": ":material/warning:"}
ENDINGS = {"failed": "Failed", "cancelled": "Cancelled on request; nothing was registered",
           "interrupted": "Interrupted: its process ended before the run finished; nothing was registered"}


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
    tags_and_note(record)
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
        ensure_workers(registry())  # a worker that died is replaced by the next page that looks
        st.info("Queued: it starts as soon as a worker is free (WORKBENCH_WORKERS of them run at once).")
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
        try:
            registry().runs.request_cancel(run_id, user=signed_in_user())
        except WorkbenchError as error:
            st.session_state[f"cancel-error-{run_id}"] = str(error)
        else:
            st.rerun()
    if f"cancel-error-{run_id}" in st.session_state:
        st.error(st.session_state[f"cancel-error-{run_id}"])


def status_line(record: RunRecord) -> None:
    started = f" · started {record.started_at:%Y-%m-%d %H:%M:%S}" if record.started_at else ""
    took = f" · took {duration(record.duration_s)}" if record.duration_s else ""
    by = f" · by **{safe_markdown(record.user)}**" if record.user else ""
    st.caption(f"{STATUS_ICONS.get(record.status, '')} **{record.status}**{by} · inputs: "
               f"{safe_markdown(', '.join(record.inputs))} · seed {record.seed}{started}{took}")


def actions(record: RunRecord) -> None:
    """Re-run (the form filled with this run's values, editable) and the report link."""
    left, right = st.columns([2, 3])
    if record.request and left.button("Run again with these settings", key=f"rerun-{record.id}"):
        prefill(record)
        st.switch_page(PAGES["run"])
    if record.status == "succeeded":
        right.markdown(f"[Open the report of run #{record.id}]({report_url(record.id)})")


def tags_and_note(record: RunRecord) -> None:
    """Tags and a note, editable by anyone (each change is in the audit trail), and the run's history."""
    with st.expander(f"Tags and note ({len(record.tags)} tags{', a note' if record.note else ''}) · history"):
        with st.form(f"annotate-{record.id}"):
            rows = pl.DataFrame({"tag": list(record.tags), "value": list(record.tags.values())},
                                schema={"tag": pl.String, "value": pl.String})
            edited = st.data_editor(rows.to_pandas(), num_rows="dynamic", hide_index=True, width="stretch",
                                    key=f"tags-{record.id}")
            note = st.text_area("Note", value=record.note or "", key=f"note-{record.id}")
            if st.form_submit_button("Save tags and note"):
                save_annotations(record, edited.to_dict("records"), note)
        history = registry().audit.list(target=f"run #{record.id}")
        if history:
            st.dataframe(pl.DataFrame([{"when": entry.at, "user": entry.user, "action": entry.action,
                                        "detail": str(entry.detail)} for entry in history]),
                         hide_index=True, width="stretch")


def save_annotations(record: RunRecord, rows: list[dict[str, Any]], note: str) -> None:
    tags = {str(row["tag"]).strip(): str(row.get("value") or "").strip() for row in rows
            if row.get("tag") and str(row["tag"]).strip()}
    removed = {key: "" for key in record.tags if key not in tags}
    try:
        registry().runs.annotate(record.id, tags={**tags, **removed}, note=note.strip(), user=signed_in_user())
    except WorkbenchError as error:
        st.error(str(error))
    else:
        st.rerun()


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
