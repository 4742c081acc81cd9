"""The `feature-selection` task on real data: noise is left out, runs repeat, workers share a study."""

import json
import subprocess

import numpy as np
import polars as pl
import pytest
from conftest import DATASETS, WORKBENCH, invoke, run_cli

from workbench.errors import WorkbenchError
from workbench.registry import Registry
from workbench.testing import run_task

MOBILE = pl.read_csv(DATASETS / "mobile_price_sample.csv")
INFORMATIVE = ["ram", "battery_power", "px_height", "px_width"]


def with_noise(columns: int = 6, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    noise = {f"noise_{i}": rng.normal(size=MOBILE.height) for i in range(columns)}
    return MOBILE.select(*INFORMATIVE, "price_range").with_columns(**{k: pl.Series(v) for k, v in noise.items()})


def select(data: pl.DataFrame, seed: int = 1, **params):
    defaults = {"target": "price_range", "model": "logistic", "trials": 40, "compare": False}
    return run_task("feature-selection", data, "mobile", params={**defaults, **params}, seed=seed,
                    registry=Registry.open())


def chosen(outcome) -> list[str]:
    return outcome.result.tables["comparison"].row(0, named=True)["features"].split(", ")


def test_finds_the_informative_features_among_noise(home):
    outcome = select(with_noise())
    picked = chosen(outcome)
    assert set(INFORMATIVE) <= set(picked)
    assert sum(name.startswith("noise_") for name in picked) <= 2
    comparison = outcome.result.tables["comparison"].row(0, named=True)
    assert comparison["cv_score"] > 0.9 and comparison["test_score"] > 0.85
    metrics = outcome.result.metrics
    assert metrics["trials"] == 40 and metrics["fits"] <= 5 * (40 - metrics["cache_hits"])


def test_results_repeat_with_a_fixed_seed(home):  # one process: shared trials depend on the workers' timing
    first, second = select(with_noise(), trials=25, workers=1), select(with_noise(), trials=25, workers=1)
    assert first.result.tables["trials"].equals(second.result.tables["trials"])
    assert chosen(first) == chosen(second)


def test_classic_methods_share_the_split_and_are_compared(home):
    outcome = select(MOBILE, trials=10, compare=True, k=4)
    comparison = outcome.result.tables["comparison"]
    assert set(comparison["method"]) == {"optuna", "kbest_chi2_top4", "kbest_mutual_info_top4", "forward_sfs_top4",
                                         "importance_top4", "all_features"}
    assert comparison.filter(pl.col("method").str.ends_with("_top4"))["count"].to_list() == [4, 4, 4, 4]
    assert "ram" in comparison.filter(pl.col("method") == "kbest_chi2_top4")["features"][0]
    assert "ram" in comparison.filter(pl.col("method") == "kbest_mutual_info_top4")["features"][0]
    assert set(outcome.result.charts) == {"comparison", "history"}


def registered_features(name: str) -> list[str]:
    return json.loads((Registry.open().models.load(name).path / "selection.json").read_text())["features"]


def test_the_best_cross_validated_method_is_registered_and_marked(home):
    params = {"target": "price_range", "model": "logistic", "trials": 8, "compare": True, "k": 4}
    outcome = run_task("feature-selection", MOBILE, "mobile", params=params, register="best", seed=1,
                       registry=Registry.open())
    comparison = outcome.result.tables["comparison"]
    assert comparison["cv_score"].is_sorted(descending=True) and comparison["rank"].to_list() == list(range(1, 7))
    top = comparison.row(0, named=True)
    assert (top["best"], top["registered"]) == ("★", "yes") and comparison["best"].to_list().count("★") == 1
    assert outcome.result.metrics["chosen_method"] == top["method"]
    assert registered_features("best") == top["features"].split(", ")
    assert f"Registered **{top['method']}** (the best cross-validated score)" in outcome.result.summary

    named = run_task("feature-selection", MOBILE, "mobile", params={**params, "choose": "optuna"},
                                register="named", seed=1, registry=Registry.open())
    optuna = named.result.tables["comparison"].filter(pl.col("method") == "optuna").row(0, named=True)
    assert optuna["registered"] == "yes" and registered_features("named") == optuna["features"].split(", ")


def test_pareto_front_trades_score_for_size(home):
    outcome = select(with_noise(), sampler="nsga2", trials=40)
    front = outcome.result.tables["pareto"].sort("count")
    assert front.height >= 2
    assert front["cv_score"].is_sorted()  # more features only where they buy a better score
    assert "pareto" in outcome.result.charts


def test_two_workers_share_one_study(home, tmp_path):
    data = tmp_path / "mobile.csv"
    with_noise().write_csv(data)
    journal = home / "state" / "feature-selection" / "optuna" / "study.journal"  # a relative journal: in the state
    args = ["run", "feature-selection", "--data", str(data), "-p", "target=price_range", "-p", "model=logistic",
            "-p", "trials=30", "-p", "compare=false", "-p", "study=shared", "-p", "storage=journal:study.journal"]
    environment = {"WORKBENCH_HOME": str(home), "PATH": str(WORKBENCH.parent)}
    workers = [subprocess.Popen([str(WORKBENCH), *args], env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="shared", storage=JournalStorage(JournalFileBackend(str(journal))))
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert 30 <= len(finished) <= 32  # the cap is checked after each trial, so each worker may finish one more
    assert len({t.number for t in study.trials}) == len(study.trials)


def test_register_and_predict(home, tmp_path):
    data = tmp_path / "mobile.csv"
    MOBILE.write_csv(data)
    fit = invoke("run", "feature-selection", "--data", str(data), "-p", "target=price_range", "-p", "model=logistic",
                  "-p", "trials=15", "-p", "compare=false", "--register", "price", home=home)
    assert fit.returncode == 0, fit.stderr
    artifact = Registry.open().models.load("price").path
    assert set(json.loads((artifact / "selection.json").read_text())["features"]) >= {"ram"}
    new = tmp_path / "new.csv"
    MOBILE.drop("price_range").head(50).write_csv(new)
    apply = invoke("run", "feature-selection", "--data", str(new), "--model", "price", "--out", str(tmp_path / "out"),
                    home=home)
    assert apply.returncode == 0, apply.stderr
    predictions = pl.read_csv(tmp_path / "out" / "predictions.csv")
    accuracy = (predictions["predicted_price_range"] == MOBILE.head(50)["price_range"]).mean()
    assert accuracy > 0.8


def test_constant_and_empty_columns_are_dropped_and_reported(home):
    data = with_noise(2).with_columns(pl.lit(1).alias("constant"), pl.lit(None, pl.Float64).alias("empty"))
    outcome = select(data, trials=10)
    assert "Dropped constant or empty columns: constant, empty" in outcome.result.summary
    assert "constant" not in outcome.result.tables["trials"]["features"].str.join(",")[0]


@pytest.mark.parametrize(("data", "params", "message"), [
    (MOBILE.with_columns(pl.lit(1).alias("price_range")), {}, "has a single class"),
    (pl.concat([MOBILE, MOBILE.head(3).with_columns(pl.lit(9, pl.Int64).alias("price_range"))]), {},
     "class 9 of 'price_range' has 3 rows; 5 folds after a 20% test split need at least 7"),
    (MOBILE.with_columns(pl.col("ram").cast(pl.Float64) / 7), {"target": "ram", "metric": "f1_weighted"},
     "metric 'f1_weighted' does not fit a regression target"),
    (MOBILE.select("price_range", pl.lit(3).alias("flat")), {}, "no usable feature"),
    (MOBILE.with_columns(pl.when(pl.col("ram") > 3000).then(None).otherwise(pl.col("price_range"))
                         .alias("price_range")), {}, "has 1"),
    (MOBILE, {"storage": "sqlite:///x.db", "study": "s"}, "SQLite storage locks up"),
])
def test_bad_input(home, data, params, message):
    with pytest.raises(WorkbenchError, match=message.replace("(", r"\(")):
        select(data, trials=5, **params)
    assert Registry.open().datasets.list() == []


def test_missing_target_is_refused_by_the_cli(home):
    result = run_cli("run", "feature-selection", "--data", str(DATASETS / "mobile_price_sample.csv"),
                     "-p", "target=price", home=home)
    assert result.returncode == 2 and "column 'price' (parameter target) is not in the data" in result.stderr


def test_fit_count_matches_the_folds_reported_to_the_pruner():
    from workbench_featsel.models import make_model
    from workbench_featsel.problem import build_problem
    from workbench_featsel.search import search

    problem = build_problem(with_noise(), "price_range", "auto", "auto", 5, 0.2, 1)
    found = search(problem, make_model("logistic", "classification", 1, 1), trials=40, penalty=1e-4, seed=1,
                   pareto=False)
    reported = sum(len(trial.intermediate_values) for trial in found.study.trials)
    assert found.fits == reported
    pruned_early = [t for t in found.study.trials if t.state.name == "PRUNED" and t.intermediate_values]
    assert any(len(t.intermediate_values) < 5 for t in pruned_early)


def test_worker_processes_share_the_trials_of_one_run(home):
    outcome = select(MOBILE, trials=24, workers=2)
    metrics = outcome.result.metrics
    assert metrics["workers"] == 2 and 24 <= metrics["trials"] <= 25  # the cap is checked after each trial
    assert "2 processes shared the trials" in outcome.result.summary
    assert select(MOBILE, trials=24, workers=1).result.metrics["workers"] == 1
