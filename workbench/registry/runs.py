"""Runs: every task run with its parameters, inputs, outputs, status, process and live progress.

A running run records its process id and host and beats every few seconds; a run whose process is gone
(or that stopped beating long ago) is marked `interrupted` the next time a registry opens.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.errors import Conflict, NotFound
from workbench.registry.records import FINAL_STATUSES, RunRecord, RunStatus
from workbench.registry.schema import Database, RunRow, now
from workbench.registry.store import Moves, remove
from workbench.workspace import Workspace

HEARTBEAT_SECONDS = 5.0
# A run that has not beaten for this long is taken as dead even when a process with its id exists.
STALE_AFTER = timedelta(minutes=10)
HOST = socket.gethostname()


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time the registry writes is UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def process_alive(pid: int | None, host: str | None) -> bool:
    """Whether the run's process still exists; on another machine only its heartbeats can tell, so yes."""
    if pid is None:
        return False
    if host != HOST:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Runs:
    """The runs part of the registry."""

    def __init__(self, db: Database, workspace: Workspace) -> None:
        self.db, self.workspace = db, workspace

    def start(self, task: str, params: dict[str, Any], inputs: list[str], seed: int = 0,
              request: dict[str, Any] | None = None) -> int:
        """Record a run this process is starting now."""
        row = RunRow(task=task, params=params, inputs=inputs, outputs={}, status=RunStatus.running,
                     started_at=now(), seed=seed, pid=os.getpid(), host=HOST, heartbeat_at=now(), progress={},
                     request=request or {}, cancel_requested=False)
        return self._insert(row)

    def enqueue(self, task: str, params: dict[str, Any], inputs: list[str], seed: int,
                request: dict[str, Any]) -> int:
        """Record a run for a worker to start later."""
        row = RunRow(task=task, params=params, inputs=inputs, outputs={}, status=RunStatus.queued, started_at=now(),
                     seed=seed, progress={}, request=request, cancel_requested=False)
        return self._insert(row)

    def _insert(self, row: RunRow) -> int:
        def add(session: Session, _moves: Moves) -> int:
            session.add(row)
            session.flush()
            return row.id

        return self.db.transaction(add)

    def claim(self, run_id: int) -> bool:
        """Turn a queued run into this process's running one; False if it was cancelled or taken."""
        def take(session: Session, _moves: Moves) -> bool:
            row = session.get(RunRow, run_id)
            if row is None or row.status != RunStatus.queued or row.cancel_requested:
                return False
            row.status, row.pid, row.host = RunStatus.running, os.getpid(), HOST
            row.started_at = row.heartbeat_at = now()
            return True

        return self.db.transaction(take)

    def heartbeat(self, run_id: int, progress: dict[str, Any] | None = None) -> bool:
        """Say the run is alive (with its progress); returns whether a cancel was requested."""
        def beat(session: Session, _moves: Moves) -> bool:
            row = session.get(RunRow, run_id)
            if row is None:
                return False
            row.heartbeat_at = now()
            if progress is not None:
                row.progress = progress
            return row.cancel_requested

        return self.db.transaction(beat)

    def finish_in(self, session: Session, run_id: int, status: RunStatus, duration_s: float | None,
                  outputs: dict[str, Any] | None = None, error: str | None = None,
                  inputs: list[str] | None = None) -> None:
        """Inside a transaction: the run's final status (with the registrations made in the same one)."""
        row = session.get(RunRow, run_id)
        if row is None:
            raise NotFound(f"unknown run {run_id}")
        row.status, row.duration_s, row.error, row.heartbeat_at = status, duration_s, error, now()
        row.outputs = outputs or {}
        if inputs is not None:
            row.inputs = inputs

    def finish(self, run_id: int, status: RunStatus, duration_s: float | None, outputs: dict[str, Any] | None = None,
               error: str | None = None, inputs: list[str] | None = None) -> None:
        self.db.transaction(lambda session, _moves: self.finish_in(session, run_id, status, duration_s, outputs,
                                                                    error, inputs))

    def request_cancel(self, run_id: int) -> RunRecord:
        """Cancel a queued run now; ask a running one to stop (its heartbeat sees the request)."""
        def cancel(session: Session, _moves: Moves) -> RunRecord:
            row = session.get(RunRow, run_id)
            if row is None:
                raise NotFound(f"unknown run {run_id}; see `workbench runs list`")
            if row.status in FINAL_STATUSES:
                raise Conflict(f"run #{run_id} already ended ({row.status}); nothing to cancel")
            row.cancel_requested = True
            if row.status == RunStatus.queued:
                row.status, row.error, row.duration_s = RunStatus.cancelled, "cancelled before it started", 0.0
            session.flush()
            return _record(row)

        return self.db.transaction(cancel)

    def reap(self) -> list[int]:
        """Mark running runs whose process is gone as interrupted; remove scratch folders of ended runs."""
        with self.db.read() as session:
            running = list(session.scalars(select(RunRow).filter_by(status=RunStatus.running)))
        cutoff = now() - STALE_AFTER
        dead = [row.id for row in running
                if not process_alive(row.pid, row.host) or (_utc(row.heartbeat_at) or cutoff) <= cutoff]
        if dead:
            def mark(session: Session, _moves: Moves) -> None:
                for row in session.scalars(select(RunRow).where(RunRow.id.in_(dead),
                                                                RunRow.status == RunStatus.running)):
                    row.status = RunStatus.interrupted
                    row.error = f"its process (pid {row.pid} on {row.host}) ended before the run finished"

            self.db.transaction(mark)
        self._remove_ended_scratch()
        return dead

    def _remove_ended_scratch(self) -> None:
        """Scratch folders whose run has ended (a run that started after we looked keeps its own)."""
        folders = {int(folder.name.removeprefix("run-")): folder for folder in self.workspace.scratch_dir.glob("run-*")
                   if folder.name.removeprefix("run-").isdigit()}
        if not folders:
            return
        with self.db.read() as session:
            ended = set(session.scalars(select(RunRow.id).where(RunRow.id.in_(folders),
                                                                RunRow.status.in_(FINAL_STATUSES))))
        for run_id in ended:
            remove(folders[run_id])


    def list(self, task: str | None = None, status: str | None = None, limit: int | None = 50,
             offset: int = 0) -> list[RunRecord]:
        """Newest first; filtered by task and status; a page of `limit` from `offset`."""
        query = select(RunRow).order_by(RunRow.id.desc()).offset(offset).limit(limit)
        if task:
            query = query.filter_by(task=task)
        if status:
            query = query.filter_by(status=status)
        with self.db.read() as session:
            return [_record(row) for row in session.scalars(query)]

    def get(self, run_id: int) -> RunRecord:
        with self.db.read() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise NotFound(f"unknown run {run_id}; see `workbench runs list`")
            return _record(row)

def _record(row: RunRow) -> RunRecord:
    return RunRecord(row.id, row.task, row.params, row.inputs, row.outputs, row.status, _utc(row.started_at),
                     row.duration_s, row.error, row.seed, row.pid, row.host, _utc(row.heartbeat_at),
                     row.progress or {}, row.request or {}, bool(row.cancel_requested))
