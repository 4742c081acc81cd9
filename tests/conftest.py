"""Shared fixtures: an isolated workspace per test and a helper to run the real `workbench` CLI."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"
FIXTURE_PLUGINS = Path(__file__).resolve().parent / "fixture_plugins"
WORKBENCH = Path(sys.executable).with_name("workbench")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh WORKBENCH_HOME with its own SQLite registry."""
    folder = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(folder))
    monkeypatch.delenv("WORKBENCH_REGISTRY_URL", raising=False)
    return folder


def run_cli(*args: str, home: Path, third_party: bool = False, env: dict | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `workbench ARGS` in a subprocess; `third_party` puts the fixture plugins on the path."""
    environ = {**os.environ, "WORKBENCH_HOME": str(home), **(env or {})}
    environ.pop("WORKBENCH_REGISTRY_URL", None)
    if third_party:
        environ["PYTHONPATH"] = str(FIXTURE_PLUGINS)
    return subprocess.run([str(WORKBENCH), *args], capture_output=True, text=True, env=environ,
                          cwd=cwd, timeout=300)
