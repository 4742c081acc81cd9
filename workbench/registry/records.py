"""What the registry hands out: frozen records of datasets, models and runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any


class RunStatus(StrEnum):
    """Where a run is in its life; the last four are final."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"  # its process ended without finishing (killed, crashed, machine lost)


FINAL_STATUSES = frozenset({RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled, RunStatus.interrupted})


@dataclass(frozen=True)
class Versioned:
    """A named, numbered version: `name@version`."""

    name: str
    version: int

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class DatasetRecord(Versioned):
    sha256: str
    schema: dict[str, str]
    n_rows: int
    source: str
    path: Path
    created_at: datetime
    storage: str = "copy"  # "reference": the data stays at `uri`, fingerprinted by `sha256`
    uri: str | None = None
    aliases: tuple[str, ...] = ()
    run_id: int | None = None  # the run whose output table this version is


@dataclass(frozen=True)
class ModelRecord(Versioned):
    task: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    inputs: list[str]
    path: Path
    sha256: str
    created_at: datetime
    aliases: tuple[str, ...] = ()
    run_id: int | None = None


@dataclass(frozen=True)
class RunRecord:
    id: int
    task: str
    params: dict[str, Any]
    inputs: list[str]
    outputs: dict[str, Any]
    status: str
    started_at: datetime | None
    duration_s: float | None
    error: str | None
    seed: int = 0
    pid: int | None = None
    host: str | None = None
    heartbeat_at: datetime | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)
    cancel_requested: bool = False
    user: str | None = None
    group_id: int | None = None
    step: str | None = None
    fingerprint: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    note: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class RunGroupRecord:
    """Runs started together: a pipeline's steps or a sweep's combinations."""

    id: int
    kind: str
    name: str
    status: str
    user: str | None
    started_at: datetime | None
    finished_at: datetime | None
    spec: dict[str, Any]
