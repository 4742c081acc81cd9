"""The `uplift` task: solvers, both evaluation conventions, the policy value, apply, refit, IDs and bad input."""


import numpy as np
import polars as pl
import pytest
from conftest import run_cli

from workbench.errors import WorkbenchError
from workbench.registry import Registry
from workbench.testing import run_task
from workbench_uplift import allocation as alloc
from workbench_uplift.evaluation import auuc, qini_auc_score, qini_coefficient, uplift_at_k, uplift_auc_score
from workbench_uplift.sampled import sample_size
from workbench_uplift.synthetic import campaign

pytestmark = pytest.mark.xdist_group("uplift")  # one worker fits the shared models

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
    return frame.with_columns(**{f"true_{arm}": truth[:, i] for i, arm in enumerate(COSTS)},
                              customer=pl.Series([f"c{i:05d}" for i in range(frame.height)]))


def params(**extra):
    # The synthetic campaign assigns arms by a propensity that depends on x0-x2: observational, not randomised.
    base = {"treatment": "treatment", "outcome": "outcome", "costs": COSTS, "budget": 300.0, "id": "customer",
            "assignment": "observational",
            "exclude": [f"true_{arm}" for arm in COSTS], "truth_columns": {arm: f"true_{arm}" for arm in COSTS}}
    return {**base, **extra}


@pytest.fixture(scope="module")
def fitted(synthetic, tmp_path_factory):
    """One fit with a budget, registered, in a workspace of its own."""
    home = tmp_path_factory.mktemp("uplift-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_HOME", str(home))
        outcome = run_task("uplift", synthetic, "campaign", params=params(), register="campaign",
                           registry=Registry.open())
    return home, outcome


def test_effects_track_the_truth_and_the_allocation_beats_random_on_held_out_rows(fitted, synthetic):
    _, outcome = fitted
    metrics = outcome.result.metrics
    # LinearDML fits a CATE linear in the features; the truth is a product of two of them, which a linear
    # function follows with correlation about 0.95 on uniform features: 0.8 leaves room for noise.
    for arm in COSTS:
        assert metrics[f"{arm}_cate_correlation"] > 0.8, metrics
        assert metrics[f"{arm}_qini"] > 0 and metrics[f"{arm}_uplift_at_30"] > 0
    assert metrics["spend"] <= 300.0 + 1e-9 and metrics["intervals_valid"]
    table = outcome.result.tables["policy_value"]
    assert table["policy"].to_list() == ["optimised allocation", "best single arm", "random targeting",
                                         "treat nobody", "optimised minus random"]
    assert metrics["policy_value"] > metrics["random_value"] and metrics["gain_vs_random_low"] > 0
    nobody = table.filter(pl.col("policy") == "treat nobody").row(0, named=True)
    assert nobody["dr_value"] == 0 and nobody["spend"] == 0
    random = table.filter(pl.col("policy") == "random targeting").row(0, named=True)
    optimised = table.filter(pl.col("policy") == "optimised allocation").row(0, named=True)
    assert random["spend"] == pytest.approx(optimised["spend"])  # the baseline spends the same
    assert "interval that excludes zero" in outcome.result.summary
    assert "Effect modifiers (10): x0, x1" in outcome.result.summary  # the ID and truth columns are not among them


def test_ids_are_carried_into_the_assignments_and_the_effects(fitted, synthetic):
    _, outcome = fitted
    for name in ("assignments", "effects"):
        table = outcome.result.tables[name]
        assert table["customer"].to_list() == synthetic["customer"].to_list()
    assignments = outcome.result.tables["assignments"]
    assert set(assignments["arm"]) <= {*COSTS, "none"} and "row" not in assignments.columns


def test_the_registered_model_is_refitted_on_all_rows(fitted, synthetic, monkeypatch):
    home, outcome = fitted
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    applied = run_task("uplift", synthetic, "campaign", params={"budget": 300.0}, model="campaign",
                       registry=Registry.open()).result
    assert applied.tables["effects"].equals(outcome.result.tables["effects"])  # the run's effects: the final model
    assert "refitted on all 10,000 rows" in outcome.result.summary
    split_only = run_task("uplift", synthetic, "campaign", params=params(refit=False), registry=Registry.open())
    assert not split_only.result.tables["effects"].equals(outcome.result.tables["effects"])


def test_apply_evaluates_labelled_rows_and_says_what_it_inherited(fitted, synthetic, monkeypatch):
    home, _ = fitted
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    labelled = run_task("uplift", synthetic.head(3000), "campaign-test", model="campaign", registry=Registry.open())
    metrics = labelled.result.metrics
    assert {"policy_value", "gain_vs_random", "discount_qini", "offer_uplift_at_30"} <= set(metrics)
    assert "Inherited from model campaign@1" in labelled.result.summary and "budget=300.0" in labelled.result.summary
    own = run_task("uplift", synthetic.drop("outcome", "treatment").head(500), "new", model="campaign",
                              params={"budget": 20.0}, registry=Registry.open()).result
    assert own.metrics["spend"] <= 20 + 1e-9 and "policy_value" not in own.metrics  # nothing to evaluate against
    assert "budget" not in own.summary.split("Inherited")[-1] if "Inherited" in own.summary else True


def test_costs_are_optional_without_a_budget_and_ids_are_left_out_by_default(home, synthetic):
    data = synthetic.head(2000).select("customer", *[f"x{i}" for i in range(10)], "treatment", "outcome")
    outcome = run_task("uplift", data, "campaign", params={"treatment": "treatment",
                                                                        "outcome": "outcome"}, registry=Registry.open())
    result = outcome.result
    assert "customer" not in result.summary.split("Effect modifiers")[1].split("\n")[0]
    assert "Left out of the effect modifiers as IDs" in result.summary and "assignments" not in result.tables
    assert {"effects", "policy_value", "arms", "qini"} <= set(result.tables)


def test_categorical_modifiers_keep_the_intervals_valid(home):
    frame, _ = campaign(n_per_arm=600, seed=3)
    frame = frame.with_columns(segment=pl.when(pl.col("x1") < 0.33).then(pl.lit("low"))
                               .when(pl.col("x1") < 0.66).then(pl.lit("mid")).otherwise(pl.lit("high")))
    outcome = run_task("uplift", frame, "campaign", params={
        "treatment": "treatment", "outcome": "outcome", "features": ["segment", "x4", "x7"]}, registry=Registry.open())
    assert outcome.result.metrics["intervals_valid"], outcome.result.summary
    assert "underdetermined" not in outcome.result.summary


def test_our_sklift_convention_matches_scikit_uplift_on_fixed_data():
    from sklift.metrics import qini_auc_score as sk_qini
    from sklift.metrics import uplift_at_k as sk_at_k
    from sklift.metrics import uplift_auc_score as sk_auc

    rng = np.random.default_rng(11)
    score = np.round(rng.normal(size=2000), 1)  # ties, grouped as scikit-uplift groups them
    treated = rng.integers(0, 2, 2000)
    outcome = (rng.uniform(size=2000) < 0.2 + 0.15 * treated * (score > 0)).astype(int)
    assert qini_auc_score(outcome, treated, score) == pytest.approx(sk_qini(outcome, score, treated), abs=1e-12)
    assert uplift_auc_score(outcome, treated, score) == pytest.approx(sk_auc(outcome, score, treated), abs=1e-12)
    assert uplift_at_k(outcome, treated, score, 0.3) == pytest.approx(
        sk_at_k(outcome, score, treated, strategy="overall", k=0.3), abs=1e-12)


@pytest.mark.parametrize("binary", [False, True], ids=["continuous", "0/1 outcome"])
@pytest.mark.parametrize("kind", ["linear_dml", "causal_forest"])
def test_the_stored_effect_model_gives_econml_s_effects_and_intervals(kind, binary):
    from workbench_uplift.effect_model import effect_and_interval, export
    from workbench_uplift.estimate import make_estimator

    frame, _ = campaign(n_per_arm=300, seed=5)
    X = frame.select([f"x{i}" for i in range(10)]).to_numpy()
    rows = np.isin(frame["treatment"].to_numpy(), ["control", "email"])
    outcome = frame["outcome"].to_numpy()
    outcome = (outcome > np.median(outcome)).astype(float) if binary else outcome
    estimator = make_estimator(kind, binary, 2, 0)
    estimator.fit(outcome[rows], (frame["treatment"].to_numpy()[rows] == "email").astype(int), X=X[rows])
    point, low, high = effect_and_interval(export(estimator), X, 0.1)
    expected_low, expected_high = (np.ravel(bound) for bound in estimator.effect_interval(X, alpha=0.1))
    assert np.allclose(point, np.ravel(estimator.effect(X)), atol=1e-10)  # (rows, 1) for a 0/1 outcome
    assert np.allclose(low, expected_low, atol=1e-10) and np.allclose(high, expected_high, atol=1e-10)


@pytest.mark.parametrize(("change", "extra", "message"), [
    (lambda f: f.with_columns(pl.lit("control").alias("treatment")), {}, "has one arm"),
    (lambda f: f, {"control": "nobody"}, "control label 'nobody' is not in 'treatment'"),
    (lambda f: f.with_columns(pl.col("outcome").cast(pl.String)), {}, "is String, not numeric"),
    (lambda f: f.with_columns(pl.when(pl.col("x0") < 0.1).then(None).otherwise(pl.col("treatment"))
                              .alias("treatment")), {}, "missing values; give every row an arm"),
    (lambda f: f, {"costs": {"discount": 0.1, "email": 0.2}}, "no cost for arm 'offer'"),
    (lambda f: f, {"min_spend": 1e9}, "exceeds the budget"),
    (lambda f: f.with_columns(pl.lit("same").alias("customer")), {}, "ID column 'customer' repeats values"),
])
def test_bad_input(home, synthetic, change, extra, message):
    with pytest.raises(WorkbenchError, match=message):
        run_task("uplift", change(synthetic.head(800)), "campaign", params=params(**extra), registry=Registry.open())
    assert Registry.open().models.list() == [] and Registry.open().datasets.list() == []


def test_causal_forest_gives_effects_with_intervals(home):
    frame, truth = campaign(n_per_arm=400, seed=2)
    run = run_task("uplift", frame, "small", params={
        "treatment": "treatment", "outcome": "outcome", "estimator": "causal_forest", "refit": False,
        "features": [f"x{i}" for i in range(10)]}, registry=Registry.open())
    effects = run.result.tables["effects"]
    assert (effects["cate_offer_high"] > effects["cate_offer_low"]).all()
    assert np.corrcoef(effects["cate_offer"].to_numpy(), truth[:, 2])[0, 1] > 0.3


def test_the_decision_comes_first_in_the_data_s_units_and_a_missing_id_is_named(synthetic):
    data = synthetic.drop("customer")
    outcome = run_task("uplift", data, "campaign", params={**params(), "id": None, "units": "visits",
                                                            "allocate_on": "lower_bound", "bootstrap": 50},
                       registry=Registry.open())
    result = outcome.result
    assert list(result.tables)[:2] == ["assignments", "totals"]
    assert result.summary.startswith("**Decision:** treat ") and " visits** more than treating nobody" in \
        result.summary
    assert "no ID column" in result.summary and result.tables["assignments"]["row"].to_list()[:3] == [0, 1, 2]
    estimate = run_task("uplift", data, "campaign", params={**params(), "id": None, "bootstrap": 50},
                        registry=Registry.open()).result
    assert result.metrics["treated"] <= estimate.metrics["treated"]  # surer effects: no more customers
    assert "allocate_on=lower_bound picks only surer effects" in estimate.summary


def test_a_sample_is_fitted_and_every_other_row_evaluated_in_batches(synthetic, monkeypatch):
    monkeypatch.setattr("workbench_uplift.sampled.BATCH_ROWS", 1000)  # several batches from 10,000 rows
    outcome = run_task("uplift", synthetic, "campaign", params={**params(), "sample_rows": 4000, "bootstrap": 50},
                       registry=Registry.open())
    metrics, summary = outcome.result.metrics, outcome.result.summary
    assert 3600 < metrics["sample_rows"] < 4400  # a seeded share of each arm, not an exact count
    assert metrics["sample_rows"] + metrics["streamed_rows"] == metrics["rows"] == synthetic.height
    sampled = run_task("uplift", synthetic, "campaign", params={**params(), "sample_rows": 4000, "bootstrap": 50},
                       registry=Registry.open()).result.metrics
    assert sampled["sample_rows"] == metrics["sample_rows"]  # the same seed draws the same sample
    assert metrics["streamed_policy_value_low"] < metrics["streamed_policy_value"] < \
        metrics["streamed_policy_value_high"]
    share = metrics["streamed_rows"] / metrics["rows"]
    assert metrics["streamed_spend"] <= 300.0 * share * 1.1  # the budget's share, give or take the cut-off
    assert metrics["streamed_policy_value_low"] > 0  # the effects are real: targeting beats treating nobody
    assert summary.startswith("**Decision:**") and f"On the {metrics['streamed_rows']:,} rows not sampled" in summary


def test_an_input_larger_than_memory_is_fitted_on_a_sample_out_of_core(home, tmp_path, monkeypatch):
    frame, _ = campaign(n_per_arm=15_000, seed=5)  # 60,000 rows, of which the memory rule takes about half
    path = tmp_path / "campaign.parquet"
    frame.write_parquet(path, row_group_size=5000)
    settings = {"WORKBENCH_COPY_LIMIT_MB": "0.1", "WORKBENCH_MEMORY_LIMIT_MB": "400"}
    run = run_cli("run", "uplift", "--data", str(path), "-p", "treatment=treatment", "-p", "outcome=outcome",
                  "-p", "assignment=observational", "-p", "bootstrap=50", home=home, env=settings)
    assert run.returncode == 0, run.stderr
    record = Registry.open().runs.list()[0]
    metrics = record.outputs["metrics"]
    assert record.outputs["mode"] == "out of core"
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    expected = sample_size(frame.height, frame.width, None)
    assert expected < frame.height and metrics["sample_rows"] == pytest.approx(expected, rel=0.05)
    assert metrics["sample_rows"] + metrics["streamed_rows"] == frame.height
