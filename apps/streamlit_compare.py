"""The Compare page: a leaderboard of a task's runs on one dataset, and promoting the best run's model."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from workbench.errors import WorkbenchError
from workbench.presentation.numbers import label, number, scalar_metrics
from workbench.registry import RunRecord
from workbench_apps.streamlit_shared import KEEP, registry, table, task_catalog

LOWER_IS_BETTER = ("loss", "error", "rmse", "mae", "seconds")


def lower_is_better(metric: str) -> bool:
    return any(word in metric for word in LOWER_IS_BETTER)


def dataset_of(run: RunRecord) -> str:
    """The dataset name a run read (its first input, `name@version`)."""
    return run.inputs[0].split("@")[0].split(" ")[0] if run.inputs else ""


def leaderboard(runs: list[RunRecord], ranking: str, headline: tuple[str, ...] = ()) -> pl.DataFrame:
    """One row per run: the ranking metric and the task's headline metrics first, then the rest; best first."""
    rows = []
    for run in runs:
        metrics = {label(name): value for name, value in scalar_metrics(run.outputs.get("metrics", {})).items()
                   if not isinstance(value, str)}
        rows.append({"best": "", "run": run.id, **metrics, "models": ", ".join(run.outputs.get("models", [])),
                     "started": f"{run.started_at:%Y-%m-%d %H:%M}" if run.started_at else ""})
    frame = pl.DataFrame(rows)
    column = label(ranking)
    if column not in frame.columns:
        return frame
    first = ["best", "run", column, *(c for c in map(label, headline) if c in frame.columns and c != column)]
    frame = frame.select(*first, pl.exclude(first)).sort(column, descending=not lower_is_better(ranking),
                                                        nulls_last=True)
    return frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("★ best")).otherwise(pl.lit(""))
                              .alias("best"))


def page() -> None:
    succeeded = registry().runs.list(status="succeeded", limit=2000)
    tasks = sorted({run.task for run in succeeded})
    if not tasks:
        st.info("No succeeded runs yet: run a task a few times to compare.")
        return
    left, middle, right = st.columns(3)
    task = left.selectbox("Task", tasks, key=f"{KEEP}compare-task")
    runs = [run for run in succeeded if run.task == task]
    datasets = sorted({dataset_of(run) for run in runs})
    dataset = middle.selectbox("Dataset", datasets, key=f"{KEEP}compare-dataset")
    runs = [run for run in runs if dataset_of(run) == dataset]
    metric_names = sorted({name for run in runs for name, value in scalar_metrics(run.outputs.get("metrics", {}))
                           .items() if not isinstance(value, str)})
    headline = task_catalog()[task].headline if task in task_catalog() else ()
    default = next((name for name in headline if name in metric_names), metric_names[0] if metric_names else None)
    if default is None:
        st.info("These runs recorded no numeric metrics to compare.")
        return
    ranking = right.selectbox("Rank by", metric_names, format_func=label, key=f"{KEEP}compare-metric-{task}",
                              index=metric_names.index(default))
    st.caption(f"{len(runs)} runs of {task} on {dataset}, best first by {label(ranking)} "
               f"({'lower' if lower_is_better(ranking) else 'higher'} is better). Click a column to sort.")
    board = leaderboard(runs, ranking, headline)
    table(board, hide_index=True, key=f"board-{task}-{dataset}")
    top = board.row(0, named=True)
    if label(ranking) in board.columns:
        st.success(f"Best: run #{top['run']}, {label(ranking)} {number(top[label(ranking)], ranking)}"
                   + (f" (model {top['models']})" if top["models"] else ""))
    promote(board)


def promote(board: pl.DataFrame) -> None:
    """Point an alias (champion by default) at the model a chosen run registered."""
    with_models = [row for row in board.iter_rows(named=True) if row["models"]]
    if not with_models:
        st.caption("None of these runs registered a model, so there is nothing to promote.")
        return
    with st.form("promote"):
        st.markdown("**Promote a run's model**")
        choices: dict[str, Any] = {f"run #{row['run']}: {row['models']}": row for row in with_models}
        picked = st.selectbox("Run", list(choices))
        alias = st.text_input("Alias", value="champion")
        if st.form_submit_button("Promote"):
            ref = choices[picked]["models"].split(", ")[0]
            try:
                record = registry().models.set_alias(ref, alias.strip())
            except WorkbenchError as error:
                st.error(str(error))
            else:
                st.success(f"{record.name}@{alias.strip()} now points at version {record.version} "
                           f"(from run #{choices[picked]['run']}).")
