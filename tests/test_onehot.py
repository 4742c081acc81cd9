"""The robust one-hot encoder and the `onehot` task: colour example, properties, registry, bad input."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import polars as pl
import pytest
from conftest import DATASETS, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier

from workbench.errors import WorkbenchError
from workbench.kit.encoding import RobustOneHotEncoder
from workbench.registry import Registry

TRAIN = pl.read_csv(DATASETS / "colors_train.csv")
INFERENCE = pl.read_csv(DATASETS / "colors_inference.csv")


def test_colour_example_keeps_training_columns_and_reports_orange():
    encoder = RobustOneHotEncoder().fit(TRAIN)
    encoded, drift = encoder.transform_with_drift(INFERENCE)
    trained = encoder.transform(TRAIN)
    assert encoded.columns == trained.columns == list(encoder.get_feature_names_out())
    assert "color_2__orange" not in encoded.columns
    assert {"color_2__red", "color_2__pink", "color_2__blue", "color_2__purple"} <= set(encoded.columns)
    assert encoded["numerical_1"].to_list() == INFERENCE["numerical_1"].to_list()
    assert encoded.select(pl.exclude("numerical_1")).dtypes == [pl.UInt8] * (encoded.width - 1)
    unseen = drift.filter(pl.col("status") == "unseen").to_dicts()
    assert unseen == [{"column": "color_2_", "level": "orange", "status": "unseen", "count": 1, "share": 0.2}]
    absent = drift.filter(pl.col("status") == "absent")["level"].to_list()
    assert absent == ["blue", "pink", "purple", "red"]
    orange_row = encoded.filter(pl.col("numerical_1") == 9)
    assert orange_row.select(pl.col("^color_2_.*$")).sum_horizontal().item() == 0


def test_infrequent_column_takes_unseen_and_rare_levels():
    encoder = RobustOneHotEncoder(handle_unknown="infrequent", min_frequency=2).fit(TRAIN)
    encoded = encoder.transform(INFERENCE)
    assert "color_2__infrequent" in encoded.columns
    assert "color_2__red" not in encoded.columns  # seen once: grouped
    assert encoded.filter(pl.col("numerical_1") == 9)["color_2__infrequent"].item() == 1


def test_max_categories_counts_the_infrequent_column():
    encoder = RobustOneHotEncoder(max_categories=3).fit(TRAIN)
    names = [name for name in encoder.get_feature_names_out() if name.startswith("color_2_")]
    assert names == ["color_2__green", "color_2__yellow", "color_2__infrequent"]


def test_missing_values_as_level_or_zeros():
    train = pl.DataFrame({"c": ["a", None, "b"]})
    test = pl.DataFrame({"c": [None, "a"]})
    as_level = RobustOneHotEncoder().fit(train).transform(test)
    assert as_level.columns == ["c_a", "c_b", "c_nan"] and as_level.row(0) == (0, 0, 1)
    as_zeros = RobustOneHotEncoder(missing="zeros").fit(train).transform(test)
    assert as_zeros.columns == ["c_a", "c_b"] and as_zeros.row(0) == (0, 0)


def test_sparse_output_matches_dense_and_pandas_output():
    dense = RobustOneHotEncoder().fit(TRAIN).transform(INFERENCE)
    sparse = RobustOneHotEncoder(sparse_output=True).fit(TRAIN).transform(INFERENCE)
    assert np.array_equal(sparse.toarray(), dense.to_numpy())
    frame = RobustOneHotEncoder().set_output(transform="pandas").fit(TRAIN.to_pandas()).transform(
        INFERENCE.to_pandas())
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == dense.columns


def test_works_inside_a_sklearn_pipeline():
    train = pl.read_csv(DATASETS / "adult_train.csv").drop_nulls()
    test = pl.read_csv(DATASETS / "adult_test.csv").drop_nulls()
    pipeline = make_pipeline(RobustOneHotEncoder(columns=["workclass", "education", "sex"]),
                             DecisionTreeClassifier(max_depth=4, random_state=0))
    features = ["age", "workclass", "education", "sex", "hours_per_week"]
    pipeline.fit(train.select(features), train["income"].to_numpy())
    accuracy = (pipeline.predict(test.select(features)) == test["income"].to_numpy()).mean()
    assert accuracy > 0.75


levels = st.sampled_from(["a", "b", "c", "d", "e", None])


@st.composite
def frames(draw):
    rows = draw(st.integers(1, 30))
    names = draw(st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=3, unique=True))
    data = {name: draw(st.lists(levels, min_size=rows, max_size=rows)) for name in names}
    data["num"] = list(range(rows))
    return pl.DataFrame(data, schema={**{name: pl.String for name in names}, "num": pl.Int64})


@settings(max_examples=150, deadline=None)
@given(train=frames(), other=frames(), handle_unknown=st.sampled_from(["ignore", "infrequent"]),
       missing=st.sampled_from(["level", "zeros"]))
def test_transform_properties(train, other, handle_unknown, missing):
    other = other.select([pl.col(name) if name in other.columns else pl.lit(None, pl.String).alias(name)
                          for name in train.columns])
    encoder = RobustOneHotEncoder(handle_unknown=handle_unknown, missing=missing).fit(train)
    encoded = encoder.transform(other)
    assert encoded.columns == list(encoder.get_feature_names_out())
    assert encoded.height == other.height
    for column in encoder.encoded_:
        names = column.output_names("_")  # none when every training value was missing and missing="zeros"
        block = encoded.select(names).to_numpy() if names else np.zeros((other.height, 0))
        values = other[column.name].to_list()
        seen = set(column.levels) | set(column.infrequent)
        for row, value in zip(block, values, strict=True):
            assert row.sum() <= 1
            if value in seen or (value is None and column.has_missing_column):
                assert row.sum() == 1


def test_bad_input_errors():
    with pytest.raises(WorkbenchError, match="no categorical column found"):
        RobustOneHotEncoder().fit(pl.DataFrame({"n": [1, 2]}))
    with pytest.raises(WorkbenchError, match="empty frame"):
        RobustOneHotEncoder().fit(TRAIN.head(0))
    many = pl.DataFrame({"id": [f"u{i}" for i in range(1_000_000)]})
    with pytest.raises(WorkbenchError, match=r"1,000,000 distinct levels .* set max_categories"):
        RobustOneHotEncoder().fit(many)
    assert RobustOneHotEncoder(max_categories=10).fit(many).transform(many.head(3)).width == 10
    encoder = RobustOneHotEncoder().fit(TRAIN)
    with pytest.raises(WorkbenchError, match="categorical column 'color_1_' was present at fit time but is missing"):
        encoder.transform(INFERENCE.drop("color_1_"))


def test_task_fits_registers_and_applies_with_drift(home, tmp_path):
    fit = run_cli("run", "onehot", "--data", str(DATASETS / "colors_train.csv"), "--register", "colors", home=home)
    assert fit.returncode == 0, fit.stderr
    apply = run_cli("run", "onehot", "--data", str(DATASETS / "colors_inference.csv"), "--model", "colors",
                    "--out", str(tmp_path / "out"), home=home)
    assert apply.returncode == 0, apply.stderr
    assert "color_2_ = 'orange' (1 row, 20.0%)" in apply.stdout
    encoded = pl.read_csv(tmp_path / "out" / "encoded.csv")
    assert encoded.columns == list(RobustOneHotEncoder().fit(TRAIN).get_feature_names_out())
    artifact = Registry.open().models.load("colors").path / "encoder.json"
    assert json.loads(artifact.read_text())["encoded"][1]["levels"][0] == "blue"  # plain data, not a pickle
    missing = run_cli("run", "onehot", "--data", str(DATASETS / "adult_train.csv"), "--model", "colors", home=home)
    assert missing.returncode == 2 and "was present at fit time but is missing" in missing.stderr


APPLY = textwrap.dedent("""
    import json, sys
    import polars as pl
    from workbench.kit.encoding import RobustOneHotEncoder
    from workbench.registry import Registry
    state = json.loads((Registry.open().models.load("adult").path / "encoder.json").read_text())
    RobustOneHotEncoder.from_dict(state).transform(pl.read_csv(sys.argv[1])).write_parquet(sys.argv[2])
""")


def test_round_trip_through_the_registry_in_another_process(home, tmp_path):
    train = pl.read_csv(DATASETS / "adult_train.csv")
    test = pl.read_csv(DATASETS / "adult_test.csv")
    encoder = RobustOneHotEncoder(min_frequency=5, handle_unknown="infrequent").fit(train)
    folder = tmp_path / "artifact"
    folder.mkdir()
    (folder / "encoder.json").write_text(json.dumps(encoder.to_dict()))
    Registry.open().models.register("adult", "onehot", folder)
    out = tmp_path / "other.parquet"
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    subprocess.run([sys.executable, "-c", APPLY, str(DATASETS / "adult_test.csv"), str(out)], env=env, check=True)
    assert pl.read_parquet(out).equals(encoder.transform(test))


def test_a_column_missing_in_every_training_row_gets_no_indicators():
    train = pl.DataFrame({"x": [None, None], "num": [0, 1]}, schema={"x": pl.String, "num": pl.Int64})
    encoder = RobustOneHotEncoder(missing="zeros").fit(train)
    encoded, drift = encoder.transform_with_drift(pl.DataFrame({"x": ["a"], "num": [2]}))
    assert encoded.columns == ["num"] == list(encoder.get_feature_names_out())
    assert drift.filter(pl.col("status") == "unseen")["level"].to_list() == ["a"]


def test_clean_names_are_safe_for_lightgbm_and_map_back_to_levels():
    import lightgbm

    adult = pl.read_csv(DATASETS / "adult_train.csv")
    raw = RobustOneHotEncoder().fit(adult)
    assert "income_>50K" in raw.get_feature_names_out()  # what LightGBM refuses as a DataFrame column
    encoder = RobustOneHotEncoder(clean_names=True).fit(adult)
    names = list(encoder.get_feature_names_out())
    assert len(names) == len(set(names)) == len(raw.get_feature_names_out())
    assert all(name.replace("_", "").isalnum() and not name[0].isdigit() for name in names)
    back = {row["output_column"]: (row["column"], row["level"]) for row in encoder.output_levels()}
    assert {back["income_50K"], back["income_50K_2"]} == {("income", ">50K"), ("income", "<=50K")}
    encoded = encoder.transform(adult).to_pandas()
    lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(encoded.drop(columns=["income_50K", "income_50K_2"]),
                                                             adult["income"].to_numpy())
    assert RobustOneHotEncoder.from_dict(json.loads(json.dumps(encoder.to_dict()))).transform(adult).columns == names


def test_the_default_warns_about_id_like_and_treatment_like_columns(home):
    from workbench.testing import run_task

    campaign = pl.read_csv(DATASETS / "campaign_sample.csv").with_row_index("customer").with_columns(
        pl.format("C{}", "customer").alias("customer"))
    result = run_task("onehot", campaign, "campaign", registry=Registry.open()).result
    assert result.metrics["suspicious_columns"] == 2
    assert "`customer` has 1,600 distinct values in 1,600 rows (an ID?)" in result.summary
    assert "`treatment` is named like an ID, treatment or outcome" in result.summary
    chosen = run_task("onehot", campaign, "campaign", params={"columns": ["treatment"]},
                      registry=Registry.open()).result
    assert chosen.metrics["suspicious_columns"] == 0  # named on purpose: no warning


def _sklearn_checks():
    from sklearn.utils.estimator_checks import parametrize_with_checks

    from workbench.kit.encoding import RobustOneHotEncoder

    return parametrize_with_checks([RobustOneHotEncoder()])


@_sklearn_checks()
def test_scikit_learn_s_own_estimator_checks(estimator, check):
    """All of scikit-learn's checks for a transformer (47 in 1.9); only array-API input is skipped, by scikit-learn
    itself, unless SCIPY_ARRAY_API is set."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)
