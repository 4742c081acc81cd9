"""Bad input across the CLI and every task, through the `workbench` entry point (run in this process).

Every case must end with one `Error:` line on stderr, exit status 2, no traceback, nothing registered, and
nothing written outside `--out` and the workspace.
"""

from pathlib import Path

import polars as pl
import pytest
from conftest import DATASETS, FIXTURE_PLUGINS, error_lines, invoke

from workbench.registry import Registry

GOOD = "name,age\nann,31\nbob,45\n"
CAMPAIGN_ROWS = 120
LABELS = '["works for","killed"]'


@pytest.fixture(scope="module", autouse=True)
def scale_plugin():
    """The third-party `scale` task (tests/fixture_plugins) registered in this process, as its entry point would."""
    import importlib
    import sys

    from workbench import plugins

    sys.path.insert(0, str(FIXTURE_PLUGINS))
    plugins.register_plugin(importlib.import_module("wb_scale"), "scale")
    yield
    plugins.unregister_plugin("scale")
    sys.path.remove(str(FIXTURE_PLUGINS))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """Input files shared by the cases (read-only for them)."""
    folder = tmp_path_factory.mktemp("inputs")

    def write(name: str, content: bytes | str) -> str:
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return str(path)

    campaign = pl.DataFrame({"x": [i % 7 for i in range(CAMPAIGN_ROWS)],
                             "treatment": ["control", "email"] * (CAMPAIGN_ROWS // 2),
                             "outcome": [float(i % 3) for i in range(CAMPAIGN_ROWS)],
                             "word": ["a", "b", "c"] * (CAMPAIGN_ROWS // 3)})
    campaign_path = folder / "campaign.csv"
    campaign.write_csv(campaign_path)
    (folder / "a_folder").mkdir()
    return {
        "tmp": str(folder),
        "folder": str(folder / "a_folder"),
        "empty": write("empty.csv", b""),
        "header": write("header.csv", "a,b\n"),
        "ragged": write("ragged.csv", "a,b,c\n1,2,3\n4,5,6,7\n"),
        "latin": write("latin.csv", "name,age\nJos\u00e9,3\n".encode("latin-1")),
        "good": write("good.csv", GOOD),
        "xlsx": write("sheet.xlsx", b"PK\x03\x04"),
        "parquet": write("broken.parquet", b"PAR1 not really"),
        "binary_params": write("params.json", b"\x89PNG\r\n\x1a\n\x00\x00"),
        "list_params": write("list.json", "[1, 2]"),
        "numbers": write("numbers.csv", "a,b\n1,2\n3,4\n"),
        "one_arm": write("one_arm.csv", "x,treatment,outcome\n1,email,1\n2,email,0\n"),
        "campaign": str(campaign_path),
        "text_outcome": write("text_outcome.csv", "x,treatment,outcome\n1,control,yes\n2,email,no\n"),
        "one_class": write("one_class.csv", "headline,clickbait\nA,1\nB,1\nC,1\n"),
        "blank_text": write("blank_text.csv", "headline,clickbait\nA,1\n  ,0\nC,0\n"),
        "few_dates": write("few_dates.csv", "year,value\n2001,1\n2002,2\n2003,3\n"),
        "bad_dates": write("bad_dates.csv", "when,value\nsoon,1\nlater,2\n"),
        "tiny_classes": write("tiny_classes.csv", "x,y\n" + "".join(f"{i},{int(i >= 10)}\n" for i in range(12))),
        "sentences": write("sentences.csv", "text,triples\nAnn works for Acme .,Ann|works for|Acme\n"),
        "adult": str(DATASETS / "adult_train.csv"),
        "mobile": str(DATASETS / "mobile_price_sample.csv"),
        "noaa": str(DATASETS / "noaa_global_temperature.csv"),
        "clickbait": str(DATASETS / "clickbait_sample.csv"),
        "one_line": write("one_line.csv", b"a," * (9 * 1024 * 1024)),
        "expanding": expanding_parquet(folder / "expanding.parquet"),
        "deep_params": write("deep.json", '{"label_descriptions": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        "spaced_labels": write("spaced.csv", "headline,label\nA one,A\nA two,A \nB one,B\nB two,B\n"),
    }


def expanding_parquet(path: Path) -> str:
    """A few kilobytes on disk that take about 80 MB once read (a constant column compresses to nothing)."""
    pl.DataFrame({"value": ["x" * 80] * 1_000_000}).write_parquet(path, compression="zstd")
    return str(path)


CASES: dict[str, tuple] = {
    # the second attack pass: inputs that ended in exit 1, a traceback or a hang
    "huge seed": (["run", "describe", "--data", "{good}", "--seed", "99999999999999999999"], "--seed"),
    "huge model version": (["run", "onehot", "--data", "{good}", "--model", "m@99999999999999999999"],
                           "unknown model"),
    "huge run id": (["runs", "show", "99999999999999999999"], "less than or equal to 2147483648"),
    "negative seeds": (["run", "fewshot", "--data", "{clickbait}", "-p", "text=headline", "-p", "label=clickbait",
                        "-p", "seeds=-1"], "invalid parameter 'seeds.0'"),
    "deeply nested params": (["run", "fewshot", "--data", "{clickbait}", "-p", "text=headline", "--params",
                              "{deep_params}"], "nested too deeply"),
    "ray address nobody listens on": (["run", "onehot", "--data", "{good}", "--model", "m", "--executor", "ray",
                                       "--ray-address", "127.0.0.1:1", "--out", "{tmp}/never"], "nothing answers"),
    "ray address malformed": (["run", "onehot", "--data", "{good}", "--model", "m", "--executor", "ray",
                               "--ray-address", "bogus", "--out", "{tmp}/never"], "is not HOST:PORT"),
    "unknown storage url": (["run", "feature-selection", "--data", "{mobile}", "-p", "target=price_range", "-p",
                             "storage=foo://bar"], "WORKBENCH_OPTUNA_STORAGES"),
    "one line of 18 MB": (["run", "describe", "--data", "{one_line}"], "no line break"),
    "malformed setting": (["run", "describe", "--data", "{mobile}"], "WORKBENCH_COPY_LIMIT_MB='lots' is malformed",
                          {"WORKBENCH_COPY_LIMIT_MB": "lots"}),
    "malformed worker count": (["run", "describe", "--data", "{good}", "--detach"], "WORKBENCH_WORKERS='0'",
                               {"WORKBENCH_WORKERS": "0"}),
    "unbounded trials": (["run", "feature-selection", "--data", "{mobile}", "-p", "target=price_range", "-p",
                          "trials=1000000000"], "invalid parameter 'trials'"),
    "parquet expanding past the memory limit": (["run", "describe", "--data", "{expanding}"], "would take about",
                                                {"WORKBENCH_MEMORY_LIMIT_MB": "20"}),
    "empty --register": (["run", "onehot", "--data", "{good}", "--register", ""], "invalid model name ''"),
    "--register on describe": (["run", "describe", "--data", "{good}", "--register", "x"],
                               "task 'describe' fits none"),
    "--register with --model": (["run", "onehot", "--data", "{good}", "--model", "m", "--register", "x"],
                                "a run with --model fits none"),
    "empty --out": (["run", "describe", "--data", "{good}", "--out", ""], "--out is empty"),
    "--out holding the workspace": (["run", "describe", "--data", "{good}", "--out", "{tmp}/.."], "the workspace"),
    "labels differing in spaces": (["run", "fewshot", "--data", "{spaced_labels}", "-p", "text=headline", "-p",
                                    "label=label"], "differ only in spaces"),
    "uplift cost column missing": (["run", "uplift", "--data", "{campaign}", "-p", "treatment=treatment", "-p",
                                    "outcome=outcome", "-p", "budget=10", "-p",
                                    "cost_columns={{\"email\": \"price\"}}"], "column 'price'"),
    "uplift treatment as a modifier": (["run", "uplift", "--data", "{campaign}", "-p", "treatment=treatment", "-p",
                                        "outcome=outcome", "-p", "features=x,treatment"], "cannot be in features"),
    "--batch-rows without --stream": (["run", "describe", "--data", "{good}", "--batch-rows", "10"],
                                      "--batch-rows sizes the batches a model is applied in"),
    "--encoding on parquet": (["run", "describe", "--data", "{expanding}", "--encoding", "latin-1"],
                              "applies to CSV files"),
    # reading the data
    "missing file": (["run", "describe", "--data", "{tmp}/absent.csv"], "file not found"),
    "empty file": (["run", "describe", "--data", "{empty}"], "is empty"),
    "header only": (["run", "describe", "--data", "{header}"], "has no rows"),
    "ragged rows": (["run", "describe", "--data", "{ragged}"], "line 3 has 4 fields but the header has 3"),
    "undecodable bytes": (["run", "describe", "--data", "{latin}"], "is not valid utf-8: byte 0xe9 on line 2"),
    "unknown encoding": (["run", "describe", "--data", "{latin}", "--encoding", "klingon"], "unknown encoding"),
    "data is a folder without parts": (["run", "describe", "--data", "{folder}"], "no Parquet or CSV files in"),
    "unknown file type": (["run", "describe", "--data", "{xlsx}"], "unknown file type '.xlsx'"),
    "broken parquet": (["run", "describe", "--data", "{parquet}"], "is not a readable Parquet file"),
    "two-character delimiter": (["run", "describe", "--data", "{good}", "--delimiter", ";;"], "must be one character"),
    # options and parameters
    "unknown task": (["run", "nosuch", "--data", "{good}"], "unknown task 'nosuch'; known tasks: chart, describe"),
    "unknown param": (["run", "describe", "--data", "{good}", "-p", "tpo=3"], "unknown parameter 'tpo'"),
    "seed as a param": (["run", "describe", "--data", "{good}", "-p", "seed=3"], "pass --seed N"),
    "ill-typed param": (["run", "describe", "--data", "{good}", "-p", "top=many"], "invalid parameter 'top'"),
    "param out of bounds": (["run", "describe", "--data", "{good}", "-p", "top=0"], "greater than or equal to 1"),
    "param not key=value": (["run", "describe", "--data", "{good}", "-p", "top"], "is not key=value"),
    "params file not JSON": (["run", "describe", "--data", "{good}", "--params", "{ragged}"], "is not valid JSON"),
    "params file binary": (["run", "describe", "--data", "{good}", "--params", "{binary_params}"], "not UTF-8 text"),
    "params file a folder": (["run", "describe", "--data", "{good}", "--params", "{folder}"], "is a folder"),
    "params file a list": (["run", "describe", "--data", "{good}", "--params", "{list_params}"], "a JSON object"),
    "params file missing": (["run", "describe", "--data", "{good}", "--params", "{tmp}/no.json"], "not found"),
    "format not a choice": (["run", "describe", "--data", "{good}", "--format", "xlsx"],
                            "Invalid value for '--format'"),
    "seed not a number": (["run", "describe", "--data", "{good}", "--seed", "abc"], "Invalid value for '--seed'"),
    "data option missing": (["run", "describe"], "Missing option '--data'"),
    "unknown option": (["run", "describe", "--data", "{good}", "--nope"], "No such option: --nope"),
    "out is a file": (["run", "describe", "--data", "{good}", "--out", "{good}"], "is a file"),
    "out cannot be written": (["run", "describe", "--data", "{good}", "--out", "/proc/workbench-out"],
                              "cannot be written"),
    "missing column": (["run", "scale", "--data", "{good}", "-p", "column=height"],
                       "column 'height' (parameter column) is not in the data; columns are: name, age"),
    "missing required param": (["run", "scale", "--data", "{good}"], "parameter 'column' is required"),
    "unknown model": (["run", "scale", "--data", "{good}", "-p", "column=age", "--model", "ghost@2"],
                      "unknown model 'ghost'"),
    "model for a task without apply": (["run", "describe", "--data", "{good}", "--model", "x"],
                                       "does not apply registered models"),
    # names
    "model name with separator": (["run", "scale", "--data", "{good}", "-p", "column=age", "--register", "../evil"],
                                  "invalid model name '../evil'"),
    "model name ending in a newline": (["run", "scale", "--data", "{good}", "-p", "column=age", "--register",
                                        "evil\n"], "invalid model name"),
    "model name with a space": (["run", "scale", "--data", "{good}", "-p", "column=age", "--register", "a b"],
                                "invalid model name 'a b'"),
    "dataset name of dots": (["run", "describe", "--data", "{good}", "--name", ".."], "invalid dataset name"),
    "dataset name ending in a newline": (["run", "describe", "--data", "{good}", "--name", "sales\n"],
                                         "invalid dataset name"),
    "datasets add with slash": (["datasets", "add", "a/b", "{good}"], "invalid dataset name 'a/b'"),
    "datasets show unknown": (["datasets", "show", "nothing"], "unknown dataset 'nothing'"),
    "models show unknown": (["models", "show", "nothing@3"], "unknown model 'nothing'"),
    "alias of an unknown model": (["models", "alias", "nothing@1", "champion"], "unknown model 'nothing'"),
    "unalias latest": (["models", "unalias", "m", "latest"], "cannot be deleted"),
    "runs show unknown": (["runs", "show", "42"], "unknown run 42"),
    "runs show not a number": (["runs", "show", "abc"], "Invalid value for 'run_id'"),
    "runs list limit zero": (["runs", "list", "--limit", "0"], "Invalid value for '--limit'"),
    "runs cancel unknown": (["runs", "cancel", "7"], "unknown run 7"),
    # describe and onehot
    "describe top not a number": (["run", "describe", "--data", "{adult}", "-p", "top=1.5"], "invalid parameter 'top'"),
    "onehot unknown column": (["run", "onehot", "--data", "{adult}", "-p", "columns=nope"],
                              "column 'nope' (parameter columns) is not in the data"),
    "onehot nothing to encode": (["run", "onehot", "--data", "{numbers}"], "no categorical column found"),
    "onehot max categories below 2": (["run", "onehot", "--data", "{adult}", "-p", "max_categories=1"],
                                      "greater than or equal to 2"),
    "onehot too many levels": (["run", "onehot", "--data", "{adult}", "-p", "columns=fnlwgt", "-p", "max_levels=10"],
                               "distinct levels (limit 10)"),
    # chart
    "chart value is text": (["run", "chart", "--data", "{adult}", "-p", "date=age", "-p", "value=workclass"],
                            "is String, not a numeric column"),
    "chart dates do not parse": (["run", "chart", "--data", "{bad_dates}", "-p", "date=when", "-p", "value=value"],
                                 "does not parse as dates"),
    "chart too few points": (["run", "chart", "--data", "{few_dates}", "-p", "date=year", "-p", "value=value"],
                             "needs at least 10"),
    "chart audience not a choice": (["run", "chart", "--data", "{noaa}", "-p", "date=Date", "-p", "value=Anomaly",
                                     "-p", "audience=kids"], "invalid parameter 'audience'"),
    # feature-selection
    "featsel single class": (["run", "feature-selection", "--data", "{one_class}", "-p", "target=clickbait"],
                             "has a single class"),
    "featsel metric of the wrong kind": (["run", "feature-selection", "--data", "{mobile}", "-p", "target=price_range",
                                          "-p", "metric=rmse"], "does not fit a classification target"),
    "featsel study escapes": (["run", "feature-selection", "--data", "{mobile}", "-p", "target=price_range",
                               "-p", "study=../../x"], "invalid study name '../../x'"),
    "featsel journal escapes": (["run", "feature-selection", "--data", "{mobile}", "-p", "target=price_range",
                                 "-p", "storage=journal:../../x.journal"], "climbs out of the workspace"),
    "featsel too few rows per class": (["run", "feature-selection", "--data", "{tiny_classes}", "-p", "target=y"],
                                       "class 1 of 'y' has 2 rows; 5 folds after a 20% test split need at least 7"),
    # uplift
    "uplift one arm": (["run", "uplift", "--data", "{one_arm}", "-p", "treatment=treatment", "-p", "outcome=outcome"],
                       "has one arm ('email')"),
    "uplift control label absent": (["run", "uplift", "--data", "{campaign}", "-p", "treatment=treatment", "-p",
                                     "outcome=outcome", "-p", "control=none"], "control label 'none' is not in"),
    "uplift text outcome": (["run", "uplift", "--data", "{text_outcome}", "-p", "treatment=treatment", "-p",
                             "outcome=outcome"], "not numeric"),
    "uplift budget without costs": (["run", "uplift", "--data", "{campaign}", "-p", "treatment=treatment", "-p",
                                     "outcome=outcome", "-p", "budget=10"], "no cost for arm 'email'"),
    "uplift negative budget": (["run", "uplift", "--data", "{campaign}", "-p", "treatment=treatment", "-p",
                                "outcome=outcome", "-p", "budget=-1"], "greater than or equal to 0"),
    "uplift costs not JSON": (["run", "uplift", "--data", "{campaign}", "-p", "treatment=treatment", "-p",
                               "outcome=outcome", "-p", "costs={{email: 1"], "is not valid JSON"),
    # fewshot
    "fewshot one class": (["run", "fewshot", "--data", "{one_class}", "-p", "text=headline", "-p", "label=clickbait"],
                          "has one class ('1')"),
    "fewshot blank text": (["run", "fewshot", "--data", "{blank_text}", "-p", "text=headline", "-p", "label=clickbait"],
                           "1 empty or missing texts (rows 1)"),
    "fewshot text is numeric": (["run", "fewshot", "--data", "{clickbait}", "-p", "text=clickbait", "-p",
                                 "label=clickbait"], "is Int64, not a text column"),
    "fewshot no labels": (["run", "fewshot", "--data", "{clickbait}", "-p", "text=headline"],
                          "training needs the label column"),
    "fewshot backbone missing": (["run", "fewshot", "--data", "{clickbait}", "-p", "text=headline", "-p",
                                  "label=clickbait", "-p", "backbone=./no/such/model"], "does not exist"),
    # relations
    "relations teacher over file://": (["run", "relations", "--data", "{sentences}", "-p", "text=text", "-p",
                                        "mode=teach", "-p", "teacher_url=file:///etc/passwd", "-p",
                                        "teacher_model=m"], "is not an http(s) URL"),
    "relations key from any variable": (["run", "relations", "--data", "{sentences}", "-p", "text=text", "-p",
                                         "mode=teach", "-p", "teacher_url=http://127.0.0.1:9/v1", "-p",
                                         "teacher_model=m", "-p", "teacher_key_env=AWS_SECRET_ACCESS_KEY"],
                                        "is not an allowed key variable"),
    "relations teach without a teacher": (["run", "relations", "--data", "{sentences}", "-p", "text=text", "-p",
                                           "mode=teach"], "mode=teach needs the teacher"),
    "relations train without gold": (["run", "relations", "--data", "{sentences}", "-p", "text=text", "-p",
                                      "mode=train"], "mode=train needs gold triples"),
    "relations model path missing": (["run", "relations", "--data", "{sentences}", "-p", "text=text", "-p",
                                      "base_model=./no/such/model"], "does not exist"),
    "relations labels not a list": (["run", "relations", "--data", "{sentences}", "-p", "text=text", "-p",
                                     "labels={{\"a\": 1}}"], "invalid parameter 'labels'"),
}


def files_outside(root: Path, allowed: set[Path]) -> set[Path]:
    return {path for path in root.rglob("*") if not any(path == a or a in path.parents for a in allowed)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_nothing_registered_nothing_written(files, tmp_path, case):
    args, message, *env = CASES[case]
    home, cwd, out = tmp_path / "home", tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    before = files_outside(Path(files["tmp"]), set())
    result = invoke(*[arg.format(**files) for arg in args], home=home, cwd=cwd, env=env[0] if env else None)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    if home.exists():
        registry = Registry.open(home=home)
        assert registry.datasets.list() == [] and registry.models.list() == []
    assert files_outside(tmp_path, {home, cwd, out}) == set()
    assert list(cwd.iterdir()) == [] and files_outside(Path(files["tmp"]), set()) == before


def test_the_suite_covers_the_cli_and_every_task():
    assert len(CASES) >= 60
    tasks = {args[1] for args, *_ in CASES.values() if args[0] == "run" and len(args) > 1}
    assert {"describe", "onehot", "chart", "feature-selection", "uplift", "fewshot", "relations"} <= tasks
