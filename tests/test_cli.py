"""The real `workbench` binary: an end-to-end run, apply mode, and every bad input the issue lists."""

import json

from conftest import DATASETS, run_cli

from workbench.registry import Registry


def test_describe_prints_a_profile_writes_outputs_and_records_the_run(home, tmp_path):
    out = tmp_path / "out"
    result = run_cli("run", "describe", "--data", str(DATASETS / "adult_train.csv"), "--out", str(out),
                     home=home)
    assert result.returncode == 0, result.stderr
    assert "3,000 rows x 15 columns" in result.stdout and "run #1 recorded" in result.stdout
    charts = {f"{name}.{kind}" for name in ("missing", "distribution") for kind in ("vl.json", "html", "png", "svg")}
    assert {p.name for p in out.iterdir()} == {"_SUCCESS", "profile.csv", "distribution.csv", "metrics.json",
                                              "summary.md", *charts}
    assert (out / "missing.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "metrics.json").read_text())["rows"] == 3000
    assert "cdn" not in (out / "missing.html").read_text().lower()
    run = Registry.open().runs.get(1)
    assert run.status == "succeeded" and run.inputs == ["adult_train@1"]
    assert run.outputs["tables"]["profile"] == [15, 11]
    listing = run_cli("runs", "list", home=home)
    assert "describe" in listing.stdout and "succeeded" in listing.stdout


def test_register_then_apply_records_lineage_and_aliases(home, tmp_path):
    data = str(DATASETS / "adult_train.csv")
    fit = run_cli("run", "scale", "--data", data, "-p", "column=age", "--register", "agescale",
                  home=home, third_party=True)
    assert fit.returncode == 0, fit.stderr
    assert "registered model agescale@1" in fit.stdout
    alias = run_cli("models", "alias", "agescale@1", "champion", home=home, third_party=True)
    assert alias.returncode == 0, alias.stderr
    test = str(DATASETS / "adult_test.csv")
    apply = run_cli("run", "scale", "--data", test, "-p", "column=age", "--model", "agescale@champion",
                    home=home, third_party=True)
    assert apply.returncode == 0, apply.stderr
    registry = Registry.open()
    model = registry.models.get("agescale@champion")
    assert model.inputs == ["adult_train@1"] and model.params == {"column": "age"}
    assert registry.runs.list()[0].inputs == ["adult_test@1", "agescale@1"]
    shown = json.loads(run_cli("models", "show", "agescale", home=home).stdout)
    assert shown["aliases"] == ["latest", "champion"] and shown["task"] == "scale"


def write(tmp_path, name, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def test_latin1_file_reads_with_encoding_option(home, tmp_path):
    path = write(tmp_path, "latin.csv", "name,age\nJos\u00e9,3\n".encode("latin-1"))
    result = run_cli("run", "describe", "--data", path, "--encoding", "latin-1", "--out", str(tmp_path / "o"),
                     home=home)
    assert result.returncode == 0, result.stderr
    assert "José (1)" in (tmp_path / "o" / "profile.csv").read_text()


def test_semicolon_csv_is_sniffed(home, tmp_path):
    path = write(tmp_path, "semi.csv", b"a;b\n1;x\n2;y\n")
    result = run_cli("datasets", "add", "semi", path, home=home)
    assert result.returncode == 0, result.stderr
    assert Registry.open().datasets.get("semi").schema == {"a": "Int64", "b": "String"}


def test_tampered_model_is_refused_by_the_cli(home):
    data = str(DATASETS / "adult_train.csv")
    run_cli("run", "scale", "--data", data, "-p", "column=age", "--register", "s", home=home, third_party=True)
    stats = home / "models" / "s" / "v1" / "stats.json"
    stats.write_text(stats.read_text().replace('"mean"', '"mean" ').replace(": ", ":"))
    result = run_cli("run", "scale", "--data", data, "-p", "column=age", "--model", "s", home=home,
                     third_party=True)
    assert result.returncode == 2
    assert "fails its sha256 check" in result.stderr and "Traceback" not in result.stderr


def test_debug_shows_the_traceback(home):
    result = run_cli("--debug", "run", "describe", "--data", "absent.csv", home=home)
    assert result.returncode != 0 and "Traceback" in result.stderr
