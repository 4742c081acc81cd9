"""Testing a plugin's task the way the workbench runs it (datasette's `datasette.testing` is the model).

    from workbench.testing import run_task

    def test_zscore_fits_and_applies(tmp_path):
        fitted = run_task(ZScore(), frame, params={"value": "age"}, register="z", home=tmp_path)
        applied = run_task(ZScore(), other, model="z", home=tmp_path)
        assert applied.result.tables["scores"]["z"].abs().max() < 10

Each call is one real run through the workbench's runner: the parameters validated, `check` called, the run
recorded in a workspace (`home`, else a new temporary folder) with a SQLite registry, its models registered and,
when applied, verified. Any `workbench run` option is a keyword (`model`, `register`, `save`, `seed`, `out`,
`stream`, ...).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from workbench.execution.runner import RunOutcome
    from workbench.registry import Registry
    from workbench.sdk.progress import ProgressReporter
    from workbench.sdk.task import Task


def run_task(task: Task[Any] | str, data: pl.DataFrame | str, name: str | None = None, *,
             params: dict[str, Any] | None = None, registry: Registry | None = None, home: Path | None = None,
             progress: ProgressReporter | None = None, **options: Any) -> RunOutcome:
    """Run `task` (an instance, or an installed task's name) on `data` (a frame, a file or a registered dataset)."""
    from workbench import plugins
    from workbench.execution.dispatch import run_request
    from workbench.execution.request import RunRequest
    from workbench.registry import Registry

    if registry is None:
        folder = Path(home) if home else Path(tempfile.mkdtemp(prefix="workbench-test-"))
        registry = Registry.open(f"sqlite:///{folder / 'registry.db'}", folder)
    runnable = plugins.get_task(task) if isinstance(task, str) else task
    request = RunRequest(task=runnable, data=data, params=dict(params or {}), name=name, **options)
    return run_request(request, registry, progress)
