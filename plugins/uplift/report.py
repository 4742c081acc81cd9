"""What an uplift run shows: policy value (the headline), effect quality per arm, Qini curves, the allocation.

Only presentation here: the numbers come from `evaluation`, `policy` and `plan`.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import polars as pl

from workbench.sdk import ACCENT, MUTED, themed
from workbench_uplift.campaign import Campaign
from workbench_uplift.evaluation import (
    auuc,
    effect_errors,
    qini_auc_score,
    qini_coefficient,
    qini_points,
    uplift_at_k,
    uplift_auc_score,
)


def arm_quality(campaign: Campaign, rows: np.ndarray, cate: np.ndarray, top_share: float,
                truth: dict[str, np.ndarray]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per arm, on `rows` (whose outcomes the model did not see): both conventions' scores, and Qini points."""
    assert campaign.treatment is not None and campaign.outcome is not None
    table, curves = [], []
    for index, arm in enumerate(campaign.arms):
        members = np.flatnonzero(np.isin(campaign.treatment[rows], [arm, campaign.control]))
        treated = campaign.treatment[rows][members] == arm
        outcome, score = campaign.outcome[rows][members], cate[members, index]
        row = {"arm": arm, "rows": int(len(members)), "treated": int(treated.sum()),
               "qini": qini_coefficient(outcome, treated, score), "auuc": auuc(outcome, treated, score),
               f"uplift_at_{round(top_share * 100)}": uplift_at_k(outcome, treated, score, top_share)}
        if campaign.binary_outcome:
            row["qini_auc_sklift"] = qini_auc_score(outcome, treated, score)
            row["uplift_auc_sklift"] = uplift_auc_score(outcome, treated, score)
        if arm in truth:
            row["cate_rmse"], row["cate_correlation"] = effect_errors(cate[:, index], truth[arm][rows])
        table.append(row)
        curves.append(qini_points(outcome, treated, score).with_columns(pl.lit(arm).alias("arm")))
    return pl.DataFrame(table), pl.concat(curves).select("arm", "share_targeted", "model", "random")


def effects_table(ids: pl.Series | None, arms: list[str], cate: np.ndarray, low: np.ndarray,
                  high: np.ndarray) -> pl.DataFrame:
    """Per customer (by ID when there is one): each arm's effect with its 90% interval."""
    columns = {}
    for index, arm in enumerate(arms):
        columns.update({f"cate_{arm}": cate[:, index], f"cate_{arm}_low": low[:, index],
                        f"cate_{arm}_high": high[:, index]})
    frame = pl.DataFrame(columns)
    return frame.insert_column(0, ids) if ids is not None else frame


def cate_chart(cate: np.ndarray, arms: list[str]) -> Any:
    per_arm = min(len(cate), 4500 // len(arms))  # Altair embeds at most 5,000 rows
    sample = np.random.default_rng(0).choice(len(cate), size=per_arm, replace=False)
    frame = pl.DataFrame({"arm": np.repeat(arms, len(sample)), "cate": cate[sample].T.ravel()})
    return themed(alt.Chart(frame).mark_boxplot(color=ACCENT, extent="min-max").encode(
        y=alt.Y("arm:N", title=None), x=alt.X("cate:Q", title="Estimated effect per customer (CATE)")).properties(
        width=460, title=alt.TitleParams("Effect of each treatment", subtitle="Spread of the estimated CATE")))


def qini_chart(points: pl.DataFrame) -> Any:
    long = points.unpivot(index=["arm", "share_targeted"], variable_name="ranking", value_name="gain")
    return themed(alt.Chart(long).mark_line().encode(
        x=alt.X("share_targeted:Q", title="Share of customers targeted", axis=alt.Axis(format="%")),
        y=alt.Y("gain:Q", title="Incremental outcome (Qini)"),
        color=alt.Color("arm:N", title="Arm"),
        strokeDash=alt.StrokeDash("ranking:N", title=None, scale=alt.Scale(domain=["model", "random"],
                                                                             range=[[1, 0], [4, 3]])),
    ).properties(width=460, title=alt.TitleParams("Qini curves on held-out rows",
                                                  subtitle="Ranking by the model (solid) against random (dashed)")))


def policy_chart(table: pl.DataFrame) -> Any:
    shown = table.filter(pl.col("policy") != "optimised minus random")
    base = alt.Chart(shown).encode(y=alt.Y("policy:N", sort=None, title=None))
    bars = base.mark_bar(color=ACCENT, opacity=0.85).encode(x=alt.X("dr_value:Q", title="Net value (doubly robust)"))
    errors = base.mark_rule(color="#1f2933").encode(x="dr_low:Q", x2="dr_high:Q")
    predicted = base.mark_tick(color=MUTED, thickness=2, size=18).encode(x="predicted_value:Q")
    return themed((bars + errors + predicted).properties(width=460, title=alt.TitleParams(
        "What each policy earns on held-out customers",
        subtitle="Doubly robust estimate with its 95% interval; grey tick: what the model predicted")))


def curve_chart(curve: pl.DataFrame, budget: float) -> Any:
    strategies = [name for name in ("optimised", "naive", "optimised_realised", "random_realised")
                  if name in curve.columns]
    long = curve.unpivot(index="budget", on=strategies, variable_name="strategy", value_name="value")
    palette = {"optimised": ACCENT, "naive": MUTED, "optimised_realised": "#7f1d1d", "random_realised": "#9ca3af"}
    lines = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("budget:Q", title="Budget"), y=alt.Y("value:Q", title="Net value"),
        color=alt.Color("strategy:N", scale=alt.Scale(domain=strategies, range=[palette[s] for s in strategies]),
                        title=None))
    rule = alt.Chart(pl.DataFrame({"budget": [budget]})).mark_rule(strokeDash=[4, 3], color=MUTED).encode(x="budget:Q")
    subtitle = "Predicted by the model" + (" and realised on held-out customers (doubly robust)"
                                           if "optimised_realised" in curve.columns else "")
    return themed((lines + rule).properties(width=460, title=alt.TitleParams(
        "Value against budget", subtitle=f"{subtitle}; dashed: the budget given")))


def policy_metrics(table: pl.DataFrame) -> dict[str, float]:
    """The headline numbers of the policy table."""
    rows = {row["policy"]: row for row in table.iter_rows(named=True)}
    optimised, gain = rows["optimised allocation"], rows["optimised minus random"]
    return {"policy_value": optimised["dr_value"], "policy_value_low": optimised["dr_low"],
            "policy_value_high": optimised["dr_high"], "policy_value_ipw": optimised["ipw_value"],
            "predicted_value": optimised["predicted_value"], "random_value": rows["random targeting"]["dr_value"],
            "best_single_arm_value": rows["best single arm"]["dr_value"], "gain_vs_random": gain["dr_value"],
            "gain_vs_random_low": gain["dr_low"], "gain_vs_random_high": gain["dr_high"]}


def policy_sentence(metrics: dict, rows: int, where: str) -> str:
    excludes = metrics["gain_vs_random_low"] > 0 or metrics["gain_vs_random_high"] < 0
    return (f"On {rows:,} {where}, the optimised allocation would earn **{metrics['policy_value']:,.2f}** "
            f"(doubly robust, 95% interval {metrics['policy_value_low']:,.2f} to {metrics['policy_value_high']:,.2f}; "
            f"the model predicted {metrics['predicted_value']:,.2f}), against {metrics['random_value']:,.2f} for "
            f"random targeting at the same spend and {metrics['best_single_arm_value']:,.2f} for the best single "
            f"arm: a gain over random of {metrics['gain_vs_random']:,.2f} ({metrics['gain_vs_random_low']:,.2f} to "
            f"{metrics['gain_vs_random_high']:,.2f}), "
            + ("an interval that excludes zero." if excludes else "an interval that includes zero: not shown to "
                                                                  "beat random targeting."))
