"""The `uplift` task: allocation solvers agree and respect constraints, effects track the truth, bad input."""

import json

import numpy as np
import polars as pl
import pytest
from conftest import run_cli

from workbench.errors import WorkbenchError
from workbench.registry import Registry
from workbench.runner import RunRequest, run_task
from workbench_uplift import allocation as alloc
from workbench_uplift.evaluation import auuc, qini_coefficient
from workbench_uplift.synthetic import campaign

COSTS = {"discount": 0.1, "email": 0.2, "offer": 0.3}


def random_instance(seed: int, n: int = 40, m: int = 3):
    rng = np.random.default_rng(seed)
    costs = rng.uniform(0.1, 1.0, (n, m)).round(2)
    values = rng.normal(0.2, 0.4, (n, m))
    return values, costs, float(costs.sum() * rng.uniform(0.05, 0.3))


@pytest.mark.parametrize("seed", range(8))
def test_fast_path_and_exact_model_agree_within_the_gap(seed):
    values, costs, budget = random_instance(seed)
    fast, best = alloc.greedy(values, costs, budget), alloc.exact(values, costs, budget)
    for found in (fast, best):
        assert found.cost <= budget + 1e-9  # the budget is never exceeded
        assert ((found.arms >= alloc.NONE) & (found.arms < values.shape[1])).all()  # one arm or none
    assert best.value >= fast.value - 1e-9
    assert best.value <= fast.bound + 1e-6  # the LP bound bounds the optimum
    assert best.value - fast.value <= fast.gap + 1e-6
    naive = alloc.naive(values, costs, budget)
    assert best.value >= naive.value - 1e-9  # nothing beats the optimum
    assert fast.value > naive.value  # on these instances the hull greedy strictly beats the naive strategy


def test_minimum_spend_and_capacity_are_respected():
    values, costs, budget = random_instance(3, n=60)
    spent = alloc.exact(values, costs, budget, min_spend=budget * 0.9)
    assert budget * 0.9 - 1e-9 <= spent.cost <= budget + 1e-9
    capped = alloc.exact(values, costs, budget, capacity=np.array([2, 2, 2]))
    assert all((capped.arms == arm).sum() <= 2 for arm in range(3))
    greedy_spent = alloc.greedy(values, costs, budget, min_spend=budget * 0.9)
    assert greedy_spent.cost >= budget * 0.9 - 1e-9


def test_infeasible_minimum_spend_and_negative_budget_are_clear_errors():
    values, costs, budget = random_instance(1)
    with pytest.raises(WorkbenchError, match="minimum spend .* exceeds the budget"):
        alloc.check_feasible(costs, budget, budget + 1, None)
    with pytest.raises(WorkbenchError, match="out of reach"):
        alloc.check_feasible(costs, 1e9, 1e8, None)
    with pytest.raises(WorkbenchError, match="budget is -1; it must be zero or more"):
        alloc.check_feasible(costs, -1, None, None)


def test_uplift_metrics_rank_a_perfect_score_above_a_random_one():
    rng = np.random.default_rng(0)
    effect = rng.uniform(0, 2, 4000)
    treated = rng.uniform(size=4000) < 0.5
    outcome = rng.normal(0, 1, 4000) + treated * effect
    random_score = rng.normal(size=4000)
    assert qini_coefficient(outcome, treated, effect) > 0.1 > abs(qini_coefficient(outcome, treated, random_score))
    assert auuc(outcome, treated, effect) > 1.1


@pytest.fixture(scope="module")
def synthetic():
    frame, truth = campaign(n_per_arm=2500, seed=4)
    return frame.with_columns(**{f"true_{arm}": truth[:, i] for i, arm in enumerate(COSTS)})


def params(**extra):
    base = {"treatment": "treatment", "outcome": "outcome", "costs": COSTS, "budget": 300.0,
            "features": [f"x{i}" for i in range(10)], "truth_columns": {arm: f"true_{arm}" for arm in COSTS}}
    return {**base, **extra}


def test_effects_track_the_truth_and_beat_naive(home, synthetic):
    outcome = run_task(RunRequest("uplift", synthetic, "campaign", params=params()), Registry())
    metrics = outcome.result.metrics
    # LinearDML fits a CATE linear in the features; the truth is a product of two of them, which a linear
    # function follows with correlation about 0.95 on uniform features: 0.8 leaves room for noise.
    for arm in COSTS:
        assert metrics[f"{arm}_cate_correlation"] > 0.8, metrics
        assert metrics[f"{arm}_qini"] > 0
    assert metrics["cost"] <= 300.0 + 1e-9
    assert metrics["value"] >= metrics["naive_value"]
    assignments = outcome.result.tables["assignments"]
    assert assignments.height == synthetic.height and set(assignments["arm"]) <= {*COSTS, "none"}


def test_register_then_apply_with_a_new_budget(home, tmp_path, synthetic):
    data = tmp_path / "campaign.csv"
    synthetic.write_csv(data)
    args = ["-p", "treatment=treatment", "-p", "outcome=outcome", "-p", f"costs={json.dumps(COSTS)}",
            "-p", "features=" + ",".join(f"x{i}" for i in range(10))]
    fit = run_cli("run", "uplift", "--data", str(data), *args, "--register", "campaign", home=home)
    assert fit.returncode == 0, fit.stderr
    new = tmp_path / "new.csv"
    synthetic.drop("outcome").head(500).write_csv(new)
    apply = run_cli("run", "uplift", "--data", str(new), "--model", "campaign", "-p", "budget=20",
                    "--out", str(tmp_path / "out"), home=home)
    assert apply.returncode == 0, apply.stderr
    totals = pl.read_csv(tmp_path / "out" / "totals.csv")
    assert totals["cost"].sum() <= 20 + 1e-9 and totals["customers"].sum() == 500


@pytest.mark.parametrize(("change", "extra", "message"), [
    (lambda f: f.with_columns(pl.lit("control").alias("treatment")), {}, "has one arm"),
    (lambda f: f, {"control": "nobody"}, "control label 'nobody' is not in 'treatment'"),
    (lambda f: f.with_columns(pl.col("outcome").cast(pl.String)), {}, "is String, not numeric"),
    (lambda f: f.with_columns(pl.when(pl.col("x0") < 0.1).then(None).otherwise(pl.col("treatment"))
                              .alias("treatment")), {}, "missing values; give every row an arm"),
    (lambda f: f, {"costs": {"discount": 0.1, "email": 0.2}}, "no cost for arm 'offer'"),
    (lambda f: f, {"min_spend": 1e9}, "exceeds the budget"),
])
def test_bad_input(home, synthetic, change, extra, message):
    with pytest.raises(WorkbenchError, match=message):
        run_task(RunRequest("uplift", change(synthetic.head(800)), "campaign", params=params(**extra)), Registry())
    assert Registry().models.list() == [] and Registry().datasets.list() == []


def test_negative_budget_is_refused_by_the_cli(home, tmp_path, synthetic):
    data = tmp_path / "c.csv"
    synthetic.head(200).write_csv(data)
    result = run_cli("run", "uplift", "--data", str(data), "-p", "treatment=treatment", "-p", "outcome=outcome",
                     "-p", "budget=-5", home=home)
    assert result.returncode == 2 and "invalid parameter 'budget'" in result.stderr


def test_causal_forest_gives_effects_with_intervals(home):
    frame, truth = campaign(n_per_arm=400, seed=2)
    run = run_task(RunRequest("uplift", frame, "small", params={
        "treatment": "treatment", "outcome": "outcome", "costs": COSTS, "estimator": "causal_forest",
        "features": [f"x{i}" for i in range(10)]}), Registry())
    arms = run.result.tables["arms"]
    assert arms["arm"].to_list() == list(COSTS)
    assert (arms["mean_interval_width"] > 0).all()
    effects = run.result.tables["effects"]
    assert np.corrcoef(effects["cate_offer"].to_numpy(), truth[:, 2])[0, 1] > 0.3
