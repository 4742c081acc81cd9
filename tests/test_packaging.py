"""Installable as real software: the wheel, installed non-editable in a fresh virtual environment with the core
only, works from a folder outside the repository, says what each plugin needs, and takes a plugin extra
(issue 25). Slow: it builds the wheel and installs it with pip (dependencies from pip's cache or the index)."""

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from conftest import DATASETS, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("packaging")]


def pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built from a copy of the sources (nothing is written into the checkout)."""
    import shutil

    folder = tmp_path_factory.mktemp("build")
    source = folder / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", ".workbench", "out", "build",
                                                                 "*.egg-info", "__pycache__", ".mypy_cache",
                                                                 ".ruff_cache", ".pytest_cache", "benchmarks"))
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(folder),
                            str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return next(folder.glob("dsworkbench-*.whl"))


def test_the_wheel_installs_with_the_core_only_and_says_what_each_plugin_needs(wheel, tmp_path):
    import workbench

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    installed = pip(python, str(wheel))
    assert installed.returncode == 0, installed.stderr[-3000:]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    home = tmp_path / "home"
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("WORKBENCH_", "PYTHON"))}
    environ["COLUMNS"] = "200"  # tables drawn wide enough to hold every name
    environ.update(WORKBENCH_HOME=str(home), HF_HUB_OFFLINE="1")

    def workbench_cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(env_dir / "bin" / "workbench"), *args], capture_output=True, text=True,
                              cwd=outside, env=environ, timeout=300)

    version = workbench_cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"workbench {workbench.__version__}"
    module = subprocess.run([str(python), "-m", "workbench", "--version"], capture_output=True, text=True, cwd=outside)
    assert module.stdout == version.stdout
    listed = workbench_cli("datasets", "list")  # read-only: nothing is created
    assert listed.returncode == 0 and "no workspace" in listed.stderr and not home.exists()
    plugins = {item["name"]: item for item in json.loads(workbench_cli("plugins", "--json").stdout)}
    assert plugins["describe"]["status"] == "ok" and plugins["charts"]["status"] == "ok"
    assert plugins["onehot"]["status"] == "needs: pip install 'dsworkbench[onehot]'"
    assert plugins["uplift"]["status"] == "needs: pip install 'dsworkbench[uplift]'"
    refused = workbench_cli("run", "onehot", "--data", str(DATASETS / "adult_train.csv"))
    assert refused.returncode == 2 and refused.stderr.strip() == (
        "Error: task 'onehot' needs libraries that are not installed: pip install 'dsworkbench[onehot]'")
    described = workbench_cli("run", "describe", "--data", str(DATASETS / "adult_train.csv"))
    assert described.returncode == 0, described.stderr
    assert f"created the workspace {home}" in described.stderr and "3,000 rows x 15 columns" in described.stdout
    assert "adult_train" in workbench_cli("datasets", "list").stdout
    app = workbench_cli("app", "streamlit")
    assert app.returncode == 2 and "pip install 'dsworkbench[apps]'" in app.stderr
    assert not list(outside.iterdir())  # nothing written where it ran

    extra = pip(python, f"{wheel}[onehot]")
    assert extra.returncode == 0, extra.stderr[-3000:]
    assert {item["name"]: item for item in json.loads(workbench_cli("plugins", "--json").stdout)}["onehot"][
        "status"] == "ok"
    encoded = workbench_cli("run", "onehot", "--data", str(DATASETS / "adult_train.csv"), "--register", "enc")
    assert encoded.returncode == 0, encoded.stderr
    assert "registered model enc@1" in encoded.stdout
    checked = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout


def test_the_package_page_links_to_files_that_exist(wheel):
    import re
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        page = archive.read(metadata).decode()
    source = "https://github.com/workbench-ds/workbench/blob/main/"
    raw = "https://raw.githubusercontent.com/workbench-ds/workbench/main/"
    targets = re.findall(r"\]\(([^)\s]+)\)", page)
    assert len(targets) >= 20 and "![" in page
    for target in targets:
        assert target.startswith(("https://", "#")), f"{target} would not resolve on the package index"
        relative = target.removeprefix(source).removeprefix(raw)
        if relative != target:  # a file of this repository: it exists
            assert (ROOT / relative).exists(), target
