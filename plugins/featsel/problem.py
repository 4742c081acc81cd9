"""The data side of feature selection: checks, encoding into feature groups, the split and the folds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import get_scorer
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from workbench.sdk import WorkbenchError

CLASSIFICATION_METRICS = {"f1_weighted": "f1_weighted", "f1_macro": "f1_macro", "accuracy": "accuracy"}
REGRESSION_METRICS = {"rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error", "r2": "r2"}
MAX_CLASSES = 20


@dataclass
class Problem:
    """Encoded features grouped by original column, the target, the split and the CV folds."""

    X: np.ndarray
    y: np.ndarray
    features: list[str]
    groups: list[np.ndarray]  # output-column indices of each feature
    kind: str  # "classification" or "regression"
    metric: str
    dropped: list[str]
    encoder: object | None
    train: np.ndarray
    test: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]  # indices into `train`

    @property
    def scorer(self) -> Any:
        return get_scorer({**CLASSIFICATION_METRICS, **REGRESSION_METRICS}[self.metric])

    @property
    def lower_is_better(self) -> bool:
        return self.metric in ("rmse", "mae")

    def shown(self, score: float) -> float:
        """A scorer's value as people read the metric (RMSE positive)."""
        return -score if self.lower_is_better else score

    def columns(self, mask: tuple[bool, ...] | list[bool]) -> np.ndarray:
        return np.concatenate([group for group, keep in zip(self.groups, mask, strict=True) if keep])


def infer_kind(target: pl.Series, requested: str) -> str:
    if requested != "auto":
        return requested
    if not target.dtype.is_numeric() or target.dtype == pl.Boolean:
        return "classification"
    values = target.drop_nulls()
    integral = bool((values.cast(pl.Float64) == values.cast(pl.Float64).round()).all())
    distinct = values.n_unique()
    if integral and distinct <= MAX_CLASSES:
        return "classification"
    if not integral or distinct > 50:
        return "regression"
    raise WorkbenchError(f"cannot tell whether target {target.name!r} ({distinct} whole-number values) is classes "
                         "or a quantity; set task_type=classification or task_type=regression")


def check_target(data: pl.DataFrame, target: str, task_type: str, metric: str, folds: int,
                 test_size: float) -> tuple[str, str]:
    """Refuse a target the search cannot use; (task kind, metric) when it can."""
    y_series = data.get_column(target)
    if y_series.null_count():
        raise WorkbenchError(f"target {target!r} has {y_series.null_count()} missing values; drop those rows first")
    kind = infer_kind(y_series, task_type)
    metric = metric if metric != "auto" else ("f1_weighted" if kind == "classification" else "rmse")
    allowed = CLASSIFICATION_METRICS if kind == "classification" else REGRESSION_METRICS
    if metric not in allowed:
        raise WorkbenchError(f"metric {metric!r} does not fit a {kind} target; use one of {', '.join(allowed)}")
    if kind == "regression" and not y_series.dtype.is_numeric():
        raise WorkbenchError(f"target {target!r} is {y_series.dtype}; a regression target must be numeric")
    if kind == "classification":
        counts = y_series.value_counts()
        if counts.height < 2:
            raise WorkbenchError(f"target {target!r} has a single class; classification needs two or more")
        needed = int(np.ceil(folds / (1 - test_size)))
        smallest = counts.sort("count").row(0)
        if smallest[1] < needed:
            raise WorkbenchError(
                f"class {smallest[0]!r} of {target!r} has {smallest[1]} rows; {folds} folds after a {test_size:.0%} "
                f"test split need at least {needed} per class (lower folds or drop that class)")
    if data.width < 2:
        raise WorkbenchError(f"the data has no column besides the target {target!r}; add features")
    return kind, metric


def build_problem(data: pl.DataFrame, target: str, task_type: str, metric: str, folds: int, test_size: float,
                  seed: int) -> Problem:
    """Validate, encode and split; every refusal names the problem and the fix."""
    from workbench.sdk import RobustOneHotEncoder

    kind, metric = check_target(data, target, task_type, metric, folds, test_size)
    y_series = data.get_column(target)
    features = data.drop(target)
    dropped = [name for name in features.columns
               if features[name].null_count() == features.height or features[name].drop_nulls().n_unique() <= 1]
    features = features.drop(dropped)
    if features.width == 0:
        raise WorkbenchError("no usable feature: every column besides the target is constant or missing")
    encoder = None
    if any(not dtype.is_numeric() for dtype in features.dtypes):
        encoder = RobustOneHotEncoder(handle_unknown="ignore").fit(features)
        encoded = encoder.transform(features)
        groups = _groups(encoder, features.columns)
    else:
        encoded = features
        groups = [np.array([index]) for index in range(features.width)]
    X = encoded.cast(pl.Float64).to_numpy()
    y = y_series.to_numpy()
    stratify = y if kind == "classification" else None
    indices = np.arange(len(y))
    train, test = train_test_split(indices, test_size=test_size, random_state=seed, stratify=stratify)
    splitter = (StratifiedKFold if kind == "classification" else KFold)(folds, shuffle=True, random_state=seed)
    fold_list = list(splitter.split(train, y[train]))
    return Problem(X, y, features.columns, groups, kind, metric, dropped, encoder, train, test, fold_list)


def _groups(encoder: Any, columns: list[str]) -> list[np.ndarray]:
    """Each original column's positions among the encoder's output columns."""
    encoded = {column.name: column for column in encoder.encoded_}
    groups, position = [], 0
    for name in columns:
        width = len(encoded[name].output_names(encoder.separator)) if name in encoded else 1
        groups.append(np.arange(position, position + width))
        position += width
    return groups
