"""Progress reporters: tasks report through `ctx.progress`; each surface plugs in its own.

- `ProgressReporter`: silent;
- `RichProgress`: bars in a terminal;
- `LogProgress`: plain lines at a steady interval, for log files and schedulers;
- `TrackedProgress`: wraps any of them, keeps the current step for the run record, and stops a cancelled run.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sized
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol, TextIO, TypeVar

from workbench.errors import Cancelled

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
        if total is None and isinstance(items, Sized):
            total = len(items)
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
    """Rich progress bars on stderr, for the CLI in a terminal."""

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
    def __init__(self, progress: Any, task_id: Any, description: str) -> None:
        self._progress, self._task_id, self._description = progress, task_id, description

    def advance(self, steps: int = 1) -> None:
        self._progress.advance(self._task_id, steps)

    def note(self, text: str) -> None:
        self._progress.update(self._task_id, description=f"{self._description} ({text})")


class StepState:
    """Where one step is: done out of total, since when, and a note."""

    def __init__(self, description: str, total: int | None) -> None:
        self.description, self.total = description, total
        self.done, self.note = 0, ""
        self.started = time.monotonic()

    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.started, 1e-9)

    def eta_seconds(self) -> float | None:
        if not self.total or not self.done:
            return None
        return max(self.total - self.done, 0) / max(self.rate(), 1e-9)

    def line(self) -> str:
        """`Step 5/15 (33%) 2.1/s ETA 0:00:05 (note)`."""
        elapsed = time.monotonic() - self.started
        count = f"{self.done:,}/{self.total:,} ({self.done / self.total:.0%})" if self.total else f"{self.done:,}"
        eta = self.eta_seconds()
        text = f"{self.description} {count} {self.rate():,.1f}/s elapsed {_clock(elapsed)}"
        text += f" ETA {_clock(eta)}" if eta is not None else ""
        return text + (f" ({self.note})" if self.note else "")


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class LogProgress(ProgressReporter):
    """Plain progress lines, one per step start and end and one every `interval` seconds in between."""

    def __init__(self, label: str, interval: float = 10.0, stream: TextIO | None = None) -> None:
        self.label, self.interval, self.stream = label, interval, stream or sys.stderr

    def _print(self, text: str) -> None:
        print(f"{datetime.now():%Y-%m-%d %H:%M:%S} {self.label} | {text}", file=self.stream, flush=True)

    @contextmanager
    def bar(self, description: str, total: int | None = None) -> Iterator[ProgressBar]:
        state = StepState(description, total)
        self._print(f"{description} started" + (f" ({total:,} to do)" if total else ""))
        bar = _LogBar(self, state)
        yield bar
        self._print(f"{state.line()} done")


class _LogBar:
    def __init__(self, reporter: LogProgress, state: StepState) -> None:
        self.reporter, self.state = reporter, state
        self.last = time.monotonic()

    def advance(self, steps: int = 1) -> None:
        self.state.done += steps
        if time.monotonic() - self.last >= self.reporter.interval:
            self.last = time.monotonic()
            self.reporter._print(self.state.line())

    def note(self, text: str) -> None:
        self.state.note = text


class TrackedProgress(ProgressReporter):
    """Forwards to `inner`, keeps the current step for the run record, and raises `Cancelled` once asked to."""

    def __init__(self, inner: ProgressReporter | None = None) -> None:
        self.inner = inner or ProgressReporter()
        self.current: StepState | None = None
        self.steps_done: list[str] = []
        self.cancel_requested = threading.Event()
        self.started = time.monotonic()

    def check(self) -> None:
        """Raise `Cancelled` when the run was asked to stop."""
        if self.cancel_requested.is_set():
            raise Cancelled("the run was cancelled on request")

    @contextmanager
    def bar(self, description: str, total: int | None = None) -> Iterator[ProgressBar]:
        self.check()
        state = StepState(description, total)
        self.current = state
        with self.inner.bar(description, total) as inner:
            yield _TrackedBar(self, state, inner)
        self.steps_done.append(description)
        self.current = None

    def snapshot(self) -> dict[str, Any]:
        """What the run record shows: the step, its counts, rate and estimate, and the elapsed time."""
        state = self.current
        shown: dict[str, Any] = {"elapsed": round(time.monotonic() - self.started, 1), "steps_done": self.steps_done}
        if state is not None:
            eta = state.eta_seconds()
            shown.update(step=state.description, done=state.done, total=state.total, note=state.note,
                         rate=round(state.rate(), 3), eta=None if eta is None else round(eta, 1))
        return shown


class _TrackedBar:
    def __init__(self, owner: TrackedProgress, state: StepState, inner: ProgressBar) -> None:
        self.owner, self.state, self.inner = owner, state, inner

    def advance(self, steps: int = 1) -> None:
        self.owner.check()
        self.state.done += steps
        self.inner.advance(steps)

    def note(self, text: str) -> None:
        self.state.note = text
        self.inner.note(text)

