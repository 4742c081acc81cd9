"""Runs: every task run with its parameters, inputs, outputs, status, process, user and live progress.

A running run records its process id and host and beats every few seconds. On its own host a run is dead only
when its process is gone; from another host only a long silence tells (`WORKBENCH_STALE_MINUTES`), and then
its scratch folder is kept, since the process may be suspended rather than dead. A run marked interrupted
whose process beats again is running again. Runs started together (a pipeline, a sweep) share a group.
"""

from __future__ import annotations

import builtins
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from workbench.errors import Conflict, NotFound
from workbench.identity import check_owner
from workbench.registry.audit import record as audit_record
from workbench.registry.records import FINAL_STATUSES, RunGroupRecord, RunRecord, RunStatus
from workbench.registry.schema import Database, RunGroupRow, RunRow, now
from workbench.registry.store import Moves, remove
from workbench.settings import number_setting
from workbench.workspace import Workspace

HEARTBEAT_SECONDS = 5.0
STALE_MINUTES = 30.0  # silence after which a run on another host is shown interrupted
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
              request: dict[str, Any] | None = None, *, queued: bool = False, user: str | None = None,
              group_id: int | None = None, step: str | None = None, fingerprint: str | None = None) -> int:
        """Record a run this process is starting now (or, `queued`, one a worker will start)."""
        live = {} if queued else {"pid": os.getpid(), "host": HOST, "heartbeat_at": now()}
        row = RunRow(task=task, params=params, inputs=inputs, outputs={}, started_at=now(), seed=seed, progress={},
                     status=RunStatus.queued if queued else RunStatus.running, request=request or {},
                     cancel_requested=False, user=user, group_id=group_id, step=step, fingerprint=fingerprint,
                     tags={}, **live)
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
            row = session.get(RunRow, run_id, with_for_update=True)
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
            if row.status == RunStatus.interrupted:  # taken for dead while suspended: it is running again
                row.status, row.error = RunStatus.running, None
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

    def request_cancel(self, run_id: int, user: str | None = None) -> RunRecord:
        """Cancel a queued run now; ask a running one to stop (its heartbeat sees the request). With `user`, only
        the run's own user or an admin may."""
        def cancel(session: Session, _moves: Moves) -> RunRecord:
            row = session.get(RunRow, run_id)
            if row is None:
                raise NotFound(f"unknown run {run_id}; see `workbench runs list`")
            if row.status in FINAL_STATUSES:
                raise Conflict(f"run #{run_id} already ended ({row.status}); nothing to cancel")
            check_owner(user, {row.user} if row.user else set(), f"run #{run_id}")
            audit_record(session, user, "cancel", f"run #{run_id}", status=row.status)
            row.cancel_requested = True
            if row.status == RunStatus.queued:
                row.status, row.error, row.duration_s = RunStatus.cancelled, "cancelled before it started", 0.0
            session.flush()
            return _record(row)

        return self.db.transaction(cancel)

    def reap(self) -> list[int]:
        """Mark running runs that are dead as interrupted; remove the scratch folders of runs known to be over.

        On this host a run is dead when its process is gone (its heartbeat's age does not matter: a suspended
        process is alive). On another host, a silence longer than WORKBENCH_STALE_MINUTES marks it interrupted,
        but its scratch folder stays: it may come back.
        """
        with self.db.read() as session:
            running = list(session.scalars(select(RunRow).filter_by(status=RunStatus.running)))
        cutoff = now() - timedelta(minutes=number_setting("WORKBENCH_STALE_MINUTES", STALE_MINUTES))
        dead = [row.id for row in running if (not process_alive(row.pid, row.host) if row.host == HOST
                                              else (_utc(row.heartbeat_at) or cutoff) <= cutoff)]
        if dead:
            def mark(session: Session, _moves: Moves) -> None:
                for row in session.scalars(select(RunRow).where(RunRow.id.in_(dead),
                                                                RunRow.status == RunStatus.running)):
                    row.status = RunStatus.interrupted
                    row.error = (f"its process (pid {row.pid} on {row.host}) ended before the run finished"
                                 if row.host == HOST else f"no heartbeat from pid {row.pid} on {row.host} since "
                                 f"{_utc(row.heartbeat_at):%Y-%m-%d %H:%M} UTC; it may still come back")

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
            ended = set(session.scalars(select(RunRow.id).where(
                RunRow.id.in_(folders), RunRow.status.in_(FINAL_STATUSES),
                (RunRow.status != RunStatus.interrupted) | (RunRow.host == HOST))))
        for run_id in ended:
            remove(folders[run_id])


    def list(self, task: str | None = None, status: str | None = None, limit: int | None = 50,
             offset: int = 0, *, user: str | None = None, group_id: int | None = None,
             using: str | None = None) -> list[RunRecord]:
        """Newest first; filtered by task, status, user, group or an input (`NAME@version`); a page."""
        query = select(RunRow).order_by(RunRow.id.desc()).offset(offset).limit(limit)
        for column, value in ((RunRow.task, task), (RunRow.status, status), (RunRow.user, user),
                              (RunRow.group_id, group_id)):
            if value is not None and value != "":
                query = query.where(column == value)
        if using:
            query = query.where(cast(RunRow.inputs, String).like(f'%"{using}"%'))
        with self.db.read() as session:
            return [_record(row) for row in session.scalars(query)]

    def get(self, run_id: int) -> RunRecord:
        with self.db.read() as session:
            row = session.get(RunRow, run_id) if 0 < run_id < 2**63 else None
            if row is None:
                raise NotFound(f"unknown run {run_id}; see `workbench runs list`")
            return _record(row)

    def find_fingerprint(self, fingerprint: str) -> RunRecord | None:
        """The newest succeeded run with this fingerprint (a pipeline step whose inputs have not changed)."""
        query = (select(RunRow).filter_by(fingerprint=fingerprint, status=RunStatus.succeeded)
                 .order_by(RunRow.id.desc()).limit(1))
        with self.db.read() as session:
            row = session.scalars(query).first()
            return _record(row) if row else None

    def annotate(self, run_id: int, tags: dict[str, str] | None = None, note: str | None = None,
                 user: str | None = None) -> RunRecord:
        """Add tags (an empty value removes one) or replace the note of a run."""
        def work(session: Session, _moves: Moves) -> RunRecord:
            row = session.get(RunRow, run_id)
            if row is None:
                raise NotFound(f"unknown run {run_id}; see `workbench runs list`")
            if tags:
                merged = {**(row.tags or {}), **tags}
                row.tags = {key: value for key, value in merged.items() if value != ""}
            if note is not None:
                row.note = note or None
            audit_record(session, user, "annotate", f"run #{run_id}", tags=tags, note=note)
            session.flush()
            return _record(row)

        return self.db.transaction(work)

    def start_group(self, kind: str, name: str, spec: dict[str, Any], user: str | None = None) -> int:
        """Record a pipeline run or a sweep; its runs name it by `group_id`."""
        def add(session: Session, _moves: Moves) -> int:
            row = RunGroupRow(kind=kind, name=name, status=RunStatus.running, user=user, started_at=now(), spec=spec)
            session.add(row)
            session.flush()
            return row.id

        return self.db.transaction(add)

    def finish_group(self, group_id: int, status: str, spec: dict[str, Any] | None = None) -> None:
        """A group's final status (and, for a pipeline, what each step did)."""
        def work(session: Session, _moves: Moves) -> None:
            row = session.get(RunGroupRow, group_id)
            if row is not None:
                row.status, row.finished_at = status, now()
                if spec is not None:
                    row.spec = spec

        self.db.transaction(work)

    def group(self, group_id: int) -> RunGroupRecord:
        with self.db.read() as session:
            row = session.get(RunGroupRow, group_id) if 0 < group_id < 2**63 else None
            if row is None:
                raise NotFound(f"unknown group {group_id}; see `workbench pipeline list`")
            return _group(row)

    def groups(self, kind: str | None = None, limit: int = 50) -> builtins.list[RunGroupRecord]:
        query = select(RunGroupRow).order_by(RunGroupRow.id.desc()).limit(limit)
        if kind:
            query = query.filter_by(kind=kind)
        with self.db.read() as session:
            return [_group(row) for row in session.scalars(query)]


def _record(row: RunRow) -> RunRecord:
    return RunRecord(row.id, row.task, row.params, row.inputs, row.outputs, row.status, _utc(row.started_at),
                     row.duration_s, row.error, row.seed, row.pid, row.host, _utc(row.heartbeat_at),
                     row.progress or {}, row.request or {}, bool(row.cancel_requested), row.user, row.group_id,
                     row.step, row.fingerprint, row.tags or {}, row.note)


def _group(row: RunGroupRow) -> RunGroupRecord:
    return RunGroupRecord(row.id, row.kind, row.name, row.status, row.user, _utc(row.started_at),
                          _utc(row.finished_at), row.spec)
