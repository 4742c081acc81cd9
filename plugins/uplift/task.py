"""The `uplift` task: CATE per arm by double machine learning, then who gets which arm within a budget."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from workbench.sdk import ModelArtifact, Result, RunContext, Task, TaskParams, advanced, column

if TYPE_CHECKING:
    import polars as pl

    from workbench.sdk import ModelRecord

STATE_FILE = "campaign.json"


class UpliftParams(TaskParams):
    treatment: str = column("treatment", "Arm label of each row (the control label for untreated rows).")
    outcome: str = column("outcome", "Outcome: continuous, or 0/1 for a conversion.", fit_only=True)
    control: str = Field("control", description="Label of the untreated arm.")
    features: list[str] | None = column("feature", "Effect modifiers X (default: every other column).", None)
    confounders: list[str] | None = column("confounder", "Controls W that are not effect modifiers.", None)
    costs: dict[str, float] | None = Field(None, description='Cost per arm, e.g. {"discount": 0.1, "email": 0.2}.')
    cost_columns: dict[str, str] | None = advanced(None, description="Per-row cost columns by arm (instead of costs).")
    value: float = Field(1.0, gt=0, description="Value of one unit of outcome (net value = value x CATE - cost).")
    budget: float | None = Field(None, ge=0, description="Total cost allowed; no allocation without it.")
    min_spend: float | None = advanced(None, ge=0, description="Spend at least this much.")
    capacity: dict[str, int] | None = advanced(None, description="Most customers per arm (solved exactly).")
    estimator: Literal["linear_dml", "causal_forest"] = advanced("linear_dml", description="EconML estimator.")
    folds: int = advanced(3, ge=2, le=10, description="Cross-fitting folds of the first stages.")
    test_size: float = advanced(0.3, gt=0, lt=0.9, description="Held-out share for Qini and AUUC.")
    solver: Literal["fast", "exact"] = advanced(
        "fast", description="fast: convex-hull greedy with its LP bound; exact: a MIP (SCIP via OR-Tools).")
    truth_columns: dict[str, str] | None = advanced(
        None, description="Known true effect per arm (synthetic data): reports CATE RMSE and correlation.")


class Uplift(Task[UpliftParams]):
    name = "uplift"
    title = "Uplift: CATE per treatment and budget allocation"
    summary = "Double machine learning per arm (EconML + LightGBM), then who gets which arm within a budget."
    applies_models = True

    def check(self, data: pl.DataFrame, params: UpliftParams, model: ModelRecord | None) -> None:
        from workbench_uplift.campaign import check_contract

        fitted = json.loads((model.path / STATE_FILE).read_text()) if model is not None else None
        check_contract(data, params, fitted)

    def run(self, data: pl.DataFrame, params: UpliftParams, ctx: RunContext) -> Result:
        import numpy as np
        from sklearn.model_selection import train_test_split

        from workbench_uplift import effect_model
        from workbench_uplift.campaign import prepare
        from workbench_uplift.estimate import effects, fit_arms
        from workbench_uplift.report import build_result

        if ctx.model is not None:
            state = json.loads((ctx.model.path / STATE_FILE).read_text())
            campaign, _ = prepare(data, params, fitted=state)
            cate, low, high = effects(effect_model.load(ctx.model.path), campaign)
            return build_result(data, campaign, params, cate, low, high, test_rows=None, artifact=None)
        campaign, state = prepare(data, params)
        rows = np.arange(data.height)
        train, test = train_test_split(rows, test_size=params.test_size, random_state=ctx.seed,
                                       stratify=campaign.treatment)
        models = fit_arms(campaign, train, params.estimator, params.folds, ctx.seed, ctx.progress)
        cate, low, high = effects(models, campaign)
        folder = ctx.new_model_dir("uplift")
        effect_model.save(models, folder)
        (folder / STATE_FILE).write_text(json.dumps(state))
        return build_result(data, campaign, params, cate, low, high, test_rows=test, artifact=ModelArtifact(folder))
