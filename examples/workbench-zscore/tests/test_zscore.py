"""The plugin's own tests, through `workbench.testing`: real runs in a throwaway workspace."""

import polars as pl
import pytest

from workbench.sdk import WorkbenchError
from workbench.testing import run_task
from workbench_zscore import ZScore

TRAIN = pl.DataFrame({"age": [20, 30, 40, 50, 60]})


def test_fit_registers_the_statistics_and_apply_uses_them(tmp_path):
    fitted = run_task(ZScore(), TRAIN, params={"value": "age"}, register="z", home=tmp_path)
    assert fitted.result.metrics == {"mean": 40.0, "std": pytest.approx(15.811, abs=1e-3)}
    assert [model.ref for model in fitted.result.registered] == ["z@1"]
    applied = run_task(ZScore(), pl.DataFrame({"age": [40.0, 55.811388]}), model="z", home=tmp_path)
    assert applied.result.tables["scored"]["age_z"].to_list() == pytest.approx([0.0, 1.0], abs=1e-6)


def test_a_constant_column_is_refused_and_nothing_is_registered(tmp_path):
    with pytest.raises(WorkbenchError, match="constant"):
        run_task(ZScore(), pl.DataFrame({"age": [3, 3, 3]}), params={"value": "age"}, register="z", home=tmp_path)
    with pytest.raises(WorkbenchError, match="unknown model"):
        run_task(ZScore(), TRAIN, model="z", home=tmp_path)
