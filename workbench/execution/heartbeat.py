"""A run's life signs: its scratch folder, and a heartbeat that records its progress and notices a cancel."""

from __future__ import annotations

import _thread
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.registry import Registry
from workbench.registry.runs import HEARTBEAT_SECONDS
from workbench.registry.store import remove
from workbench.sdk.progress import TrackedProgress
from workbench.settings import number_setting


@contextmanager
def run_scope(registry: Registry, run_id: int, progress: TrackedProgress) -> Iterator[Path]:
    """The run's scratch folder and its heartbeat for as long as it runs; both end with it."""
    scratch = registry.workspace.run_scratch(run_id)
    scratch.mkdir(parents=True, exist_ok=True)
    heartbeat = Heartbeat(registry, run_id, progress)
    heartbeat.start()
    try:
        yield scratch
    finally:
        heartbeat.stop()
        remove(scratch)


class Heartbeat(threading.Thread):
    """Records the run's progress every few seconds and notices a cancel request."""

    def __init__(self, registry: Registry, run_id: int, progress: TrackedProgress) -> None:
        super().__init__(name=f"heartbeat-run-{run_id}", daemon=True)
        self.registry, self.run_id, self.progress = registry, run_id, progress
        self.interval = number_setting("WORKBENCH_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS)
        self.stopped = threading.Event()
        self.main_thread = threading.current_thread() is threading.main_thread()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                cancel = self.registry.runs.heartbeat(self.run_id, self.progress.snapshot())
            except Exception:  # noqa: BLE001 - a busy database must not kill the run; the next beat retries
                cancel = False
            cancel = cancel or not self.registry.workspace.home.exists()  # its workspace was deleted: stop
            if cancel and not self.progress.cancel_requested.is_set():
                self.progress.cancel_requested.set()
                if self.main_thread:  # a step that reports no progress still stops at its next Python line
                    _thread.interrupt_main()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=self.interval + 5)
