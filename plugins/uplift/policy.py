"""What a targeting policy would really earn, estimated on rows the effect model never saw.

For each row i and arm a (arm 0 is control), nuisance models fitted on other rows give the propensity
e(x_i, a) and the expected outcome mu(x_i, a). The scores are
- IPW: 1{T_i = a} / e(x_i, a) * Y_i;
- doubly robust (AIPW): mu(x_i, a) + 1{T_i = a} / e(x_i, a) * (Y_i - mu(x_i, a)).
A policy gives each row a probability of each arm (one-hot when deterministic). Its incremental net value
over treating nobody sums, over rows and arms, policy * (value * (score(a) - score(control)) - cost(a)).
Bootstrap intervals resample rows (the same draws for every policy, so differences get intervals too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench_uplift import allocation as alloc

CLIP = 0.01  # propensities are kept in [CLIP, 1 - CLIP]


@dataclass
class Scores:
    """Per-row estimated outcome under each arm (control first), by IPW and by the doubly robust formula."""

    ipw: np.ndarray
    dr: np.ndarray


@dataclass
class NuisanceModels:
    """The propensity model and one outcome model per arm (LightGBM), fitted once, then applied to any rows."""

    chooser: Any
    outcomes: list[Any]
    arms: int
    binary: bool

    @classmethod
    def fit(cls, X: np.ndarray, arm: np.ndarray, outcome: np.ndarray, arms: int, binary: bool,
            seed: int) -> NuisanceModels:
        from lightgbm import LGBMClassifier, LGBMRegressor

        options: dict[str, Any] = {"random_state": seed, "verbose": -1, "n_jobs": 1, "n_estimators": 200,
                                   "learning_rate": 0.05, "min_child_samples": 40}
        chooser = LGBMClassifier(**options).fit(X, arm)
        outcomes = [(LGBMClassifier if binary else LGBMRegressor)(**options).fit(X[arm == index], outcome[arm == index])
                    for index in range(arms + 1)]
        return cls(chooser, outcomes, arms, binary)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Propensities (clipped to [CLIP, 1 - CLIP], rows summing to one) and expected outcomes per arm."""
        propensity = np.zeros((len(X), self.arms + 1))
        propensity[:, self.chooser.classes_.astype(int)] = self.chooser.predict_proba(X)
        propensity = np.clip(propensity, CLIP, 1 - CLIP)
        propensity /= propensity.sum(axis=1, keepdims=True)
        expected = np.column_stack([np.asarray(model.predict_proba(X))[:, 1] if self.binary
                                    else np.asarray(model.predict(X)) for model in self.outcomes])
        return propensity, expected


def fit_nuisance(X: np.ndarray, arm: np.ndarray, outcome: np.ndarray, fit_rows: np.ndarray, score_rows: np.ndarray,
                 arms: int, binary: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Propensities and outcome predictions for `score_rows`, from models fitted on `fit_rows`."""
    return NuisanceModels.fit(X[fit_rows], arm[fit_rows], outcome[fit_rows], arms, binary, seed).predict(X[score_rows])


def scores(arm: np.ndarray, outcome: np.ndarray, propensity: np.ndarray, expected: np.ndarray) -> Scores:
    """IPW and doubly robust scores of every arm for rows whose arm and outcome were observed."""
    received = np.eye(propensity.shape[1], dtype=bool)[arm]
    weighted = np.where(received, 1.0 / propensity, 0.0)
    return Scores(ipw=weighted * outcome[:, None], dr=expected + weighted * (outcome[:, None] - expected))


def cross_fitted_scores(X: np.ndarray, arm: np.ndarray, outcome: np.ndarray, arms: int, binary: bool,
                        seed: int) -> Scores:
    """Scores for every row, each from nuisance models fitted on the other half (two-fold cross-fitting)."""
    order = np.random.default_rng(seed).permutation(len(arm))
    halves = np.array_split(order, 2)
    propensity, expected = np.zeros((len(arm), arms + 1)), np.zeros((len(arm), arms + 1))
    for fit_rows, score_rows in ((halves[0], halves[1]), (halves[1], halves[0])):
        propensity[score_rows], expected[score_rows] = fit_nuisance(X, arm, outcome, fit_rows, score_rows, arms,
                                                                    binary, seed)
    return scores(arm, outcome, propensity, expected)


def one_hot(choice: np.ndarray, arms: int) -> np.ndarray:
    """A deterministic policy from one arm index per row (alloc.NONE: control)."""
    policy = np.zeros((len(choice), arms + 1))
    policy[np.arange(len(choice)), np.where(choice == alloc.NONE, 0, choice + 1)] = 1.0
    return policy


def contributions(policy: np.ndarray, estimated: np.ndarray, costs: np.ndarray, value: float) -> np.ndarray:
    """Per-row incremental net value of a policy over treating nobody."""
    gain = value * (estimated[:, 1:] - estimated[:, [0]]) - costs
    return (policy[:, 1:] * gain).sum(axis=1)


def spend(policy: np.ndarray, costs: np.ndarray) -> float:
    return float((policy[:, 1:] * costs).sum())


@dataclass
class Policies:
    """The policies compared, one row-by-arm probability matrix each, and what the model predicts they earn."""

    names: list[str]
    matrices: list[np.ndarray]
    predicted: list[float]
    notes: dict[str, str]


def baselines(cate: np.ndarray, costs: np.ndarray, value: float, chosen: np.ndarray) -> Policies:
    """The optimised allocation (`chosen`: an arm index per row), the best single arm and random targeting at
    its spend, and treating nobody."""
    arms = cate.shape[1]
    net = value * cate - costs
    optimised = one_hot(chosen, arms)
    target_spend, target_count = spend(optimised, costs), float(optimised[:, 1:].sum())
    single, single_arm = _best_single_arm(net, costs, target_spend, target_count)
    random = np.zeros_like(optimised)
    mean_cost = costs.mean(axis=1).sum()
    share = min(target_spend / mean_cost, 1.0) if mean_cost > 0 else target_count / max(len(cate), 1)
    random[:, 1:] = share / arms
    random[:, 0] = 1 - share
    nobody = one_hot(np.full(len(cate), alloc.NONE), arms)
    matrices = [optimised, single, random, nobody]
    names = ["optimised allocation", "best single arm", "random targeting", "treat nobody"]
    notes = {"best single arm": f"arm {single_arm + 1} to the customers it helps most, at the same spend",
             "random targeting": "random customers and arms at the same expected spend"
                                 + ("" if mean_cost > 0 else " (no costs: the same number treated)")}
    return Policies(names, matrices, [float((m[:, 1:] * net).sum()) for m in matrices], notes)


def _best_single_arm(net: np.ndarray, costs: np.ndarray, target_spend: float,
                     target_count: float) -> tuple[np.ndarray, int]:
    """For each arm, treat its most promising rows up to the spend (or the count, without costs); keep the arm
    the model expects most from (chosen without looking at outcomes)."""
    best, best_value, best_arm = None, -np.inf, 0
    for arm in range(net.shape[1]):
        order = np.argsort(-net[:, arm], kind="stable")
        if target_spend > 0:
            taken = order[np.cumsum(costs[order, arm]) <= target_spend + 1e-9]
        else:
            taken = order[: int(round(target_count))]
        choice = np.full(len(net), alloc.NONE)
        choice[taken] = arm
        predicted = float(net[taken, arm].sum())
        if predicted > best_value:
            best, best_value, best_arm = one_hot(choice, net.shape[1]), predicted, arm
    assert best is not None
    return best, best_arm


def value_table(policies: Policies, estimated: Scores, costs: np.ndarray, value: float, rounds: int,
                seed: int) -> pl.DataFrame:
    """Each policy's predicted value beside its IPW and doubly robust estimates with 95% bootstrap intervals,
    then the optimised allocation's gain over random targeting (doubly robust)."""
    columns = {kind: np.column_stack([contributions(m, getattr(estimated, kind), costs, value)
                                      for m in policies.matrices]) for kind in ("ipw", "dr")}
    draws = np.random.default_rng(seed).integers(0, len(costs), size=(rounds, len(costs)))
    rows: list[dict[str, Any]] = []
    for index, name in enumerate(policies.names):
        row = {"policy": name, "treated": float(policies.matrices[index][:, 1:].sum()),
               "spend": spend(policies.matrices[index], costs), "predicted_value": policies.predicted[index]}
        for kind, per_row in columns.items():
            row[f"{kind}_value"] = float(per_row[:, index].sum())
            totals = per_row[draws, index].sum(axis=1)
            row[f"{kind}_low"], row[f"{kind}_high"] = (float(q) for q in np.percentile(totals, [2.5, 97.5]))
        row["note"] = policies.notes.get(name, "")
        rows.append(row)
    gain = columns["dr"][:, 0] - columns["dr"][:, 2]
    totals = gain[draws].sum(axis=1)
    low, high = np.percentile(totals, [2.5, 97.5])
    rows.append({"policy": "optimised minus random", "treated": None, "spend": None,
                 "predicted_value": policies.predicted[0] - policies.predicted[2],
                 "ipw_value": rows[0]["ipw_value"] - rows[2]["ipw_value"], "ipw_low": None, "ipw_high": None,
                 "dr_value": float(gain.sum()), "dr_low": float(low), "dr_high": float(high),
                 "note": "the gain of optimising over random targeting at the same spend"})
    return pl.DataFrame(rows, schema={"policy": pl.String, "treated": pl.Float64, "spend": pl.Float64,
                                      "predicted_value": pl.Float64, "ipw_value": pl.Float64, "ipw_low": pl.Float64,
                                      "ipw_high": pl.Float64, "dr_value": pl.Float64, "dr_low": pl.Float64,
                                      "dr_high": pl.Float64, "note": pl.String})
