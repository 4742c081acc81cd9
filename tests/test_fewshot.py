"""The `fewshot` task on real clickbait headlines with the offline MiniLM backbone: train, apply, evaluate."""

import shutil

import polars as pl
import pytest
from conftest import DATASETS, error_lines, run_cli

from workbench.errors import WorkbenchError
from workbench.registry import Registry
from workbench.testing import run_task

HEADLINES = pl.read_csv(DATASETS / "clickbait_sample.csv")
BASE = {"text": "headline", "label": "clickbait"}
DESCRIPTIONS = {"1": "a sensational teaser headline that withholds information to make you click",
                "0": "a factual news headline reporting an event"}

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fewshot")]  # one worker trains the shared SetFit model


def run(data: pl.DataFrame, **params):
    model = params.pop("model", None)
    register = params.pop("register", None)
    return run_task("fewshot", data, "headlines", params={**BASE, **params}, model=model, register=register,
                    registry=Registry.open())


@pytest.fixture(scope="module")
def setfit_run(tmp_path_factory):
    """One SetFit training at N=8 (the slow part), shared by the tests that read it."""
    home = tmp_path_factory.mktemp("fewshot-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_HOME", str(home))
        outcome = run(HEADLINES, shots=8, register="clickbait-setfit")
    return home, outcome


def test_setfit_at_eight_shots_beats_chance_on_held_out_headlines(setfit_run):
    _, outcome = setfit_run
    metrics = outcome.result.metrics
    assert metrics["train_examples"] == 16
    assert metrics["eval_rows"] == HEADLINES.height - 16
    assert metrics["accuracy"] >= 0.8, metrics  # chance is 0.5
    per_label = outcome.result.tables["per_label"]
    assert per_label["label"].to_list() == ["0", "1"]
    assert per_label["recall"].min() >= 0.7
    assert outcome.result.tables["confusion"]["count"].sum() == metrics["eval_rows"]
    assert "confusion" in outcome.result.charts


def test_apply_reproduces_predictions_after_a_registry_round_trip(setfit_run, monkeypatch):
    home, trained = setfit_run
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    held_out = trained.result.tables["predictions"]
    applied = run(HEADLINES, model="clickbait-setfit").result
    rows = applied.tables["predictions"][held_out["row"].to_list()]
    assert rows["predicted_label"].to_list() == held_out["predicted_label"].to_list()
    assert rows["probability"].to_numpy() == pytest.approx(held_out["probability"].to_numpy(), abs=1e-5)
    assert applied.metrics["eval_rows"] == HEADLINES.height  # labels present: evaluated too


def test_a_setfit_folder_without_its_head_is_refused(setfit_run, tmp_path):
    from workbench_fewshot.store import HEAD_FILE, load_classifier

    home, outcome = setfit_run
    copy = tmp_path / "model"
    shutil.copytree(outcome.result.registered[0].path, copy)
    (copy / HEAD_FILE).unlink()
    with pytest.raises(WorkbenchError, match="lacks its body or head"):
        load_classifier(copy, "0" * 64, "cpu", lambda key: None)


def test_the_setfit_artifact_holds_no_pickle(setfit_run):
    from workbench.safety import unsafe_files

    folder = setfit_run[1].result.registered[0].path
    names = {path.name for path in folder.rglob("*") if path.is_file()}
    assert "model.safetensors" in names and "head.safetensors" in names
    assert unsafe_files(folder) == [] and not any(name.endswith((".pkl", ".bin")) for name in names)


def test_zero_shot_beats_chance_with_label_descriptions(home):
    metrics = run(HEADLINES, method="zeroshot", label_descriptions=DESCRIPTIONS).result.metrics
    assert metrics["train_examples"] == 0
    assert metrics["eval_rows"] == HEADLINES.height
    assert metrics["accuracy"] >= 0.65, metrics


def test_embeddings_are_cached_by_model_and_text(home):
    first = run(HEADLINES, method="embeddings", shots=8).result.metrics
    second = run(HEADLINES, method="embeddings", shots=8).result.metrics
    assert first["embeddings_encoded"] == HEADLINES.height and first["embeddings_cached"] == 0
    assert second["embeddings_encoded"] == 0 and second["embeddings_cached"] == HEADLINES.height
    assert second["accuracy"] == first["accuracy"]
    uncached = run(HEADLINES, method="embeddings", shots=8, cache=False).result.metrics
    assert uncached["embeddings_cached"] == 0 and uncached["accuracy"] == first["accuracy"]


def test_a_class_with_fewer_than_n_examples_uses_what_there_is(home):
    few_clickbait = pl.concat([HEADLINES.filter(pl.col("clickbait") == 0).head(60),
                               HEADLINES.filter(pl.col("clickbait") == 1).head(5)])
    result = run(few_clickbait, method="embeddings", shots=20).result
    assert result.metrics["classes_short_of_shots"] == {"1": 5}
    assert result.metrics["train_examples"] == 25
    assert "Fewer than 20 examples" in result.summary and "'1' has 5" in result.summary


@pytest.mark.parametrize(("frame", "params", "message"), [
    (HEADLINES.filter(pl.col("clickbait") == 1), {}, "label column 'clickbait' has one class ('1')"),
    (HEADLINES.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("  ")).otherwise("headline")
                            .alias("headline")), {}, "text column 'headline' has 1 empty or missing texts (rows 3)"),
    (HEADLINES, {"text": "clickbait"}, "column 'clickbait' (parameter text) is Int64, not a text column; columns "
                                       "that fit: headline"),
    (HEADLINES, {"label": "is_clickbait"}, "column 'is_clickbait' (parameter label) is not in the data"),
    (HEADLINES, {"backbone": "./no/such/model"}, "backbone './no/such/model' does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(home, tmp_path, frame, params, message):
    data = tmp_path / "headlines.csv"
    frame.write_csv(data)
    args = [arg for key, value in {**BASE, "method": "embeddings", **params}.items()
            for arg in ("-p", f"{key}={value}")]
    done = run_cli("run", "fewshot", "--data", str(data), *args, "--register", "bad", home=home)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(error_lines(done.stderr)) == 1
    assert Registry.open(home=home).models.list() == []
