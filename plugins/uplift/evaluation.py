"""Held-out uplift evaluation in two conventions, and the effect error on known truth.

Rows are ranked by predicted effect, best first; over the top k rows, n_t and n_c count treated and control
rows and y_t, y_c sum their outcomes.

**The task's own definitions** (defined for continuous outcomes too):
- Qini curve q(k) = y_t - y_c * n_t / n_c; uplift curve u(k) = (y_t / n_t - y_c / n_c) * (n_t + n_c).
- `qini_coefficient`: the mean gap between the Qini curve and the random-ranking line from 0 to q(n), divided
  by |q(n)|: 0 for a random ranking, higher is better.
- `auuc`: the area under the uplift curve divided by the area a random ranking gets: 1 for random.

**scikit-uplift's convention** (`sklift.metrics`; binary outcomes), reproduced here and cross-checked in
the tests: curves evaluated at each distinct score (ties grouped) from (0, 0), areas by the trapezoid rule,
- `qini_auc_score` = (area(model) - area(random)) / (area(perfect) - area(random)) on the Qini curve, the
  perfect ranking putting treated responders first and control responders last;
- `uplift_auc_score`: the same normalisation on the uplift curve;
- `uplift_at_k`: mean outcome of the treated minus that of the control among the top k share of rows.
causalml's `qini_score`/`auuc_score` normalise by the curve of the true effect, which only synthetic data has;
with known effects this task reports CATE RMSE instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl


def _cumulative(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray) -> Any:
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


# -- scikit-uplift's convention ------------------------------------------------------------------------------

def _curve_at_thresholds(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray,
                         kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Points of the Qini or uplift curve at each distinct score, from (0, 0), as scikit-uplift draws them."""
    order = np.argsort(score, kind="mergesort")[::-1]
    y, t, s = outcome[order].astype(float), treated[order].astype(float), score[order]
    ends = np.r_[np.where(np.diff(s))[0], s.size - 1]
    n_t = np.cumsum(t)[ends]
    y_t = np.cumsum(y * t)[ends]
    y_c = np.cumsum(y * (1 - t))[ends]
    n_all = ends + 1.0
    n_c = n_all - n_t
    if kind == "qini":
        values = y_t - y_c * np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c != 0)
    else:
        values = (np.divide(y_t, n_t, out=np.zeros_like(y_t), where=n_t != 0)
                  - np.divide(y_c, n_c, out=np.zeros_like(y_c), where=n_c != 0)) * n_all
    if values[0] != 0 or n_all[0] != 0:
        n_all, values = np.r_[0.0, n_all], np.r_[0.0, values]
    return n_all, values


def _normalised_area(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray, perfect_score: np.ndarray,
                     kind: str) -> float:
    x, y = _curve_at_thresholds(outcome, treated, score, kind)
    x_best, y_best = _curve_at_thresholds(outcome, treated, perfect_score, kind)
    baseline = np.trapezoid([0.0, y_best[-1]], [0.0, x_best[-1]])
    return float((np.trapezoid(y, x) - baseline) / (np.trapezoid(y_best, x_best) - baseline))


def qini_auc_score(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray) -> float:
    """scikit-uplift's normalised area under the Qini curve (binary outcomes; negative effects allowed)."""
    y, t = outcome.astype(float), treated.astype(float)
    return _normalised_area(outcome, treated, score, y * t - y * (1 - t), "qini")


def uplift_auc_score(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray) -> float:
    """scikit-uplift's normalised area under the uplift curve (binary outcomes)."""
    y, t = outcome.astype(int), treated.astype(int)
    control_responders = np.sum((y == 1) & (t == 0))
    treated_non_responders = np.sum((y == 0) & (t == 1))
    perfect = 2 * (y == t) + (y if control_responders > treated_non_responders else t)
    return _normalised_area(outcome, treated, score, perfect.astype(float), "uplift")


def uplift_at_k(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray, k: float = 0.3) -> float:
    """Mean outcome of the treated minus that of the control among the top `k` share of rows ("overall")."""
    order = np.argsort(score, kind="mergesort")[::-1][: int(len(score) * k)]
    top_y, top_t = outcome[order].astype(float), treated[order].astype(bool)
    if not top_t.any() or top_t.all():
        return float("nan")
    return float(top_y[top_t].mean() - top_y[~top_t].mean())


def qini_points(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray, points: int = 21) -> pl.DataFrame:
    """The Qini curve at evenly spaced shares of rows targeted, beside the random-ranking line."""
    curve = qini_curve(outcome, treated, score)
    shares = np.linspace(0, 1, points)
    at = np.clip(np.round(shares * len(curve)).astype(int) - 1, 0, len(curve) - 1)
    model = np.where(shares == 0, 0.0, curve[at])
    return pl.DataFrame({"share_targeted": shares, "model": model, "random": shares * curve[-1]})


def effect_errors(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """RMSE and Pearson correlation of predicted against true effects."""
    rmse = float(np.sqrt(np.mean((predicted - truth) ** 2)))
    return rmse, float(np.corrcoef(predicted, truth)[0, 1])
