"""The uplift task's two runs: fit (evaluate on held-out rows, then refit on all) and apply a registered model."""

from __future__ import annotations

import json
from typing import Any, cast

import numpy as np
import polars as pl

from workbench.sdk import ModelArtifact, Result, RunContext
from workbench_uplift import effect_model, plan, policy, report
from workbench_uplift.campaign import Campaign, prepare
from workbench_uplift.estimate import effects, fit_arms, intervals_valid

STATE_FILE = "campaign.json"
PLANNING = ("budget", "costs", "cost_columns", "value", "min_spend", "capacity", "solver")


def fit(data: pl.DataFrame, params: Any, ctx: RunContext) -> Result:
    from sklearn.model_selection import train_test_split

    campaign, state = prepare(data, params)
    rows = np.arange(data.height)
    train, test = train_test_split(rows, test_size=params.test_size, random_state=ctx.seed,
                                   stratify=campaign.treatment)
    split_models, notes = fit_arms(campaign, train, params.estimator, params.folds, ctx.seed, ctx.progress)
    cate_test, low_test, _ = effects(split_models, campaign.X[test], campaign.arms)
    quality, qini = report.arm_quality(campaign, test, cate_test, params.top_share, truth_of(data, params))
    with ctx.progress.bar("Policy value on held-out rows", total=1) as bar:
        scores = held_out_scores(campaign, train, test, ctx.seed)
        bar.advance()
    held_out = plan.HeldOut(allocated(params, cate_test, low_test), campaign.costs[test], scores,
                            len(test) / data.height)
    value_table = policy_table(campaign, params, held_out, ctx.seed)
    models = split_models
    if params.refit:
        models, more = fit_arms(campaign, rows, params.estimator, params.folds, ctx.seed, ctx.progress,
                                "Refitting on all rows")
        notes += [note for note in more if note not in notes]
    folder = ctx.new_model_dir("uplift")
    effect_model.save(models, folder)
    (folder / STATE_FILE).write_text(json.dumps(state))
    result = outcome(data, params, campaign, models, quality, qini, value_table, held_out, notes)
    where = f"held-out customers ({params.test_size:.0%}, never seen by the model)"
    result.summary = summary(result, params, campaign, notes, where, len(test),
                             refit_rows=data.height if params.refit else None)
    result.models = [ModelArtifact(folder, metrics={k: v for k, v in result.metrics.items()
                                                    if not isinstance(v, dict | list)})]
    return result


def apply(data: pl.DataFrame, params: Any, ctx: RunContext) -> Result:
    assert ctx.model is not None
    state = json.loads((ctx.model.path / STATE_FILE).read_text())
    campaign, _ = prepare(data, params, fitted=state)
    models = effect_model.load(ctx.model.path)
    quality = qini = value_table = held_out = None
    labelled = campaign.treatment is not None and campaign.outcome is not None
    if labelled:
        rows = np.arange(data.height)
        cate, low, _ = effects(models, campaign.X, campaign.arms)
        quality, qini = report.arm_quality(campaign, rows, cate, params.top_share, truth_of(data, params))
        with ctx.progress.bar("Policy value (cross-fitted)", total=1) as bar:
            scores = policy.cross_fitted_scores(nuisance_features(campaign), campaign.arm_index, campaign.outcome,
                                                len(campaign.arms), campaign.binary_outcome, ctx.seed)
            bar.advance()
        held_out = plan.HeldOut(allocated(params, cate, low), campaign.costs, scores, 1.0)
        value_table = policy_table(campaign, params, held_out, ctx.seed)
    result = outcome(data, params, campaign, models, quality, qini, value_table, held_out, [])
    inherited = [name for name in PLANNING if name not in ctx.given and ctx.model.params.get(name) is not None]
    shown = ", ".join(f"{name}={json.dumps(ctx.model.params[name])}" for name in inherited)
    note = f"Inherited from model {ctx.model.ref} (pass them to change them): {shown}." if inherited else ""
    result.summary = summary(result, params, campaign, [note] if note else [],
                             "labelled customers (outcomes scored by cross-fitting)", data.height, refit_rows=None,
                             applied=ctx.model.ref)
    return result


def decision(result: Result, params: Any, where: str, evaluated: int) -> str:
    """The first paragraph: who gets which arm, what it costs, and what it earns, in the data's units."""
    metrics, units = result.metrics, f" {params.units}" if params.units else ""
    counts = ", ".join(f"{row['customers']:,} `{row['arm']}`" for row in result.tables["totals"].iter_rows(named=True))
    text = (f"**Decision:** treat {metrics['treated']:,} of {metrics['rows']:,} customers ({counts or 'none'}), "
            f"spending {metrics['spend']:,.2f} of the budget of {params.budget:,.2f}")
    if "policy_value" in metrics:
        text += (f". On {evaluated:,} {where}, this allocation earns **{metrics['policy_value']:,.2f}{units}** more "
                 f"than treating nobody (95% interval {metrics['policy_value_low']:,.2f} to "
                 f"{metrics['policy_value_high']:,.2f}{units}); the model predicted {metrics['predicted_value']:,.2f}"
                 f"{units} from effects estimated for customers it had not seen. The predicted value runs above the "
                 "realised one where the allocation picks the largest estimated effects, which are partly noise"
                 + ("." if params.allocate_on == "lower_bound" else "; allocate_on=lower_bound picks only surer "
                    "effects."))
    return text if text.endswith(".") else text + "."


def truth_of(data: pl.DataFrame, params: Any) -> dict[str, np.ndarray]:
    return {arm: data[column].cast(pl.Float64).to_numpy() for arm, column in (params.truth_columns or {}).items()
            if column in data.columns}


def nuisance_features(campaign: Campaign) -> np.ndarray:
    """What the propensity and outcome models see: the effect modifiers and the confounders."""
    return campaign.X if campaign.W is None else np.hstack([campaign.X, campaign.W])


def allocated(params: Any, cate: np.ndarray, low: np.ndarray) -> np.ndarray:
    """The effects the allocation is made on: the estimates, or their 90% lower bounds (`allocate_on`)."""
    return low if params.allocate_on == "lower_bound" else cate


def held_out_scores(campaign: Campaign, train: np.ndarray, test: np.ndarray, seed: int) -> policy.Scores:
    assert campaign.outcome is not None
    propensity, expected = policy.fit_nuisance(nuisance_features(campaign), campaign.arm_index, campaign.outcome,
                                               train, test, len(campaign.arms), campaign.binary_outcome, seed)
    return policy.scores(campaign.arm_index[test], campaign.outcome[test], propensity, expected)


def policy_table(campaign: Campaign, params: Any, held_out: plan.HeldOut, seed: int) -> pl.DataFrame:
    net = plan.net_values(held_out.cate, held_out.costs, params.value)
    chosen = plan.choose(net, held_out.costs, params, campaign.arms, held_out.scale)
    policies = policy.baselines(held_out.cate, held_out.costs, params.value, chosen)
    return policy.value_table(policies, held_out.scores, held_out.costs, params.value, params.bootstrap, seed)


def outcome(data: pl.DataFrame, params: Any, campaign: Campaign, models: dict, quality: pl.DataFrame | None,
            qini: pl.DataFrame | None, value_table: pl.DataFrame | None, held_out: plan.HeldOut | None,
            notes: list[str]) -> Result:
    """Tables, charts and metrics for all rows (the final model's effects, and the allocation with a budget)."""
    cate, low, high = effects(models, campaign.X, campaign.arms)
    ids = data[params.id] if params.id else None
    tables: dict[str, pl.DataFrame] = {"effects": report.effects_table(ids, campaign.arms, cate, low, high)}
    charts: dict[str, Any] = {"cate": report.cate_chart(cate, campaign.arms)}
    metrics: dict[str, Any] = {"rows": data.height, "arms": len(campaign.arms), "features": len(campaign.features),
                               "intervals_valid": intervals_valid(notes)}
    if value_table is not None:
        tables["policy_value"] = value_table
        charts["policy_value"] = report.policy_chart(value_table)
        metrics.update(report.policy_metrics(value_table))
    if quality is not None and qini is not None:
        tables["arms"], tables["qini"] = quality, qini
        charts["qini"] = report.qini_chart(qini)
        metrics["mean_qini"] = cast(float, quality["qini"].mean())
        for row in quality.iter_rows(named=True):
            metrics.update({f"{row['arm']}_{key}": value for key, value in row.items() if key not in ("arm",)})
    if params.budget is not None:
        net = plan.net_values(allocated(params, cate, low), campaign.costs, params.value)
        chosen = plan.allocate(net, campaign.costs, params, campaign.arms)
        assigned = plan.assignment(chosen.arms, net, campaign.costs, campaign.arms)
        key = (data.select(params.id) if params.id else
               pl.DataFrame({"row": np.arange(data.height)}))  # without an ID, the row of the input file
        decision = {"assignments": pl.concat([key, assigned, tables["effects"].drop(params.id or [])],
                                             how="horizontal"),
                    "totals": assigned.filter(pl.col("arm") != "none").group_by("arm").agg(
                        pl.len().alias("customers"), pl.col("cost").sum().alias("spend")).sort("arm")}
        tables = {**decision, **tables}  # the decision first
        tables["budget_curve"] = plan.budget_curve(net, campaign.costs, params.budget, params.value, held_out)
        charts["budget_curve"] = report.curve_chart(tables["budget_curve"], params.budget)
        metrics.update({"spend": chosen.cost, "treated": int((chosen.arms >= 0).sum()), "solver": chosen.solver,
                        "lp_bound": chosen.bound, "gap": chosen.gap})
    return Result(tables=tables, metrics=metrics, charts=charts)


def summary(result: Result, params: Any, campaign: Campaign, notes: list[str], where: str, evaluated: int,
            refit_rows: int | None, applied: str | None = None) -> str:
    metrics = result.metrics
    lines = [decision(result, params, where, evaluated)] if "treated" in metrics else []
    if applied:
        lines.append(f"Applied model {applied} to {metrics['rows']:,} customers.")
    if "assignments" in result.tables and not params.id:
        lines.append("**Warning:** the data has no ID column, so the assignments are keyed by `row`, the row "
                     "number in the input; pass id=COLUMN to carry your customer IDs.")
    effects = result.tables["effects"]
    lines.append("Estimated effects per arm: " + ", ".join(
        f"`{arm}` {cast(float, effects[f'cate_{arm}'].mean()):+.3f}" for arm in campaign.arms) + ".")
    lines.append(f"Effect modifiers ({len(campaign.features)}): {', '.join(campaign.features)}.")
    if "policy_value" in metrics:
        lines.append(report.policy_sentence(metrics, evaluated, where))
    if refit_rows:
        lines.append(f"The registered model was refitted on all {refit_rows:,} rows after this evaluation.")
    if not metrics["intervals_valid"]:
        lines.append("**The 90% intervals are not valid**: EconML warned that its covariance is underdetermined "
                     "(see the notes); use them as rough guides only.")
    lines += [note for note in campaign.notes + notes if note]
    return "\n\n".join(lines)
