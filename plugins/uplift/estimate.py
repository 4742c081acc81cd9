"""Double machine learning per arm against control (EconML, LightGBM first stages), kept as plain arrays."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from workbench.sdk import ProgressReporter
from workbench_uplift.campaign import Campaign

# EconML's warnings that mean the reported intervals cannot be trusted.
INVALID_INFERENCE = ("underdetermined", "inference will be invalid")


def make_estimator(kind: str, binary_outcome: bool, folds: int, seed: int) -> Any:
    from econml.dml import CausalForestDML, LinearDML
    from lightgbm import LGBMClassifier, LGBMRegressor

    model_y = (LGBMClassifier if binary_outcome else LGBMRegressor)(random_state=seed, verbose=-1, n_jobs=1)
    model_t = LGBMClassifier(random_state=seed, verbose=-1, n_jobs=1)
    options = {"model_y": model_y, "model_t": model_t, "discrete_treatment": True,
               "discrete_outcome": binary_outcome, "cv": folds, "random_state": seed}
    if kind == "causal_forest":
        return CausalForestDML(**options, n_estimators=200, n_jobs=-1)
    return LinearDML(**options)


def fit_arms(campaign: Campaign, rows: np.ndarray, kind: str, folds: int, seed: int, progress: ProgressReporter,
             label: str = "Fitting DML per arm") -> tuple[dict, list[str]]:
    """One effect model per treated arm, fitted on `rows` of that arm and control; and what EconML warned."""
    from workbench_uplift.effect_model import export

    assert campaign.treatment is not None and campaign.outcome is not None
    models, notes = {}, []
    for arm in progress.track(campaign.arms, label):
        members = rows[np.isin(campaign.treatment[rows], [arm, campaign.control])]
        treated = (campaign.treatment[members] == arm).astype(int)
        estimator = make_estimator(kind, campaign.binary_outcome, folds, seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator.fit(campaign.outcome[members], treated, X=campaign.X[members],
                          W=None if campaign.W is None else campaign.W[members])
        for warning in caught:
            text = str(warning.message).strip().splitlines()[0]
            if "valid feature names" not in text and f"{arm}: {text}" not in notes:
                notes.append(f"{arm}: {text}")
        models[arm] = export(estimator)
    return models, notes


def intervals_valid(notes: list[str]) -> bool:
    return not any(word in note.lower() for note in notes for word in INVALID_INFERENCE)


def effects(models: dict, X: np.ndarray, arms: list[str], alpha: float = 0.1) -> tuple[np.ndarray, ...]:
    """CATE per row and arm, with the (1 - alpha) interval bounds."""
    from workbench_uplift.effect_model import effect_and_interval

    point, low, high = zip(*(effect_and_interval(models[arm], X, alpha) for arm in arms), strict=True)
    return np.column_stack(point), np.column_stack(low), np.column_stack(high)
