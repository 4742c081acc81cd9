"""Progress reporters: tasks report through `ctx.progress`; each surface plugs in its own."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

Item = TypeVar("Item")


class ProgressBar(Protocol):
    def advance(self, steps: int = 1) -> None: ...

    def note(self, text: str) -> None:
        """Show a short status beside the bar, e.g. the current training loss."""


class ProgressReporter:
    """Silent reporter; subclasses override `bar` to show something."""

    @contextmanager
    def bar(self, description: str, total: int | None = None) -> Iterator[ProgressBar]:
        yield _SilentBar()

    def track(self, items: Iterable[Item], description: str, total: int | None = None) -> Iterator[Item]:
        """Yield `items`, advancing a bar by one for each."""
        if total is None and hasattr(items, "__len__"):
            total = len(items)  # type: ignore[arg-type]
        with self.bar(description, total) as bar:
            for item in items:
                yield item
                bar.advance()


class _SilentBar:
    def advance(self, steps: int = 1) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class RichProgress(ProgressReporter):
    """Rich progress bars on stderr, for the CLI."""

    @contextmanager
    def bar(self, description: str, total: int | None = None) -> Iterator[ProgressBar]:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
            task_id = progress.add_task(description, total=total)
            try:
                yield _RichBar(progress, task_id, description)
            except BaseException:
                progress.live.transient = True  # a failed step leaves the error alone on screen, not a stale bar
                raise


class _RichBar:
    def __init__(self, progress, task_id, description: str) -> None:
        self._progress, self._task_id, self._description = progress, task_id, description

    def advance(self, steps: int = 1) -> None:
        self._progress.advance(self._task_id, steps)

    def note(self, text: str) -> None:
        self._progress.update(self._task_id, description=f"{self._description} ({text})")
