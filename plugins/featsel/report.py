"""What a feature-selection run shows: the comparison, the trials, the Pareto front, charts, summary."""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from workbench.sdk import ACCENT, MUTED, ModelArtifact, Result, themed
from workbench_featsel.problem import Problem
from workbench_featsel.search import SearchResult


def trials_table(problem: Problem, found: SearchResult) -> pl.DataFrame:
    rows = []
    for trial in found.study.get_trials(deepcopy=False):
        if trial.user_attrs.get("surplus"):
            continue
        mask = trial.user_attrs.get("mask") or []
        cv = trial.user_attrs.get("cv_score")
        rows.append({"trial": trial.number, "state": trial.state.name.lower(), "count": sum(mask),
                     "cv_score": problem.shown(cv) if cv is not None else None,
                     "features": ", ".join(n for n, keep in zip(problem.features, mask, strict=False) if keep)})
    return pl.DataFrame(rows, schema={"trial": pl.Int64, "state": pl.String, "count": pl.Int64,
                                      "cv_score": pl.Float64, "features": pl.String})


def comparison_chart(comparison: pl.DataFrame, metric: str) -> Any:
    """CV and test score per method as dots (scores are close: no bars from zero), feature count beside."""
    comparison = comparison.with_columns((pl.col("method") + pl.when(pl.col("best") != "").then(pl.lit(" ★ best"))
                                          .otherwise(pl.lit(""))).alias("method"))
    long = comparison.unpivot(index=["method", "count"], on=["cv_score", "test_score"], variable_name="split",
                              value_name="score").with_columns(pl.col("split").str.replace("_score", ""))
    y = alt.Y("method:N", sort=comparison["method"].to_list(), title=None)
    x = alt.X("score:Q", title=metric, scale=alt.Scale(zero=False, padding=20))
    dots = alt.Chart(long).mark_point(filled=True, size=110, opacity=1).encode(
        y=y, x=x, color=alt.Color("split:N", scale=alt.Scale(domain=["cv", "test"], range=[MUTED, ACCENT]),
                                  title=None),
        tooltip=["method", "split", alt.Tooltip("score:Q", format=".4f"), "count"])
    counts = alt.Chart(comparison).mark_text(align="left", dx=8, color=MUTED, fontSize=11).encode(
        y=y, x=alt.X("max_score:Q"), text=alt.Text("label:N")).transform_calculate(
        max_score="max(datum.cv_score, datum.test_score)", label="datum.count + ' features'")
    return themed((dots + counts).properties(width=420, title=alt.TitleParams(
        "Feature selection methods side by side", subtitle=f"Cross-validated (grey) and held-out (red) {metric}")))


def history_chart(trials: pl.DataFrame, metric: str, lower_is_better: bool) -> Any:
    """Every scored trial and the best CV score so far."""
    scored = trials.filter(pl.col("cv_score").is_not_null())
    best = (pl.col("cv_score").cum_min() if lower_is_better else pl.col("cv_score").cum_max()).alias("best")
    scored = scored.with_columns(best)
    base = alt.Chart(scored).encode(x=alt.X("trial:Q", title="Trial"))
    y = alt.Y("cv_score:Q", title=f"CV {metric}", scale=alt.Scale(zero=False))
    points = base.mark_circle(color=MUTED, opacity=0.6).encode(y=y, tooltip=["trial", "count", "features"])
    line = base.mark_line(color=ACCENT, interpolate="step-after").encode(y="best:Q")
    return themed((points + line).properties(width=460, title=alt.TitleParams(
        "Optuna search", subtitle="Each scored subset (grey) and the best so far (red)")))


def pareto_chart(pareto: pl.DataFrame, trials: pl.DataFrame, metric: str) -> Any:
    y = alt.Y("cv_score:Q", title=f"CV {metric}", scale=alt.Scale(zero=False))
    base = alt.Chart(trials.filter(pl.col("cv_score").is_not_null())).mark_circle(color=MUTED, opacity=0.5).encode(
        x=alt.X("count:Q", title="Features used"), y=y)
    front = alt.Chart(pareto).encode(x="count:Q", y="cv_score:Q", tooltip=["count", "cv_score", "features"])
    return themed((base + front.mark_line(color=ACCENT) + front.mark_point(color=ACCENT, filled=True)).properties(
        width=460, title=alt.TitleParams("Pareto front", subtitle=f"Best {metric} for each number of features")))


def comparison_table(rows: list[dict], chosen: dict, lower_is_better: bool) -> pl.DataFrame:
    """Every method ranked by CV score (best first), the best and the registered one marked."""
    best = min(rows, key=lambda row: ((row["cv_score"] if lower_is_better else -row["cv_score"]), row["count"]))
    table = pl.DataFrame([{"rank": 0, "best": "★" if row is best else "",
                           "registered": "yes" if row is chosen else "",
                           **{k: v for k, v in row.items() if k not in ("mask", "key")}} for row in rows])
    table = table.sort(["cv_score", "count"], descending=[not lower_is_better, False])
    return table.with_columns(pl.int_range(1, table.height + 1).alias("rank"))


def build_result(problem: Problem, found: SearchResult, rows: list[dict], chosen: dict, params: Any,
                 artifact: ModelArtifact) -> Result:
    comparison = comparison_table(rows, chosen, problem.lower_is_better)
    trials = trials_table(problem, found)
    tables = {"comparison": comparison, "trials": trials}
    charts = {"comparison": comparison_chart(comparison, problem.metric),
              "history": history_chart(trials, problem.metric, problem.lower_is_better)}
    if params.sampler == "nsga2":
        front = {trial.number for trial in found.study.best_trials}
        tables["pareto"] = trials.filter(pl.col("trial").is_in(front)).sort("count")
        charts["pareto"] = pareto_chart(tables["pareto"], trials, problem.metric)
    metrics = {"task_type": problem.kind, "metric": problem.metric, "trials": len(trials),
               "pruned": trials.filter(pl.col("state") == "pruned").height, "cache_hits": found.cache_hits,
               "fits": found.fits, "search_seconds": round(found.seconds, 2)}
    for row in rows:
        metrics[f"{row['method']}_cv"] = round(row["cv_score"], 4)
        metrics[f"{row['method']}_test"] = round(row["test_score"], 4)
        metrics[f"{row['method']}_count"] = row["count"]
    metrics.update({"chosen_method": chosen["method"], "chosen_cv": round(chosen["cv_score"], 4),
                    "chosen_test": round(chosen["test_score"], 4), "chosen_count": chosen["count"]})
    artifact.metrics = metrics
    optuna = rows[0]
    why = "the best cross-validated score" if params.choose == "best" else f"named by choose={params.choose}"
    summary = (f"Registered **{chosen['method']}** ({why}): **{chosen['count']} of {len(problem.features)} "
               f"features** ({chosen['features']}), CV {problem.metric} {chosen['cv_score']:.4f}, test "
               f"{chosen['test_score']:.4f}. Optuna's subset scored CV {optuna['cv_score']:.4f} with "
               f"{optuna['count']} features after {len(trials)} trials ({metrics['pruned']} pruned, "
               f"{found.cache_hits} answered from the cache, {found.fits} model fits). The comparison table ranks "
               "every method by the same CV score; the test score is for reading only, never for choosing.")
    if problem.dropped:
        summary += f"\n\nDropped constant or empty columns: {', '.join(problem.dropped)}."
    return Result(tables=tables, metrics=metrics, charts=charts, summary=summary, models=[artifact])
