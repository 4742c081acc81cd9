"""`--seed` is the one seed: two runs of a task with the same seed give identical results, another seed differs."""

import polars as pl
import pytest
from conftest import DATASETS

from workbench.registry import Registry
from workbench.testing import run_task

RELATIONS_DATA = pl.read_csv(DATASETS / "conll04_train_sample.csv").head(6)

RUNS = {  # task: (data, params, whether another seed must change the result)
    "describe": (pl.read_csv(DATASETS / "adult_train.csv"), {}, False),
    "onehot": (pl.read_csv(DATASETS / "adult_train.csv"), {}, False),
    "chart": (pl.read_csv(DATASETS / "noaa_global_temperature.csv"), {"date": "Date", "value": "Anomaly"}, False),
    "feature-selection": (pl.read_csv(DATASETS / "mobile_price_sample.csv"),
                          {"target": "price_range", "model": "logistic", "trials": 12, "compare": False}, True),
    "uplift": (pl.read_csv(DATASETS / "campaign_sample.csv"),
               {"treatment": "treatment", "outcome": "outcome", "features": ["x0", "x4", "x5", "x7"]}, True),
    "fewshot": (pl.read_csv(DATASETS / "clickbait_sample.csv"),
                {"text": "headline", "label": "clickbait", "shots": 2, "iterations": 1, "eval_rows": 40}, True),
    "relations": (RELATIONS_DATA, {"text": "text", "gold": "triples", "mode": "train", "epochs": 1, "eval_rows": 2,
                                   "train_batch_size": 4, "max_new_tokens": 8, "lora_rank": 4}, True),
}


def outputs(task: str, seed: int) -> tuple[dict, dict]:
    """Tables and metrics of one run, without the measurements of time."""
    data, params, _ = RUNS[task]
    result = run_task(task, data, "data", params=params, seed=seed, registry=Registry.open()).result
    timed = ("seconds", "per_second", "_rate")
    tables = {name: table.select([c for c in table.columns if not any(word in c for word in timed)])
              for name, table in result.tables.items()}
    metrics = {name: value for name, value in result.metrics.items() if not any(word in name for word in timed)}
    return tables, metrics


def same(first: tuple[dict, dict], second: tuple[dict, dict]) -> bool:
    return first[1] == second[1] and first[0].keys() == second[0].keys() and all(
        first[0][name].equals(second[0][name]) for name in first[0])


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(RUNS))
def test_the_same_seed_gives_identical_results(home, task):
    first, second = outputs(task, 3), outputs(task, 3)
    assert same(first, second)
    if RUNS[task][2]:
        assert not same(first, outputs(task, 4)), "the seed does not reach the task"
