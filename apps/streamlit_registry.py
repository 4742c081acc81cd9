"""The Models, Datasets and Audit pages: what the registry holds, with lineage, aliases and downloads, and who
cancelled runs, moved aliases or annotated runs."""

from __future__ import annotations

import polars as pl
import streamlit as st

from workbench.errors import WorkbenchError
from workbench.presentation.reports import metrics_frame, zipped
from workbench.registry import ModelRecord
from workbench_apps.streamlit_results import show_profile
from workbench_apps.streamlit_shared import PAGES, registry, signed_in_user, table


def models_page() -> None:
    records = registry().models.list()
    if not records:
        st.info("No models yet: run a task with 'Register the model as' filled in.")
        return
    frame = pl.DataFrame([{"model": r.ref, "task": r.task, "aliases": ", ".join(r.aliases), "run": r.run_id,
                           "inputs": ", ".join(r.inputs), "created": r.created_at} for r in records])
    table(frame, hide_index=True, key="models-table")
    refs = [r.ref for r in reversed(records)]
    wanted = st.query_params.get("model")
    ref = st.selectbox("Model", refs, index=refs.index(wanted) if wanted in refs else 0, key="model-pick")
    record = registry().models.get(ref)
    st.subheader(record.ref)
    lineage(record)
    left, right = st.columns(2)
    with left:
        st.markdown("**Metrics**")
        st.dataframe(metrics_frame(record.metrics), hide_index=True, width="stretch")
    with right:
        st.markdown("**Parameters**")
        st.json(record.params, expanded=False)
        st.download_button("Download the artifact (zip)", zipped(record.path), f"{record.name}-v{record.version}.zip",
                           "application/zip", key=f"artifact-{record.ref}")
    aliases(record)


def lineage(record: ModelRecord) -> None:
    """Model -> run -> dataset version, each a link to its page."""
    parts = st.columns([2, 2, 3])
    parts[0].markdown(f"**Task** `{record.task}`  \n**sha256** `{record.sha256[:16]}`")
    if record.run_id is not None:
        parts[1].page_link(PAGES["runs"], label=f"Made by run #{record.run_id}",
                           query_params={"run": str(record.run_id)})
    for position, ref in enumerate(record.inputs):  # the dataset first, then any model the run applied
        page, key = ("datasets", "dataset") if position == 0 else ("models", "model")
        parts[2].page_link(PAGES[page], label=f"Input: {ref}", query_params={key: ref})


def aliases(record: ModelRecord) -> None:
    left, right = st.columns(2)
    with left, st.form("set-alias"):
        alias = st.text_input("Point an alias at this version", placeholder="champion")
        if st.form_submit_button("Set alias") and alias.strip():
            try:
                registry().models.set_alias(record.ref, alias.strip(), user=signed_in_user())
            except WorkbenchError as error:
                st.error(str(error))
            else:
                st.rerun()
    own = [alias for alias in record.aliases if alias != "latest"]
    with right:
        if not own:
            st.caption("No aliases of its own ('latest' always points at the newest version).")
            return
        with st.form("delete-alias"):
            alias = st.selectbox("Delete an alias", own)
            if st.form_submit_button("Delete alias"):
                try:
                    registry().models.delete_alias(record.name, alias, user=signed_in_user())
                except WorkbenchError as error:
                    st.error(str(error))
                else:
                    st.rerun()


def datasets_page() -> None:
    records = registry().datasets.list()
    if not records:
        st.info("No datasets yet: upload one on the Run page, or `workbench datasets add NAME FILE`.")
        return
    table(pl.DataFrame([{"dataset": r.ref, "rows": r.n_rows, "columns": len(r.schema), "source": r.source,
                         "sha256": r.sha256[:12], "created": r.created_at} for r in records]),
          hide_index=True, key="datasets-table")
    refs = [r.ref for r in reversed(records)]
    wanted = st.query_params.get("dataset")
    ref = st.selectbox("Dataset", refs, index=refs.index(wanted) if wanted in refs else 0, key="dataset-pick")
    record = registry().datasets.get(ref)
    frame = registry().datasets.load(ref)
    preview, profiled = st.tabs(["Preview", "Profile"])
    with preview:
        table(frame.head(200), height=300, key=f"dataset-preview-{ref}")
    with profiled:
        show_profile(frame, record.sha256)


def audit_page() -> None:
    entries = registry().audit.list(limit=1000)
    if not entries:
        st.info("Nothing yet: cancelling a run, moving an alias or tagging a run is recorded here, with who did it.")
        return
    table(pl.DataFrame([{"when": e.at, "user": e.user, "action": e.action, "target": e.target,
                         "detail": ", ".join(f"{key}={value}" for key, value in e.detail.items() if value)}
                        for e in entries]), hide_index=True, key="audit-table")
