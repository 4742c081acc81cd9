"""The registry as the hub: runs from registered datasets, output tables saved with their lineage, pipelines that
skip what is up to date, and sweeps (issue 26). Through the CLI's entry point, in this process."""

import json
import textwrap
from pathlib import Path

import polars as pl
import pytest
from conftest import DATASETS, error_lines, invoke

from workbench.registry import Registry

ADULT = str(DATASETS / "adult_train.csv")
COLORS = str(DATASETS / "colors_train.csv")


def ok(*args: str, home: Path, **options) -> str:
    done = invoke(*args, home=home, **options)
    assert done.returncode == 0, done.stderr
    return done.stdout


def refused(*args: str, home: Path, message: str, **options) -> None:
    done = invoke(*args, home=home, **options)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and message in lines[0], done.stderr


def profile(home: Path, run_id: int) -> pl.DataFrame:
    return pl.read_parquet(home / "runs" / str(run_id) / "profile.parquet")


def test_a_registered_dataset_runs_by_name_version_and_alias_like_its_file(home, tmp_path):
    ok("datasets", "add", "adult", ADULT, home=home)
    ok("datasets", "alias", "adult@1", "training", home=home)
    ok("run", "describe", "--data", ADULT, home=home)
    for ref in ("adult", "adult@1", "adult@training", "adult@latest"):
        ok("run", "describe", "--data", ref, home=home)
    runs = Registry.open(home=home).runs.list(task="describe")
    assert [run.inputs for run in runs[:4]] == [["adult@1"]] * 4
    assert all(profile(home, run.id).equals(profile(home, runs[-1].id)) for run in runs)
    refused("run", "describe", "--data", "adult@7", home=home, message="has no version or alias '7'")
    refused("run", "describe", "--data", "adult@nope", home=home, message="has no version or alias 'nope'")
    refused("run", "describe", "--data", "nothing-here", home=home, message="file not found")
    (tmp_path / "adult").mkdir()  # a folder of parts named like the dataset, registered from elsewhere
    pl.DataFrame({"a": [1, 2]}).write_parquet(tmp_path / "adult" / "part-0.parquet")
    refused("run", "describe", "--data", "adult", home=home, cwd=tmp_path,
            message="names both the file ./adult and the registered dataset adult")
    ok("run", "describe", "--data", "./adult", home=home, cwd=tmp_path)


def test_a_saved_table_remembers_its_run_and_the_runs_that_use_it(home):
    out = ok("run", "onehot", "--data", COLORS, "--register", "colors", "--save", "encoded=colors-encoded",
             home=home)
    assert "saved dataset colors-encoded@1" in out
    registry = Registry.open(home=home)
    saved = registry.datasets.get("colors-encoded")
    made = registry.runs.get(saved.run_id)
    assert made.task == "onehot" and made.outputs["datasets"] == ["colors-encoded@1"]
    encoded = registry.datasets.load("colors-encoded@1")
    assert encoded.equals(pl.read_parquet(registry.run_dir(made.id) / "encoded.parquet"))
    ok("run", "describe", "--data", "colors-encoded", home=home)
    shown = ok("datasets", "show", "colors-encoded@1", home=home)
    assert f"made by run #{made.id} (onehot) from colors_train@1" in shown
    assert "used by: run #2 (describe, succeeded)" in shown


def test_nothing_is_registered_by_a_failed_run_not_even_its_saved_tables(home):
    refused("run", "onehot", "--data", COLORS, "--save", "nope=x", home=home, message="made no table 'nope'")
    refused("run", "onehot", "--data", COLORS, "--save", "encoded=../x", home=home, message="invalid --save")
    registry = Registry.open(home=home)
    assert registry.datasets.list() == [] and registry.models.list() == []
    assert [run.status for run in registry.runs.list()] == ["failed"]


def pipeline_file(folder: Path, trials: int = 3, extra: str = "") -> Path:
    path = folder / "pipeline.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: price
        steps:
          encode:
            task: onehot
            data: {DATASETS / 'mobile_price_sample.csv'}
            params: {{columns: [blue], clean_names: true}}
            register: price-encoder
            save: {{encoded: price-encoded}}
          select:
            task: feature-selection
            data: encode.encoded
            params: {{target: price_range, model: logistic, trials: {trials}, compare: false}}
            register: price-model
          score:
            task: feature-selection
            data: encode.encoded
            model: select.model
        {extra}"""))
    return path


def steps(stdout: str) -> dict[str, str]:
    return {line.split(":")[0].strip(): line.split(":")[1].split()[0] for line in stdout.splitlines()
            if line.startswith("  ")}


@pytest.mark.slow
def test_a_pipeline_runs_then_skips_then_reruns_only_what_changed(home, tmp_path):
    mobile = pl.read_csv(DATASETS / "mobile_price_sample.csv").with_columns(pl.col("blue").cast(pl.String))
    data = tmp_path / "mobile.csv"
    mobile.write_csv(data)
    spec = pipeline_file(tmp_path)
    spec.write_text(spec.read_text().replace(str(DATASETS / "mobile_price_sample.csv"), str(data)))
    first = steps(ok("pipeline", "run", str(spec), home=home))
    assert first == {"encode": "succeeded", "select": "succeeded", "score": "succeeded"}
    again = steps(ok("pipeline", "run", str(spec), home=home))
    assert again == {"encode": "skipped", "select": "skipped", "score": "skipped"}
    spec.write_text(spec.read_text().replace("trials: 3", "trials: 4"))
    changed = steps(ok("pipeline", "run", str(spec), home=home))
    assert changed == {"encode": "skipped", "select": "succeeded", "score": "succeeded"}
    registry = Registry.open(home=home)
    groups = registry.runs.groups(kind="pipeline")
    assert [group.status for group in groups] == ["succeeded"] * 3
    assert {run.step for run in registry.runs.list(group_id=groups[0].id)} == {"select", "score"}
    assert registry.models.get("price-model").version == 2
    forced = steps(ok("pipeline", "run", str(spec), "--force", home=home))
    assert set(forced.values()) == {"succeeded"}
    shown = ok("pipeline", "show", str(groups[0].id), home=home)
    assert "encode" in shown and "skipped" in shown and "reuses run #1" in shown


def test_a_failing_step_stops_the_steps_that_read_it_and_the_rest_is_recorded(home, tmp_path):
    spec = tmp_path / "broken.yaml"
    spec.write_text(textwrap.dedent(f"""\
        steps:
          profile:
            task: describe
            data: {ADULT}
          encode:
            task: onehot
            data: {ADULT}
            params: {{columns: [native_country], max_levels: 2}}
            save: {{encoded: adult-encoded}}
          after:
            task: describe
            data: encode.encoded
        """))
    done = invoke("pipeline", "run", str(spec), home=home)
    assert done.returncode == 1
    assert steps(done.stdout) == {"profile": "succeeded", "encode": "failed", "after": "not"}
    registry = Registry.open(home=home)
    group = registry.runs.groups()[0]
    assert group.status == "failed" and group.spec["outcomes"]["after"]["note"] == "step encode did not succeed"
    assert [run.status for run in registry.runs.list(group_id=group.id)] == ["failed", "succeeded"]


@pytest.mark.parametrize(("body", "message"), [
    ("  a:\n    task: describe\n    data: b.encoded\n    save: {profile: y}\n  b:\n    task: onehot\n"
     "    data: a.profile\n    save: {encoded: x}\n", "form a cycle (a -> b -> a)"),
    ("  a:\n    task: describe\n    data: nowhere.table\n", "step a, field data: 'nowhere.table' names no step"),
    ("  a:\n    task: nosuchtask\n    data: x.csv\n", "step a, field task: unknown task 'nosuchtask'"),
    ("  a:\n    task: describe\n    data: d.csv\n    params: {tops: 3}\n", "step a, field params: unknown parameter"),
    ("  a:\n    task: describe\n    data: d.csv\n    colour: red\n", "step a, field colour: unknown field"),
    ("  a:\n    task: onehot\n    data: d.csv\n  b:\n    task: describe\n    data: a.encoded\n",
     "step a does not save table 'encoded'"),
    ("  a:\n    task: describe\n    data: d.csv\n  b:\n    task: onehot\n    data: d.csv\n    model: a.model\n",
     "step a registers no model"),
])
def test_pipeline_files_are_checked_before_anything_runs(home, tmp_path, body, message):
    (tmp_path / "d.csv").write_text("a,b\n1,x\n2,y\n")
    spec = tmp_path / "p.yaml"
    spec.write_text("steps:\n" + body)
    refused("pipeline", "run", str(spec), home=home, message=message, cwd=tmp_path)
    registry = Registry(home=home)
    assert not registry.exists() or registry.runs.list() == []


def test_a_toml_pipeline_and_a_malformed_file(home, tmp_path):
    spec = tmp_path / "p.toml"
    spec.write_text(f'[steps.profile]\ntask = "describe"\ndata = "{ADULT}"\n')
    assert steps(ok("pipeline", "run", str(spec), home=home)) == {"profile": "succeeded"}
    spec.write_text("[steps\n")
    refused("pipeline", "run", str(spec), home=home, message="is not valid TOML")
    (tmp_path / "p.yaml").write_text("steps: [1, 2")
    refused("pipeline", "run", str(tmp_path / "p.yaml"), home=home, message="is not valid YAML")


def test_a_two_by_two_sweep_records_four_runs_in_one_group_ranked(home):
    out = ok("run", "feature-selection", "--data", str(DATASETS / "mobile_price_sample.csv"), "-p",
             "target=price_range", "-p", "compare=false", "--sweep", "trials=2,4", "--sweep", "model=logistic,linear",
             home=home)
    assert "sweep #1: 4 runs of feature-selection" in out and "best first" in out
    registry = Registry.open(home=home)
    runs = registry.runs.list(group_id=1)
    assert len(runs) == 4 and {run.status for run in runs} == {"succeeded"}
    assert {(run.params["trials"], run.params["model"]) for run in runs} == {
        (2, "logistic"), (4, "logistic"), (2, "linear"), (4, "linear")}
    from workbench import plugins
    from workbench.presentation.leaderboard import leaderboard

    board = leaderboard(runs, plugins.get_task("feature-selection"))
    scores = board["Chosen CV"].to_list()
    assert scores == sorted(scores, reverse=True) and board["best"][0] == "★ best"
    assert {"trials", "model"} <= set(board.columns)
    refused("run", "describe", "--data", ADULT, "--sweep", "top=1,2", "--out", "o", home=home,
            message="a sweep makes many runs")
    refused("run", "describe", "--data", ADULT, "--sweep", "top=1,99", home=home, message="invalid parameter 'top'")
    assert len(registry.runs.list(task="describe")) == 0
    assert json.loads(json.dumps(registry.runs.group(1).spec))["grid"] == {"trials": "2,4", "model": "logistic,linear"}
