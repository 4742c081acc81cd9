"""Fitting on a sample when the input is larger than memory, and evaluating on every row not sampled, streamed.

The sample takes the same share of every arm (a seeded hash of the row number decides, so it is stratified by
arm in expectation and the same for the same seed). Its size is `sample_rows` when given, else the rule of
`sample_size`. The model is fitted on the sample as usual (its own held-out split included); then the rows not
sampled are read in batches: their effects, the allocation rule learnt on the sample (the best arm of each
customer, treated when its net value per unit of cost clears the sample's cut-off) and the doubly robust value
of that rule, summed with its normal-approximation interval. Memory stays that of the sample and one batch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench.sdk import Result, RunContext, setting
from workbench_uplift import effect_model, policy
from workbench_uplift.campaign import prepare
from workbench_uplift.estimate import effects

ROW = "__workbench_row"
BATCH_ROWS = 100_000
BYTES_PER_CELL = 8 * 30  # a float per column, times the copies fitting makes (folds, arms, nuisance models)
SMALLEST, LARGEST = 20_000, 2_000_000
MEMORY_MB = 16_384  # WORKBENCH_MEMORY_LIMIT_MB's default


def sample_size(total: int, columns: int, asked: int | None) -> int:
    """`sample_rows` when given; else the rows a quarter of WORKBENCH_MEMORY_LIMIT_MB holds at 30 copies of a
    float per column, between 20,000 and 2,000,000 (never more than there are)."""
    if asked is not None:
        return min(asked, total)
    memory = float(setting("WORKBENCH_MEMORY_LIMIT_MB") or MEMORY_MB) * 2**20
    return min(total, max(SMALLEST, min(LARGEST, int(memory / 4 / (BYTES_PER_CELL * max(columns, 1))))))


def draw_sample(data: pl.LazyFrame, share: float, seed: int) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(the sampled rows, the others): each row in the sample when a seeded hash of its number falls in `share`."""
    keyed = data.with_row_index(ROW)
    inside = (pl.col(ROW).hash(seed) % 1_000_000) < int(share * 1_000_000)
    return keyed.filter(inside).drop(ROW), keyed.filter(~inside).drop(ROW)


@dataclass
class Rule:
    """The allocation learnt on the sample, for one row at a time: the best arm by net value, treated when that
    net value is positive and (with a budget) its ratio to the cost clears `cutoff`."""

    value: float
    cutoff: float

    @classmethod
    def learnt(cls, cate: np.ndarray, costs: np.ndarray, value: float, budget: float | None) -> Rule:
        best, cost = _best(cate, costs, value)
        if budget is None:
            return cls(value, -math.inf)
        ratio = np.where(cost > 0, best / np.where(cost > 0, cost, 1), math.inf)
        order = np.argsort(-ratio)
        spent = np.cumsum(np.where(best[order] > 0, cost[order], 0.0))
        within = order[(spent <= budget) & (best[order] > 0)]
        return cls(value, float(ratio[within].min()) if len(within) else math.inf)

    def choose(self, cate: np.ndarray, costs: np.ndarray) -> np.ndarray:
        """An arm index per row (policy.one_hot's convention: -1 for no treatment)."""
        best, cost = _best(cate, costs, self.value)
        ratio = np.where(cost > 0, best / np.where(cost > 0, cost, 1), math.inf)
        arm = np.argmax(self.value * cate - costs, axis=1)
        return np.where((best > 0) & (ratio >= self.cutoff), arm, -1)


def _best(cate: np.ndarray, costs: np.ndarray, value: float) -> tuple[np.ndarray, np.ndarray]:
    net = value * cate - costs
    arm = np.argmax(net, axis=1)
    rows = np.arange(len(net))
    return net[rows, arm], costs[rows, arm]


@dataclass
class Tally:
    """Running sums of the per-row value contributions: the total and its 95% interval without keeping rows."""

    rows: int = 0
    total: float = 0.0
    squares: float = 0.0
    spend: float = 0.0
    treated: int = 0

    def add(self, contributions: np.ndarray, spend: float, treated: int) -> None:
        self.rows += len(contributions)
        self.total += float(contributions.sum())
        self.squares += float((contributions ** 2).sum())
        self.spend, self.treated = self.spend + spend, self.treated + treated

    def interval(self) -> tuple[float, float]:
        mean = self.total / max(self.rows, 1)
        variance = max(self.squares / max(self.rows, 1) - mean ** 2, 0.0)
        half = 1.96 * math.sqrt(variance * self.rows)
        return self.total - half, self.total + half


def fit_on_sample(data: pl.LazyFrame, params: Any, ctx: RunContext) -> Result:
    """Fit on a sample of `data`, then evaluate the allocation rule on every row not sampled, in batches."""
    from workbench_uplift import workflow

    counts = data.group_by(params.treatment).len().collect(engine="streaming")
    total = int(counts["len"].sum())
    size = sample_size(total, len(data.collect_schema()), params.sample_rows)
    if size >= total:
        return workflow.fit(data.collect(engine="streaming"), params, ctx)
    sampled, rest = draw_sample(data, size / total, ctx.seed)
    with ctx.progress.bar("Drawing the sample", total=1) as bar:
        sample = sampled.collect(engine="streaming")
        bar.advance()
    share = sample.height / total
    result = workflow.fit(sample, scaled(params, share), ctx)
    folder = result.models[0].path
    state = json.loads((folder / workflow.STATE_FILE).read_text())
    campaign, _ = prepare(sample, params, fitted=state)
    assert campaign.outcome is not None
    nuisance = policy.NuisanceModels.fit(workflow.nuisance_features(campaign), campaign.arm_index, campaign.outcome,
                                         len(campaign.arms), campaign.binary_outcome, ctx.seed)
    models = effect_model.load(folder)
    cate, _, _ = effects(models, campaign.X, campaign.arms)
    rule = Rule.learnt(cate, campaign.costs, params.value, None if params.budget is None else params.budget * share)
    tally = Tally()
    with ctx.progress.bar("Evaluating on the rows not sampled", total=total - sample.height) as bar:
        for batch in rest.collect_batches(chunk_size=BATCH_ROWS):
            rows, _ = prepare(batch, params, fitted=state)
            effect, _, _ = effects(models, rows.X, rows.arms)
            chosen = rule.choose(effect, rows.costs)
            propensity, expected = nuisance.predict(workflow.nuisance_features(rows))
            scores = policy.scores(rows.arm_index, rows.outcome, propensity, expected)
            given = policy.one_hot(chosen, len(rows.arms))
            tally.add(policy.contributions(given, scores.dr, rows.costs, params.value),
                      float((given[:, 1:] * rows.costs).sum()), int((chosen >= 0).sum()))
            bar.advance(batch.height)
    return with_streamed_evaluation(result, params, tally, sample.height, total)


def scaled(params: Any, share: float) -> Any:
    """The parameters for the sample: the budget, minimum spend and capacities cut to its share of the rows."""
    return params.model_copy(update={
        "budget": None if params.budget is None else params.budget * share,
        "min_spend": None if params.min_spend is None else params.min_spend * share,
        "capacity": None if params.capacity is None else {arm: max(1, math.ceil(most * share))
                                                          for arm, most in params.capacity.items()}})


def with_streamed_evaluation(result: Result, params: Any, tally: Tally, sampled: int, total: int) -> Result:
    """The sample and the streamed evaluation recorded in the metrics and said first in the summary."""
    low, high = tally.interval()
    result.metrics.update({"rows": total, "sample_rows": sampled, "streamed_rows": tally.rows,
                           "streamed_policy_value": tally.total, "streamed_policy_value_low": low,
                           "streamed_policy_value_high": high, "streamed_spend": tally.spend,
                           "streamed_treated": tally.treated})
    units = f" {params.units}" if params.units else ""
    budget = (f" (its share of the budget: {params.budget * tally.rows / total:,.2f})"
              if params.budget is not None else "")
    said = (f"**Fitted on a sample** of {sampled:,} of {total:,} rows ({sampled / total:.1%}, the same share of "
            f"every arm; {'sample_rows' if params.sample_rows else 'the memory rule'} set its size; on it, the budget, "
            "minimum spend and capacities are cut to its share). **On the "
            f"{tally.rows:,} rows not sampled**, read in batches, the allocation rule learnt on the sample treats "
            f"{tally.treated:,}, spends {tally.spend:,.2f}{budget} and earns **{tally.total:,.2f}{units}** more than "
            f"treating nobody (doubly robust, 95% interval {low:,.2f} to {high:,.2f}{units}). The tables below "
            "cover the sample; apply the registered model with --out to assign every row.")
    decision, _, rest = result.summary.partition("\n\n")  # the decision stays first
    result.summary = f"{decision}\n\n{said}\n\n{rest}".rstrip()
    return result
