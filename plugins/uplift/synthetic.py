"""A campaign generator with known effects, shaped like the published walk-through."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

ARM_NAMES = ("discount", "email", "offer")


def campaign(n_per_arm: int = 10_000, weights: Any=(0.75, 0.50, 0.90), seed: int = 0,
             noise: float = 0.5) -> tuple[pl.DataFrame, np.ndarray]:
    """Rows for `control` and one arm per weight, with the true effect of every arm for every row.

    Ten uniform features; a nonlinear baseline (sine and cubic terms); a logistic (softmax) treatment
    propensity that depends on the features (confounding); each arm's effect is its weight times an
    interaction of two features.
    """
    rng = np.random.default_rng(seed)
    arms = len(weights)
    n = n_per_arm * (arms + 1)
    X = rng.uniform(size=(n, 10))
    baseline = np.sin(np.pi * X[:, 0] * X[:, 1]) + 2 * (X[:, 2] - 0.5) ** 3 + 0.5 * X[:, 3]
    logits = np.column_stack([np.zeros(n)] + [1.5 * (X[:, a] - 0.5) for a in range(arms)])
    propensity = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    chosen = (propensity.cumsum(axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1)
    effects = np.column_stack([w * X[:, 4 + a] * X[:, 7 + (a % 3)] * 2 for a, w in enumerate(weights)])
    received = np.where(chosen > 0, effects[np.arange(n), np.maximum(chosen - 1, 0)], 0.0)
    outcome = baseline + received + rng.normal(0, noise, n)
    names = np.array(["control", *ARM_NAMES[:arms]] if arms <= len(ARM_NAMES) else
                     ["control", *[f"arm_{a + 1}" for a in range(arms)]])
    frame = pl.DataFrame({f"x{i}": X[:, i] for i in range(10)}).with_columns(
        pl.Series("treatment", names[chosen]), pl.Series("outcome", outcome))
    return frame, effects
