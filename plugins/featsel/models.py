"""The fixed model every subset is scored with, and cross-validated scoring on the shared folds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone

from workbench_featsel.problem import Problem


def make_model(name: str, kind: str, seed: int, n_jobs: int) -> Any:
    """`random_forest`, `lightgbm`, or a scaled linear model (`logistic` / `linear`), all with default settings."""
    classify = kind == "classification"
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        return (RandomForestClassifier if classify else RandomForestRegressor)(random_state=seed, n_jobs=n_jobs)
    if name == "lightgbm":
        from lightgbm import LGBMClassifier, LGBMRegressor

        return (LGBMClassifier if classify else LGBMRegressor)(random_state=seed, n_jobs=n_jobs, verbose=-1)
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    final = LogisticRegression(max_iter=2000) if classify else LinearRegression()
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), final)


def fit_on(model: Any, problem: Problem, rows: np.ndarray, columns: np.ndarray) -> Any:
    return clone(model).fit(problem.X[np.ix_(rows, columns)], problem.y[rows])


def score_on(fitted: Any, problem: Problem, rows: np.ndarray, columns: np.ndarray) -> float:
    return float(problem.scorer(fitted, problem.X[np.ix_(rows, columns)], problem.y[rows]))


def cross_validate(model: Any, problem: Problem, columns: np.ndarray,
                   after_fold: Callable[[int, float], None] | None = None) -> float:
    """Mean scorer value over the folds of the training split; `after_fold(i, running_mean)` may stop it."""
    scores = []
    for index, (fit_rows, check_rows) in enumerate(problem.folds):
        fitted = fit_on(model, problem, problem.train[fit_rows], columns)
        scores.append(score_on(fitted, problem, problem.train[check_rows], columns))
        if after_fold is not None:
            after_fold(index, float(np.mean(scores)))
    return float(np.mean(scores))


def holdout_score(model: Any, problem: Problem, columns: np.ndarray) -> float:
    """Refit on the whole training split, score the held-out test split."""
    return score_on(fit_on(model, problem, problem.train, columns), problem, problem.test, columns)
