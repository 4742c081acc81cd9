"""Held-out uplift evaluation: Qini and uplift curves, their areas, and the effect error on known truth.

For rows ranked by predicted effect, best first, with cumulative treated and control counts n_t, n_c
and outcome sums y_t, y_c over the top k rows:
- Qini curve: q(k) = y_t - y_c * n_t / n_c (the extra outcome the treated top-k drew);
- uplift curve: u(k) = (y_t / n_t - y_c / n_c) * (n_t + n_c).
The **Qini coefficient** is the mean gap between the Qini curve and the random-ranking line from 0 to
q(n), divided by |q(n)|: 0 for a random ranking, higher is better (as scikit-uplift's, normalised by the
total gain rather than by a perfect ranking, so it is defined for continuous outcomes too).
**AUUC** is the area under the uplift curve divided by the area a random ranking gets (k/n * u(n)):
1 for random, higher is better.
"""

from __future__ import annotations

import numpy as np


def _cumulative(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray):
    order = np.argsort(-score, kind="stable")
    y, t = outcome[order].astype(float), treated[order].astype(bool)
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(np.where(t, y, 0.0)), np.cumsum(np.where(t, 0.0, y))
    return n_t, n_c, y_t, y_c


def qini_curve(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray) -> np.ndarray:
    n_t, n_c, y_t, y_c = _cumulative(outcome, treated, score)
    return y_t - y_c * np.divide(n_t, n_c, out=np.zeros(len(n_t)), where=n_c > 0)


def uplift_curve(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray) -> np.ndarray:
    n_t, n_c, y_t, y_c = _cumulative(outcome, treated, score)
    treated_mean = np.divide(y_t, n_t, out=np.zeros(len(n_t)), where=n_t > 0)
    control_mean = np.divide(y_c, n_c, out=np.zeros(len(n_c)), where=n_c > 0)
    return (treated_mean - control_mean) * (n_t + n_c)


def qini_coefficient(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray) -> float:
    curve = qini_curve(outcome, treated, score)
    random_line = np.arange(1, len(curve) + 1) / len(curve) * curve[-1]
    return float(np.mean(curve - random_line) / max(abs(curve[-1]), 1e-12))


def auuc(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray) -> float:
    curve = uplift_curve(outcome, treated, score)
    random_line = np.arange(1, len(curve) + 1) / len(curve) * curve[-1]
    return float(curve.sum() / random_line.sum()) if random_line.sum() else float("nan")


def effect_errors(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """RMSE and Pearson correlation of predicted against true effects."""
    rmse = float(np.sqrt(np.mean((predicted - truth) ** 2)))
    return rmse, float(np.corrcoef(predicted, truth)[0, 1])
