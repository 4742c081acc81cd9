"""Shared fixtures: an isolated workspace per test and a helper to run the real `workbench` CLI."""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# Under pytest-xdist each worker gets one core's worth of threads: two processes each spinning two OpenMP threads
# (torch, LightGBM, BLAS) on two cores run ten times slower than one thread each. Set before anything imports them.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"
FIXTURE_PLUGINS = Path(__file__).resolve().parent / "fixture_plugins"
WORKBENCH = Path(sys.executable).with_name("workbench")


def pytest_configure(config: pytest.Config) -> None:
    """`make test` groups tests with `--dist loadgroup`; pytest 9.2 makes xdist drop the groups silently
    (pytest-dev/pytest-xdist#1386), which splits shared fixtures and starts Ray in both workers."""
    from packaging.version import Version

    if config.getoption("dist", None) == "loadgroup" and Version(pytest.__version__) >= Version("9.2"):
        raise pytest.UsageError(f"pytest {pytest.__version__} ignores xdist_group; install 'pytest<9.2'")


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


@dataclass
class Invoked:
    """What `invoke` saw: the exit status and the two streams."""

    returncode: int
    stdout: str
    stderr: str


def invoke(*args: str, home: Path, env: dict | None = None, cwd: Path | None = None) -> Invoked:
    """Run `workbench ARGS` in this process (as `run_cli` does in a subprocess, without its start-up cost): the
    same entry point, environment and working folder, its exit status and output captured."""
    import contextlib
    import io

    from workbench.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    os.environ.update({"WORKBENCH_HOME": str(home), **(env or {})})
    os.environ.pop("WORKBENCH_REGISTRY_URL", None)
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = ["workbench", *args]
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                main()
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return Invoked(code, stdout.getvalue(), stderr.getvalue())


# What else a run prints on stderr when it is not a terminal: notes (`workbench: ...`: a plugin that did not load, a
# workspace created) and timestamped progress lines.
NOT_ERRORS = re.compile(r"^(workbench: |\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} )")


def error_lines(stderr: str) -> list[str]:
    """The lines of stderr that report the error (there should be exactly one, starting `Error: `)."""
    return [line for line in stderr.strip().splitlines() if not NOT_ERRORS.match(line)]


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL cluster on a free port (Debian's server, which `make test` installs)."""
    import glob
    import shutil
    import tempfile

    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not binaries or not shutil.which("runuser"):
        pytest.skip("PostgreSQL server not installed (make test installs Debian's postgresql when run as root)")
    bin_dir = binaries[-1]
    folder = Path(tempfile.mkdtemp(prefix="workbench-postgres-"))  # pytest's own folders are root-only
    shutil.chown(folder, "postgres")
    data = folder / "data"
    port = free_port()

    def as_postgres(*command):
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True)

    as_postgres(f"{bin_dir}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres")
    as_postgres(f"{bin_dir}/pg_ctl", "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
                f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start")
    as_postgres(f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "workbench")
    yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/workbench"
    as_postgres(f"{bin_dir}/pg_ctl", "-D", str(data), "-m", "fast", "stop")
    shutil.rmtree(folder, ignore_errors=True)


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright drives Debian's chromium (installed by `make`); no browser is downloaded."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed (make test installs it when run as root)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "headless": True}


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    """Poll `url` until it answers 200, failing early if the server process died."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")
