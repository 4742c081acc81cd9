"""Benchmark: the uplift task's estimators against causalml's meta-learners and scikit-uplift (issue 18).

    pip install --no-deps causalml==0.18.0 && pip install xgboost seaborn pathos forestci pydot   # bench only
    python benchmarks/uplift_baselines_bench.py [--rows 8000] [--seed 0]

Settings with known individual effects: causalml's `synthetic_data` modes 1, 2 and 4 (continuous outcome,
one treatment), the project's synthetic campaign (control against `offer` only, so every contender sees the
same binary problem), and a conversion setting (0/1 outcome drawn from logistic probabilities, true effect
p1 - p0). Each is split 70/30 with one seed; every contender fits on the 70% and predicts the 30%, scored by
CATE RMSE against the truth and by its Qini on the observed outcomes: the area between the Qini curve
(scikit-uplift's curve) and random targeting, as a share of the same area when rows are ranked by their true
effect (1 = the oracle's ranking). For the 0/1 setting, scikit-uplift's own `qini_auc_score` is beside
it. The meta-learners use LightGBM, as the task's first stages do. Then the task's own policy-value table on
the published campaign: the realised (doubly robust) value of the optimised allocation against random
targeting at the same spend.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
LGBM = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 30, "verbose": -1}


def causalml_setting(mode: int, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from causalml.dataset import synthetic_data

    np.random.seed(seed)  # causalml draws from numpy's global generator
    y, X, treatment, tau, _, _ = synthetic_data(mode=mode, n=rows, p=8, sigma=1.0)
    return X, treatment.astype(int), y, tau


def campaign_setting(rows: int, seed: int):
    from workbench_uplift.synthetic import campaign

    frame, truth = campaign(n_per_arm=rows // 2, seed=seed)
    keep = frame["treatment"].is_in(["control", "offer"]).to_numpy()
    X = frame.select([f"x{i}" for i in range(10)]).to_numpy()[keep]
    treated = (frame["treatment"].to_numpy()[keep] == "offer").astype(int)
    return X, treated, frame["outcome"].to_numpy()[keep], truth[keep, 2]


def conversion_setting(rows: int, seed: int):
    """0/1 outcomes: p0 = sigmoid(baseline), p1 = sigmoid(baseline + lift); the truth is p1 - p0."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(rows, 6))
    baseline = -1.0 + 1.5 * X[:, 0] - X[:, 1] + 0.5 * np.sin(np.pi * X[:, 2])
    lift = 1.2 * (X[:, 3] - 0.4) * (X[:, 4] > 0.3)
    propensity = 0.3 + 0.4 * X[:, 0]
    treated = (rng.uniform(size=rows) < propensity).astype(int)
    p0, p1 = 1 / (1 + np.exp(-baseline)), 1 / (1 + np.exp(-(baseline + lift)))
    y = (rng.uniform(size=rows) < np.where(treated == 1, p1, p0)).astype(float)
    return X, treated, y, p1 - p0


def ours(kind: str, X, t, y, train, test, seed: int) -> np.ndarray:
    """The task: fit (evaluated on its own split, refitted on all the training rows), then its batch scorer."""
    from workbench import plugins
    from workbench.registry import Registry
    from workbench.testing import run_task

    columns = [f"f{i}" for i in range(X.shape[1])]

    def frame(rows: np.ndarray) -> pl.DataFrame:
        return pl.DataFrame({**{c: X[rows, i] for i, c in enumerate(columns)},
                             "treatment": np.where(t[rows] == 1, "treated", "control"), "outcome": y[rows]})

    params = {"treatment": "treatment", "outcome": "outcome", "features": columns, "estimator": kind,
              "bootstrap": 50}
    name = f"bench-{kind}"
    run_task("uplift", frame(train), "bench-train", params=params, register=name, seed=seed, registry=Registry.open())
    task = plugins.get_task("uplift")
    scorer = task.batch_scorer(task.Params.model_validate({"treatment": "treatment", "outcome": "outcome"}),
                               Registry.open().models.load(name), "cpu")
    return scorer(frame(test).drop("treatment", "outcome"))["cate_treated"].to_numpy()


def meta_learner(name: str, X, t, y, train, test, seed: int) -> np.ndarray:
    from causalml.inference.meta import BaseRRegressor, BaseSRegressor, BaseTRegressor, BaseXRegressor
    from lightgbm import LGBMRegressor

    learner = LGBMRegressor(random_state=seed, **LGBM)
    model = {"S": BaseSRegressor, "T": BaseTRegressor, "X": BaseXRegressor, "R": BaseRRegressor}[name](learner)
    if name in ("X", "R"):  # the same logistic propensity model for both
        from sklearn.linear_model import LogisticRegression

        propensity = LogisticRegression(max_iter=1000).fit(X[train], t[train])
        model.fit(X[train], t[train], y[train], p=propensity.predict_proba(X[train])[:, 1])
        if name == "X":
            return np.asarray(model.predict(X[test], p=propensity.predict_proba(X[test])[:, 1])).ravel()
        return np.asarray(model.predict(X[test])).ravel()
    model.fit(X[train], t[train], y[train])
    return np.asarray(model.predict(X[test])).ravel()


def sklift_learner(name: str, X, t, y, train, test, seed: int) -> np.ndarray | None:
    from lightgbm import LGBMClassifier, LGBMRegressor
    from sklift.models import ClassTransformation, TwoModels

    binary = set(np.unique(y)) <= {0.0, 1.0}
    if name == "ClassTransformation":
        if not binary:
            return None  # a 0/1 outcome only
        model = ClassTransformation(LGBMClassifier(random_state=seed, **LGBM))
    else:
        make = (lambda: LGBMClassifier(random_state=seed, **LGBM)) if binary else \
            (lambda: LGBMRegressor(random_state=seed, **LGBM))
        model = TwoModels(estimator_trmnt=make(), estimator_ctrl=make(), method="vanilla")
    model.fit(X[train], y[train], t[train])
    return np.asarray(model.predict(X[test])).ravel()


CONTENDERS = {
    "task linear_dml": lambda *a: ours("linear_dml", *a), "task causal_forest": lambda *a: ours("causal_forest", *a),
    "causalml S": lambda *a: meta_learner("S", *a), "causalml T": lambda *a: meta_learner("T", *a),
    "causalml X": lambda *a: meta_learner("X", *a), "causalml R": lambda *a: meta_learner("R", *a),
    "sklift TwoModels": lambda *a: sklift_learner("TwoModels", *a),
    "sklift ClassTransformation": lambda *a: sklift_learner("ClassTransformation", *a),
}


def qini_vs_oracle(y: np.ndarray, t: np.ndarray, score: np.ndarray, tau: np.ndarray) -> float:
    """Qini area above random targeting, as a share of the area of the ranking by the true effect."""
    from workbench_uplift.evaluation import _curve_at_thresholds

    def area(ranking: np.ndarray) -> float:
        x, gain = _curve_at_thresholds(y, t, ranking, "qini")
        return float(np.trapezoid(gain, x) - gain[-1] * x[-1] / 2)

    return area(score) / area(tau)


def compare(rows: int, seed: int) -> list[dict]:
    from sklift.metrics import qini_auc_score

    settings = {"causalml mode 1": lambda: causalml_setting(1, rows, seed),
                "causalml mode 2": lambda: causalml_setting(2, rows, seed),
                "causalml mode 4": lambda: causalml_setting(4, rows, seed),
                "campaign (offer vs control)": lambda: campaign_setting(rows, seed),
                "conversion (0/1)": lambda: conversion_setting(rows, seed)}
    results = []
    for setting, make in settings.items():
        X, t, y, tau = make()
        order = np.random.default_rng(seed).permutation(len(y))
        cut = int(0.7 * len(y))
        train, test = np.sort(order[:cut]), np.sort(order[cut:])
        for contender, fit_predict in CONTENDERS.items():
            started = time.perf_counter()
            predicted = fit_predict(X, t, y, train, test, seed)
            if predicted is None:
                continue
            row = {"setting": setting, "contender": contender, "rows": len(y),
                   "cate_rmse": float(np.sqrt(np.mean((predicted - tau[test]) ** 2))),
                   "qini_vs_oracle": qini_vs_oracle(y[test], t[test], predicted, tau[test]),
                   "sklift_qini_auc": float(qini_auc_score(y[test], predicted, t[test]))
                   if set(np.unique(y)) <= {0.0, 1.0} else None,
                   "seconds": round(time.perf_counter() - started, 1)}
            print(json.dumps(row), flush=True)
            results.append(row)
    return results


def policy_value(seed: int) -> dict:
    """The task's own held-out policy table on the published campaign (budget 3,000)."""
    from workbench.registry import Registry
    from workbench.testing import run_task
    from workbench_uplift.synthetic import campaign

    frame, _ = campaign(n_per_arm=10_000, seed=seed)
    params = {"treatment": "treatment", "outcome": "outcome", "features": [f"x{i}" for i in range(10)],
              "costs": {"discount": 0.1, "email": 0.2, "offer": 0.3}, "budget": 3000.0}
    metrics = run_task("uplift", frame, "campaign", params=params, seed=seed, registry=Registry.open()).result.metrics
    keys = ("policy_value", "policy_value_low", "policy_value_high", "random_value", "best_single_arm_value",
            "gain_vs_random", "gain_vs_random_low", "gain_vs_random_high", "predicted_value")
    row = {key: round(metrics[key], 2) for key in keys}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="uplift-bench-"))
    results = {"comparison": compare(args.rows, args.seed), "policy_value": policy_value(args.seed)}
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "uplift_baselines.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
