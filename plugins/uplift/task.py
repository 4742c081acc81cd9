"""The `uplift` task: CATE per arm by double machine learning, its evaluation, and who gets which arm."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from workbench.sdk import Result, RunContext, Task, TaskParams, advanced, column, per_value_of, value_of

if TYPE_CHECKING:
    import polars as pl

    from workbench.sdk import ModelRecord


class UpliftParams(TaskParams):
    treatment: str = column("treatment", "Arm label of each row (the control label for untreated rows); not needed "
                            "to score customers not yet treated.", fit_only=True)
    outcome: str = column("outcome", "Outcome: continuous, or 0/1 for a conversion.", fit_only=True)
    control: str = value_of("treatment", "control", description="Label of the untreated arm.")
    assignment: Literal["randomised", "observational"] = Field(
        "randomised", description="How the arms were assigned: at random (an A/B test: a column that differs between "
        "arms was measured after treatment and is left out of the default modifiers) or not (differences are "
        "confounding, and such columns are kept).")
    id: str | None = column("id", "Customer ID column, carried into the outputs (never an effect modifier).", None)
    features: list[str] | None = column(
        "feature", "Effect modifiers X (default: every column but the treatment, outcome, IDs, excluded, confounder, "
        "cost and truth columns).", None)
    exclude: list[str] | None = column(
        "excluded", "Columns never used as effect modifiers: other outcomes, anything measured after treatment.", None)
    confounders: list[str] | None = column("confounder", "Controls W that are not effect modifiers.", None)
    costs: dict[str, float] | None = per_value_of(
        "treatment", None, skip="control", description='Cost per arm, e.g. {"discount": 0.1, "email": 0.2} (needed '
        "with a budget).")
    cost_columns: dict[str, str] | None = per_value_of(
        "treatment", None, skip="control", advanced=True, description="Per-row cost columns by arm (instead of costs).")
    value: float = Field(1.0, gt=0, description="Value of one unit of outcome (net value = value x CATE - cost).")
    units: str = Field("", max_length=40, description="What the value is counted in, shown with it (e.g. $, EUR, "
                       "visits).")
    allocate_on: Literal["estimate", "lower_bound"] = advanced(
        "estimate", "Allocate on each customer's estimated effect, or on its 90% lower bound (fewer customers, "
        "chosen where the effect is sure, so the value predicted is nearer the value realised).")
    budget: float | None = Field(None, ge=0, description="Total cost allowed; no allocation without it.")
    min_spend: float | None = advanced(None, "Spend at least this much.", ge=0)
    capacity: dict[str, int] | None = per_value_of("treatment", None, skip="control", advanced=True,
                                                   description="Most customers per arm (solved exactly).")
    estimator: Literal["linear_dml", "causal_forest"] = advanced("linear_dml", "EconML estimator.")
    folds: int = advanced(3, "Cross-fitting folds of the first stages.", ge=2, le=10)
    test_size: float = advanced(0.3, "Held-out share for the evaluation and the policy value.", gt=0, lt=0.9)
    refit: bool = advanced(True, "After the evaluation, register the model refitted on all rows.")
    top_share: float = advanced(0.3, "Share of customers ranked first for uplift@k.", gt=0, lt=1)
    bootstrap: int = advanced(500, "Bootstrap rounds for the policy-value intervals.", ge=50, le=10_000)
    solver: Literal["fast", "exact"] = advanced(
        "fast", "fast: convex-hull greedy with its LP bound; exact: a MIP (SCIP via OR-Tools).")
    sample_rows: int | None = advanced(
        None, "Fit on a sample of this many rows (the same share of every arm) and evaluate on all the others, read "
        "in batches; default: all rows when they fit in memory, else as many as a quarter of "
        "WORKBENCH_MEMORY_LIMIT_MB holds (20,000 to 2,000,000).", ge=1000)
    truth_columns: dict[str, str] | None = advanced(
        None, "Known true effect per arm (synthetic data): reports CATE RMSE and correlation.")


class Uplift(Task[UpliftParams]):
    name = "uplift"
    title = "Uplift: CATE per treatment and budget allocation"
    summary = "Double machine learning per arm (EconML + LightGBM), its held-out value, and who gets which arm."
    applies_models = True
    headline = ("policy_value", "gain_vs_random", "predicted_value", "mean_qini")
    batch_table = "effects"
    apply_params = frozenset({"control", "costs", "cost_columns", "value", "units", "budget", "min_spend", "capacity",
                              "top_share", "bootstrap", "solver", "allocate_on"})
    metric_words = {"auuc": "AUUC", "qini": "Qini", "cate": "CATE", "ipw": "IPW", "dr": "DR", "lp": "LP"}

    def metric_units(self, params: dict[str, Any]) -> dict[str, str]:
        """The value metrics in the units the user named (spend is in the budget's units, not known here)."""
        units = params.get("units") or ""
        return dict.fromkeys(("policy_value", "gain_vs_random", "predicted_value"), f" {units}") if units else {}

    def check(self, data: pl.DataFrame, params: UpliftParams, model: ModelRecord | None) -> None:
        from workbench_uplift.campaign import check_contract
        from workbench_uplift.workflow import STATE_FILE

        fitted = json.loads((model.path / STATE_FILE).read_text()) if model is not None else None
        check_contract(data, params, fitted)

    def batch_scorer(self, params: UpliftParams, model: ModelRecord,
                     device: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
        return EffectScorer(model.path, params)

    def run(self, data: pl.DataFrame, params: UpliftParams, ctx: RunContext) -> Result:
        from workbench_uplift import workflow

        if ctx.model is not None:
            return workflow.apply(data, params, ctx)
        if params.sample_rows is not None and params.sample_rows < data.height:
            from workbench_uplift.sampled import fit_on_sample

            return fit_on_sample(data.lazy(), params, ctx)
        return workflow.fit(data, params, ctx)

    def run_lazy(self, data: pl.LazyFrame, params: UpliftParams, ctx: RunContext) -> Result | None:
        """Larger than memory: fit on a sample, evaluate on the rest in batches (`sampled`); applying a model to
        data this size streams with --stream instead."""
        from workbench_uplift.sampled import fit_on_sample

        return None if ctx.model is not None else fit_on_sample(data, params, ctx)


class EffectScorer:
    """A registered model's effects for rows of new customers: per arm, CATE and its 90% interval (by ID)."""

    def __init__(self, folder: Path, params: UpliftParams) -> None:
        from workbench_uplift import effect_model
        from workbench_uplift.workflow import STATE_FILE

        self.state = json.loads((folder / STATE_FILE).read_text())
        self.models = effect_model.load(folder)
        self.id = params.id

    def __call__(self, batch: pl.DataFrame) -> pl.DataFrame:
        from workbench_uplift.campaign import encode
        from workbench_uplift.estimate import effects
        from workbench_uplift.report import effects_table

        X, _ = encode(batch.select(self.state["features"]), self.state["x_encoder"])
        assert X is not None
        cate, low, high = effects(self.models, X, self.state["arms"])
        return effects_table(batch[self.id] if self.id else None, self.state["arms"], cate, low, high)
