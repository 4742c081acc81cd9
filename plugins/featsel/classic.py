"""The classic selectors, on the same split and folds: SelectKBest, forward SFS, model importance, all."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from workbench_featsel.models import fit_on
from workbench_featsel.problem import Problem


def _top_features(problem: Problem, column_scores: np.ndarray, k: int, combine: Any=np.max) -> list[bool]:
    """The k features whose columns score highest (a one-hot group scores by `combine` of its columns)."""
    column_scores = np.nan_to_num(column_scores, nan=0.0)
    per_feature = np.array([combine(column_scores[group]) for group in problem.groups])
    chosen = set(np.argsort(-per_feature, kind="stable")[:k])
    return [index in chosen for index in range(len(problem.features))]


def k_best(problem: Problem, model: Any, k: int) -> tuple[list[bool], str]:
    """SelectKBest's scores: chi2 for classification on non-negative data, else the F-test."""
    from sklearn.feature_selection import chi2, f_classif, f_regression

    X = problem.X[problem.train]
    y = problem.y[problem.train]
    if problem.kind == "classification":
        usable = not np.isnan(X).any() and (X >= 0).all()
        score_function, name = (chi2, "chi2") if usable else (f_classif, "f_classif")
    else:
        score_function, name = f_regression, "f_regression"
    scores, _ = score_function(np.nan_to_num(X), y)
    return _top_features(problem, scores, k), name


def mutual_information(problem: Problem, k: int, seed: int) -> list[bool]:
    """SelectKBest with mutual information (catches non-linear and non-monotonic relations the F-test misses)."""
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    score = mutual_info_classif if problem.kind == "classification" else mutual_info_regression
    X = np.nan_to_num(problem.X[problem.train])
    return _top_features(problem, score(X, problem.y[problem.train], random_state=seed), k)


def forward_sfs(problem: Problem, model: Any, k: int) -> list[bool]:
    """scikit-learn's forward SequentialFeatureSelector on the encoded columns, with the shared folds."""
    from sklearn.feature_selection import SequentialFeatureSelector

    columns = problem.X.shape[1]
    if k >= columns:
        return [True] * len(problem.features)
    folds = [(fit, check) for fit, check in problem.folds]
    selector = SequentialFeatureSelector(clone(model), n_features_to_select=k, direction="forward",
                                         scoring=problem.scorer, cv=folds)
    selector.fit(problem.X[problem.train], problem.y[problem.train])
    chosen = selector.get_support()
    return [bool(chosen[group].any()) for group in problem.groups]


def importance(problem: Problem, model: Any, k: int) -> list[bool]:
    """Top k by the fitted model's importances (|coefficients| for linear models), summed over one-hot groups."""
    fitted = fit_on(model, problem, problem.train, np.arange(problem.X.shape[1]))
    final = fitted[-1] if hasattr(fitted, "steps") else fitted
    if hasattr(final, "feature_importances_"):
        weights = np.asarray(final.feature_importances_, dtype=float)
    else:
        coefficients = np.abs(np.atleast_2d(final.coef_))
        weights = coefficients.mean(axis=0)
    return _top_features(problem, weights, k, combine=np.sum)
