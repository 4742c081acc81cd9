"""The Compare page: a task's runs on one dataset (or one sweep or pipeline run) ranked by the task's headline
metric, with the parameters that differ and a chart of the metric across runs; promoting the best model."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from workbench.errors import WorkbenchError
from workbench.presentation.leaderboard import leaderboard, ranking_of
from workbench.presentation.numbers import label, number, scalar_metrics
from workbench.presentation.run_search import dataset_of
from workbench.registry import RunRecord
from workbench_apps.streamlit_results import own_size
from workbench_apps.streamlit_shared import registry, signed_in_user, table, task_catalog, themed_spec


def page() -> None:
    runs = registry().runs.list(status="succeeded", limit=2000)
    group = st.query_params.get("group")
    if group and group.isdigit():
        runs = [run for run in runs if run.group_id == int(group)]
        st.caption(f"Runs of {registry().runs.group(int(group)).kind} #{group} only.")
    tasks = sorted({run.task for run in runs})
    if not tasks:
        st.info("No succeeded runs yet: run a task a few times to compare.")
        return
    left, middle, right = st.columns(3)
    most = max(tasks, key=lambda name: sum(run.task == name for run in runs))  # the task with most runs to compare
    task = _address_select(left, "Task", "task", tasks, default=most)
    runs = [run for run in runs if run.task == task]
    datasets = sorted({dataset_of(run) for run in runs})
    dataset = _address_select(middle, "Dataset", "dataset", datasets)
    runs = [run for run in runs if dataset_of(run) == dataset]
    metrics = sorted({name for run in runs for name, value in scalar_metrics(run.outputs.get("metrics", {})).items()
                      if isinstance(value, int | float) and not isinstance(value, bool)})
    found = ranking_of(runs, task_catalog().get(task))
    if not metrics:
        st.info("These runs recorded no numeric metrics to compare.")
        return
    default = found[0] if found else metrics[0]
    ranking = _address_select(right, "Rank by", "metric", metrics, default=default, format_func=label)
    board = leaderboard(runs, task_catalog().get(task), None if ranking == default else ranking)
    lower = (ranking_of(runs, task_catalog().get(task), ranking) or (ranking, False))[1]
    st.caption(f"{len(runs)} runs of {task} on {dataset}, best first by {label(ranking)} "
               f"({'lower' if lower else 'higher'} is better)"
               + (" — the task's headline metric" if ranking == default and found else "")
               + ". Columns between the metric and the user are the parameters that differ. Click a column to sort.")
    table(board, hide_index=True, key=f"board-{task}-{dataset}")
    top = board.row(0, named=True)
    if top.get(label(ranking)) is not None:
        st.success(f"Best: run #{top['run']}, {label(ranking)} {number(top[label(ranking)], ranking)}"
                   + (f" (model {top['models']})" if top["models"] else ""))
    if len(runs) > 1:
        st.vega_lite_chart(own_size(themed_spec(metric_chart(runs, ranking))), theme=None,
                           key=f"chart-{task}-{ranking}")
    promote(board)


def metric_chart(runs: list[RunRecord], metric: str) -> dict[str, Any]:
    """The metric of each run, in the order they ran."""
    values = [{"run": f"#{run.id}", "order": run.id, label(metric): scalar_metrics(run.outputs["metrics"]).get(metric)}
              for run in runs if isinstance(scalar_metrics(run.outputs.get("metrics", {})).get(metric), int | float)]
    return {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "data": {"values": values},
            "title": f"{label(metric)} by run", "width": 600, "height": 220, "mark": {"type": "bar"},
            "encoding": {"x": {"field": "run", "type": "nominal", "sort": {"field": "order"}, "title": "run"},
                         "y": {"field": label(metric), "type": "quantitative"},
                         "tooltip": [{"field": "run"}, {"field": label(metric), "type": "quantitative"}]}}


def _address_select(where: Any, title: str, name: str, options: list[str], default: str | None = None,
                    format_func: Any = str) -> str:
    """A choice kept in the address under `name`, so a comparison can be shared as a link."""
    wanted = st.query_params.get(name, default)
    picked = where.selectbox(title, options, index=options.index(wanted) if wanted in options else 0,
                             format_func=format_func, key=f"compare-{name}-{'-'.join(options)[:200]}")
    st.query_params[name] = str(picked)
    return str(picked)


def promote(board: pl.DataFrame) -> None:
    """Point an alias (champion by default) at the model a chosen run registered (its owner or an admin)."""
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
                record = registry().models.set_alias(ref, alias.strip(), user=signed_in_user())
            except WorkbenchError as error:
                st.error(str(error))
            else:
                st.success(f"{record.name}@{alias.strip()} now points at version {record.version} "
                           f"(from run #{choices[picked]['run']}).")
