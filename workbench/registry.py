"""The dataset/model registry: rows in SQL (SQLite by default), files in the workspace folder."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from sqlalchemy import JSON, Float, Integer, String, Text, UniqueConstraint, create_engine, event
from sqlalchemy import func as sql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from workbench.errors import ArtifactTampered, WorkbenchError
from workbench.hashing import frame_sha256, tree_sha256

SCHEMA_VERSION = 1
# Version N -> function that upgrades a registry from version N-1; none yet.
MIGRATIONS: dict[int, Callable[[Session], None]] = {}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
STALE_STAGING_SECONDS = 24 * 3600


def validate_name(name: str, kind: str = "name") -> str:
    """Refuse names that could escape the workspace or break references."""
    if not NAME_PATTERN.match(name) or ".." in name:
        raise WorkbenchError(
            f"invalid {kind} {name!r}: use letters, digits, '.', '_' and '-' "
            "(no path separators, no '..', at most 128 characters)"
        )
    return name


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class MetaRow(Base):
    __tablename__ = "workbench_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "version"), UniqueConstraint("name", "sha256"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    schema: Mapped[dict] = mapped_column(JSON)
    n_rows: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()


class ModelRow(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(128))
    params: Mapped[dict] = mapped_column(JSON)
    metrics: Mapped[dict] = mapped_column(JSON)
    inputs: Mapped[list] = mapped_column(JSON)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()


class AliasRow(Base):
    __tablename__ = "model_aliases"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    alias: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(128), index=True)
    params: Mapped[dict] = mapped_column(JSON)
    inputs: Mapped[list] = mapped_column(JSON)
    outputs: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column()
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


@dataclass(frozen=True)
class DatasetRecord:
    name: str
    version: int
    sha256: str
    schema: dict[str, str]
    n_rows: int
    source: str
    path: Path
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class ModelRecord:
    name: str
    version: int
    task: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    inputs: list[str]
    path: Path
    sha256: str
    created_at: datetime
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class RunRecord:
    id: int
    task: str
    params: dict[str, Any]
    inputs: list[str]
    outputs: dict[str, Any]
    status: str
    started_at: datetime
    duration_s: float | None
    error: str | None


Row = TypeVar("Row", DatasetRow, ModelRow)


def default_home() -> Path:
    return Path(os.environ.get("WORKBENCH_HOME", ".workbench")).resolve()


def _sqlite_engine(url: str, begin: str):
    """An SQLite engine in WAL mode whose transactions start with `begin` (DEFERRED or IMMEDIATE)."""
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let the begin hook below start transactions
        dbapi_connection.execute("PRAGMA busy_timeout = 60000")
        dbapi_connection.execute("PRAGMA journal_mode = WAL")

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql(f"BEGIN {begin}")

    return engine


class Registry:
    """Datasets, models, aliases and runs, shared by every task and surface."""

    def __init__(self, url: str | None = None, home: Path | None = None) -> None:
        self.home = Path(home) if home else default_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.url = url or os.environ.get("WORKBENCH_REGISTRY_URL") or (
            f"sqlite:///{self.home / 'registry.db'}"
        )
        if self.url.startswith("sqlite"):
            # Writers take the lock up front, so "next version = max + 1" cannot race;
            # readers never wait for writers (WAL).
            writer, reader = _sqlite_engine(self.url, "IMMEDIATE"), _sqlite_engine(self.url, "DEFERRED")
        else:
            writer = reader = create_engine(self.url, pool_pre_ping=True)
        self._write = sessionmaker(writer, expire_on_commit=False)
        self._read = sessionmaker(reader, expire_on_commit=False)
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        self._create_or_migrate()
        self._remove_stale_staging()

    @property
    def staging_dir(self) -> Path:
        return self.home / "staging"

    @property
    def scratch_dir(self) -> Path:
        return self.home / "scratch"

    # -- schema ---------------------------------------------------------------------------------

    def _create_or_migrate(self) -> None:
        with self._write.begin() as session:
            Base.metadata.create_all(session.connection())
            row = session.get(MetaRow, "schema_version")
            if row is None:
                session.add(MetaRow(key="schema_version", value=str(SCHEMA_VERSION)))
                return
            found = int(row.value)
            if found > SCHEMA_VERSION:
                raise WorkbenchError(
                    f"registry schema v{found} is newer than this workbench (v{SCHEMA_VERSION}); "
                    "upgrade workbench"
                )
            for version in range(found + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](session)
            row.value = str(SCHEMA_VERSION)

    def _remove_stale_staging(self) -> None:
        """Delete what registrations killed mid-write left in staging (never visible as artifacts)."""
        cutoff = time.time() - STALE_STAGING_SECONDS
        for entry in self.staging_dir.iterdir():
            try:
                stale = entry.stat().st_mtime < cutoff
            except FileNotFoundError:  # another process finished with it just now
                continue
            if stale:
                _remove(entry)

    # -- versioned insert shared by datasets and models ------------------------------------------

    def _insert_versioned(
        self,
        row_type: type[Row],
        name: str,
        build_row: Callable[[int], Row],
        staged: Path,
        final_path: Callable[[int], Path],
        find_existing: Callable[[Session], Row | None] = lambda session: None,
    ) -> Row:
        """Claim the next version, move `staged` into place and commit, all or nothing."""
        try:
            for _attempt in range(50):
                final = None
                try:
                    with self._write.begin() as session:
                        existing = find_existing(session)
                        if existing is not None:
                            return existing
                        latest = session.query(sql.max(row_type.version)).filter(
                            row_type.name == name
                        ).scalar()
                        row = build_row((latest or 0) + 1)
                        session.add(row)
                        session.flush()
                        final = final_path(row.version)
                        _remove(final)  # left by a process killed between its move and commit
                        final.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(staged, final)
                    return row
                except IntegrityError:
                    # Another writer took this version (databases without an up-front write lock).
                    if final is not None and final.exists() and not staged.exists():
                        os.replace(final, staged)
                    time.sleep(0.01)
                except BaseException:
                    if final is not None and final.exists() and not staged.exists():
                        _remove(final)
                    raise
            raise WorkbenchError(f"could not register {name!r}: too many concurrent writers; retry")
        finally:
            _remove(staged)

    def _stage(self, suffix: str = "") -> Path:
        return self.staging_dir / f"{uuid.uuid4().hex}{suffix}"

    # -- datasets -------------------------------------------------------------------------------

    def add_dataset(self, name: str, frame: pl.DataFrame, source: str = "") -> DatasetRecord:
        """Store `frame` as a new version of `name`, or return the version with identical content."""
        validate_name(name, "dataset name")
        sha = frame_sha256(frame)
        existing = self._dataset_by_sha(name, sha)
        if existing:
            return existing
        staged = self._stage(".parquet")
        frame.write_parquet(staged)
        schema = {column: str(dtype) for column, dtype in frame.schema.items()}

        def build(version: int) -> DatasetRow:
            return DatasetRow(
                name=name, version=version, sha256=sha, schema=schema, n_rows=frame.height,
                source=source, path=f"datasets/{name}/v{version}.parquet", created_at=now(),
            )

        row = self._insert_versioned(
            DatasetRow, name, build, staged,
            final_path=lambda v: self.home / f"datasets/{name}/v{v}.parquet",
            find_existing=lambda session: session.query(DatasetRow)
            .filter_by(name=name, sha256=sha).one_or_none(),
        )
        return self._dataset_record(row)

    def _dataset_by_sha(self, name: str, sha: str) -> DatasetRecord | None:
        with self._read() as session:
            row = session.query(DatasetRow).filter_by(name=name, sha256=sha).one_or_none()
            return self._dataset_record(row) if row else None

    def _dataset_record(self, row: DatasetRow) -> DatasetRecord:
        return DatasetRecord(
            row.name, row.version, row.sha256, row.schema, row.n_rows, row.source,
            self.home / row.path, row.created_at,
        )

    def datasets(self, name: str | None = None) -> list[DatasetRecord]:
        with self._read() as session:
            query = session.query(DatasetRow)
            if name:
                query = query.filter_by(name=name)
            rows = query.order_by(DatasetRow.name, DatasetRow.version).all()
            return [self._dataset_record(row) for row in rows]

    def dataset(self, ref: str) -> DatasetRecord:
        """`name`, `name@version` or `name@latest`."""
        name, spec = _split_ref(ref)
        versions = self.datasets(name)
        if not versions:
            known = sorted({record.name for record in self.datasets()})
            raise WorkbenchError(f"unknown dataset {name!r}; registered datasets: {_listing(known)}")
        if spec in (None, "latest"):
            return versions[-1]
        for record in versions:
            if str(record.version) == spec:
                return record
        raise WorkbenchError(
            f"dataset {name!r} has no version {spec}; versions: "
            f"{', '.join(str(record.version) for record in versions)}"
        )

    def load_dataset(self, ref: str) -> pl.DataFrame:
        return pl.read_parquet(self.dataset(ref).path)

    # -- models ---------------------------------------------------------------------------------

    def register_model(
        self,
        name: str,
        task: str,
        artifact: Path,
        params: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        inputs: list[str] | None = None,
    ) -> ModelRecord:
        """Copy the `artifact` folder into the workspace and record it as the next version."""
        validate_name(name, "model name")
        staged = self._stage()
        shutil.copytree(artifact, staged)
        sha = tree_sha256(staged)

        def build(version: int) -> ModelRow:
            return ModelRow(
                name=name, version=version, task=task, params=params or {}, metrics=metrics or {},
                inputs=inputs or [], path=f"models/{name}/v{version}", sha256=sha, created_at=now(),
            )

        row = self._insert_versioned(ModelRow, name, build, staged, lambda v: self.home / f"models/{name}/v{v}")
        return self._model_records([row])[0]

    def models(self, name: str | None = None) -> list[ModelRecord]:
        with self._read() as session:
            query = session.query(ModelRow)
            if name:
                query = query.filter_by(name=name)
            rows = query.order_by(ModelRow.name, ModelRow.version).all()
        return self._model_records(rows)

    def _model_records(self, rows: list[ModelRow]) -> list[ModelRecord]:
        with self._read() as session:
            aliases: dict[tuple[str, int], list[str]] = {}
            for alias in session.query(AliasRow).all():
                aliases.setdefault((alias.name, alias.version), []).append(alias.alias)
            latest = dict(
                session.query(ModelRow.name, sql.max(ModelRow.version)).group_by(ModelRow.name).all()
            )
        records = []
        for row in rows:
            names = sorted(aliases.get((row.name, row.version), []))
            if latest.get(row.name) == row.version:
                names.insert(0, "latest")
            records.append(ModelRecord(
                row.name, row.version, row.task, row.params, row.metrics, row.inputs,
                self.home / row.path, row.sha256, row.created_at, tuple(names),
            ))
        return records

    def model(self, ref: str) -> ModelRecord:
        """Resolve `name`, `name@version` or `name@alias` without touching the artifact."""
        name, spec = _split_ref(ref)
        versions = self.models(name)
        if not versions:
            known = sorted({record.name for record in self.models()})
            raise WorkbenchError(f"unknown model {name!r}; registered models: {_listing(known)}")
        spec = spec or "latest"
        for record in versions:
            if str(record.version) == spec or spec in record.aliases:
                return record
        raise WorkbenchError(
            f"model {name!r} has no version or alias {spec!r}; versions: "
            + ", ".join(f"{r.version}" + (f" ({', '.join(r.aliases)})" if r.aliases else "") for r in versions)
        )

    def load_model(self, ref: str) -> ModelRecord:
        """Resolve a model and verify its artifact's sha256 before anything reads it."""
        record = self.model(ref)
        if not record.path.is_dir():
            raise ArtifactTampered(f"artifact of model {record.ref} is missing at {record.path}")
        found = tree_sha256(record.path)
        if found != record.sha256:
            raise ArtifactTampered(
                f"artifact of model {record.ref} fails its sha256 check (registered "
                f"{record.sha256[:12]}…, found {found[:12]}…): it changed after registration; "
                "register the model again"
            )
        return record

    def set_alias(self, ref: str, alias: str) -> ModelRecord:
        """Point `alias` of the model at the version `ref` resolves to."""
        validate_name(alias, "alias")
        if alias == "latest" or alias.isdigit():
            raise WorkbenchError(f"alias {alias!r} is reserved; choose another name")
        record = self.model(ref)
        with self._write.begin() as session:
            row = session.get(AliasRow, (record.name, alias))
            if row is None:
                session.add(AliasRow(name=record.name, alias=alias, version=record.version))
            else:
                row.version = record.version
        return self.model(f"{record.name}@{record.version}")

    # -- runs -----------------------------------------------------------------------------------

    def start_run(self, task: str, params: dict[str, Any], inputs: list[str]) -> int:
        with self._write.begin() as session:
            row = RunRow(task=task, params=params, inputs=inputs, outputs={}, status="running",
                         started_at=now())
            session.add(row)
            session.flush()
            return row.id

    def finish_run(
        self, run_id: int, status: str, duration_s: float,
        outputs: dict[str, Any] | None = None, error: str | None = None, inputs: list[str] | None = None,
    ) -> None:
        with self._write.begin() as session:
            row = session.get(RunRow, run_id)
            row.status, row.duration_s, row.error = status, duration_s, error
            row.outputs = outputs or {}
            if inputs is not None:
                row.inputs = inputs

    def runs(self, task: str | None = None, limit: int = 50) -> list[RunRecord]:
        with self._read() as session:
            query = session.query(RunRow)
            if task:
                query = query.filter_by(task=task)
            rows = query.order_by(RunRow.id.desc()).limit(limit).all()
            return [_run_record(row) for row in rows]

    def run(self, run_id: int) -> RunRecord:
        with self._read() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise WorkbenchError(f"unknown run {run_id}; see `workbench runs list`")
            return _run_record(row)


def _run_record(row: RunRow) -> RunRecord:
    return RunRecord(row.id, row.task, row.params, row.inputs, row.outputs, row.status,
                     row.started_at, row.duration_s, row.error)


def _split_ref(ref: str) -> tuple[str, str | None]:
    name, _, spec = ref.partition("@")
    validate_name(name)
    return name, spec or None


def _listing(names: list[str]) -> str:
    return ", ".join(names) if names else "none yet"


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
