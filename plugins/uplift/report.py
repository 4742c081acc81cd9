"""What an uplift run shows: effects and their quality per arm, the allocation, the budget curve."""

from __future__ import annotations

import altair as alt
import numpy as np
import polars as pl

from workbench.sdk import ACCENT, MUTED, ModelArtifact, Result, themed
from workbench_uplift import allocation as alloc
from workbench_uplift.campaign import Campaign
from workbench_uplift.evaluation import auuc, effect_errors, qini_coefficient

CURVE_POINTS = 11


def arm_table(data: pl.DataFrame, campaign: Campaign, params, cate: np.ndarray, low: np.ndarray, high: np.ndarray,
              test_rows: np.ndarray | None) -> pl.DataFrame:
    rows = []
    for index, arm in enumerate(campaign.arms):
        row = {"arm": arm, "rows": int((campaign.treatment == arm).sum()), "mean_cate": float(cate[:, index].mean()),
               "mean_interval_width": float((high[:, index] - low[:, index]).mean())}
        if test_rows is not None:
            members = test_rows[np.isin(campaign.treatment[test_rows], [arm, campaign.control])]
            treated = campaign.treatment[members] == arm
            row["qini"] = qini_coefficient(campaign.outcome[members], treated, cate[members, index])
            row["auuc"] = auuc(campaign.outcome[members], treated, cate[members, index])
        if params.truth_columns and arm in params.truth_columns:
            row["cate_rmse"], row["cate_correlation"] = effect_errors(
                cate[:, index], data[params.truth_columns[arm]].to_numpy())
        rows.append(row)
    return pl.DataFrame(rows)


def allocate(values: np.ndarray, costs: np.ndarray, params, arms: list[str]) -> alloc.Allocation:
    capacity = np.array([params.capacity.get(arm, len(values)) for arm in arms]) if params.capacity else None
    alloc.check_feasible(costs, params.budget, params.min_spend, capacity)
    if params.solver == "exact" or capacity is not None:
        return alloc.exact(values, costs, params.budget, params.min_spend, capacity)
    return alloc.greedy(values, costs, params.budget, params.min_spend)


def budget_curve(values: np.ndarray, costs: np.ndarray, budget: float) -> pl.DataFrame:
    """Optimised and naive value over budgets from zero to twice the given one (or what treating all costs)."""
    top = min(2 * budget, float(np.where(values > 0, costs, 0).max(axis=1).sum())) or budget
    rows = []
    for point in np.linspace(0, top, CURVE_POINTS):
        rows.append({"budget": float(point), "optimised": alloc.greedy(values, costs, float(point)).value,
                     "naive": alloc.naive(values, costs, float(point)).value})
    return pl.DataFrame(rows)


def cate_chart(cate: np.ndarray, arms: list[str]):
    per_arm = min(len(cate), 4500 // len(arms))  # Altair embeds at most 5,000 rows
    sample = np.random.default_rng(0).choice(len(cate), size=per_arm, replace=False)
    frame = pl.DataFrame({"arm": np.repeat(arms, len(sample)), "cate": cate[sample].T.ravel()})
    return themed(alt.Chart(frame).mark_boxplot(color=ACCENT, extent="min-max").encode(
        y=alt.Y("arm:N", title=None), x=alt.X("cate:Q", title="Estimated effect per customer (CATE)")).properties(
        width=460, title=alt.TitleParams("Effect of each treatment", subtitle="Spread of the estimated CATE")))


def curve_chart(curve: pl.DataFrame, budget: float):
    long = curve.unpivot(index="budget", variable_name="strategy", value_name="value")
    lines = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("budget:Q", title="Budget"), y=alt.Y("value:Q", title="Net value"),
        color=alt.Color("strategy:N", scale=alt.Scale(domain=["optimised", "naive"], range=[ACCENT, MUTED]),
                        title=None))
    rule = alt.Chart(pl.DataFrame({"budget": [budget]})).mark_rule(strokeDash=[4, 3], color=MUTED).encode(x="budget:Q")
    return themed((lines + rule).properties(width=460, title=alt.TitleParams(
        "Value against budget", subtitle="Optimised allocation and the naive one; dashed: the budget given")))


def build_result(data: pl.DataFrame, campaign: Campaign, params, cate: np.ndarray, low: np.ndarray, high: np.ndarray,
                 test_rows: np.ndarray | None, artifact: ModelArtifact | None) -> Result:
    arms = arm_table(data, campaign, params, cate, low, high, test_rows)
    effects = pl.DataFrame({f"cate_{arm}": cate[:, i] for i, arm in enumerate(campaign.arms)})
    tables = {"arms": arms}
    charts = {"cate": cate_chart(cate, campaign.arms)}
    metrics: dict = {"rows": data.height, "arms": len(campaign.arms)}
    for row in arms.iter_rows(named=True):
        for key in ("mean_cate", "qini", "auuc", "cate_rmse", "cate_correlation"):
            if row.get(key) is not None:
                metrics[f"{row['arm']}_{key}"] = round(row[key], 4)
    summary = "Estimated effects per arm: " + ", ".join(
        f"`{row['arm']}` {row['mean_cate']:+.3f}" for row in arms.iter_rows(named=True)) + "."
    if params.budget is not None:
        values = params.value * cate - campaign.costs
        chosen = allocate(values, campaign.costs, params, campaign.arms)
        naive = alloc.naive(values, campaign.costs, params.budget)
        labels = np.array([*campaign.arms, "none"])
        assigned = labels[np.where(chosen.arms == alloc.NONE, len(campaign.arms), chosen.arms)]
        picked = np.flatnonzero(chosen.arms != alloc.NONE)
        net = np.zeros(len(values))
        spend = np.zeros(len(values))
        net[picked] = values[picked, chosen.arms[picked]]
        spend[picked] = campaign.costs[picked, chosen.arms[picked]]
        tables["assignments"] = pl.concat([pl.DataFrame({"row": np.arange(len(values)), "arm": assigned,
                                                         "net_value": net, "cost": spend}), effects], how="horizontal")
        tables["totals"] = (tables["assignments"].group_by("arm").agg(
            pl.len().alias("customers"), pl.col("cost").sum(), pl.col("net_value").sum().alias("value")).sort("arm"))
        tables["budget_curve"] = budget_curve(values, campaign.costs, params.budget)
        charts["budget_curve"] = curve_chart(tables["budget_curve"], params.budget)
        uplift = (chosen.value / naive.value - 1) * 100 if naive.value > 0 else None
        metrics.update({"value": round(chosen.value, 4), "cost": round(chosen.cost, 4),
                        "naive_value": round(naive.value, 4), "naive_cost": round(naive.cost, 4),
                        "uplift_vs_naive_pct": None if uplift is None else round(uplift, 2),
                        "lp_bound": None if chosen.bound is None else round(chosen.bound, 4),
                        "gap": None if chosen.gap is None else round(chosen.gap, 6),
                        "solver": chosen.solver, "solve_seconds": round(chosen.seconds, 3)})
        summary += (f"\n\nWithin a budget of {params.budget:,.2f}, the {chosen.solver} allocation treats "
                    f"{len(picked):,} customers for a net value of {chosen.value:,.2f} at a cost of {chosen.cost:,.2f}"
                    + (f" ({uplift:+.1f}% against the naive strategy's {naive.value:,.2f})" if uplift is not None
                       else "") + ".")
    else:
        tables["effects"] = pl.concat([pl.DataFrame({"row": np.arange(len(cate))}), effects], how="horizontal")
    if artifact is not None:
        artifact.metrics = metrics
    return Result(tables=tables, metrics=metrics, charts=charts, summary=summary,
                  models=[artifact] if artifact else [])
