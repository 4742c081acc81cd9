"""The registry's tables, its database connections, and schema migrations (Alembic)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import JSON, Boolean, Engine, Float, Integer, String, Text, UniqueConstraint, create_engine, event, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from workbench.errors import Conflict, WorkbenchError
from workbench.registry.store import Moves
from workbench.workspace import Workspace

# The newest migration in registry/migrations/versions; a registry at this revision needs no upgrade.
SCHEMA_REVISION = "0004"
MIGRATIONS_FOLDER = Path(__file__).parent / "migrations"
# Any constant works: PostgreSQL's transaction-level lock that serialises concurrent first-time migrations.
MIGRATION_LOCK = 0x776B62

Result = TypeVar("Result")


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


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
    storage: Mapped[str] = mapped_column(String(16), default="copy")  # or "reference": read from `uri`
    uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the run whose output table it is


class DatasetAliasRow(Base):
    __tablename__ = "dataset_aliases"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    alias: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


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
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


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
    status: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column()
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)
    progress: Mapped[dict] = mapped_column(JSON, default=dict)
    request: Mapped[dict] = mapped_column(JSON, default=dict)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    user: Mapped[str | None] = mapped_column(String(128), nullable=True)
    group_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    step: Mapped[str | None] = mapped_column(String(128), nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    tags: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class RunGroupRow(Base):
    """Runs started together: the steps of a pipeline, or the combinations of a sweep."""

    __tablename__ = "run_groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "pipeline" or "sweep"
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    user: Mapped[str | None] = mapped_column(String(128), nullable=True)
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    spec: Mapped[dict] = mapped_column(JSON)


class AuditRow(Base):
    """Who cancelled a run or moved an alias, and when."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column()
    user: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict | None] = mapped_column(JSON, nullable=True)


def _sqlite_engine(url: str, begin: str) -> Engine:
    """An SQLite engine in WAL mode whose transactions start with `begin` (DEFERRED or IMMEDIATE)."""
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the begin hook below start transactions
        dbapi_connection.execute("PRAGMA busy_timeout = 60000")
        dbapi_connection.execute("PRAGMA journal_mode = WAL")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql(f"BEGIN {begin}")

    return engine


class Database:
    """Sessions for reading and writing, all-or-nothing transactions, and migrations to the newest schema."""

    def __init__(self, url: str, workspace: Workspace) -> None:
        self.url, self.workspace = url, workspace
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            # Writers take the lock up front, so "next version = max + 1" cannot race; readers never wait (WAL).
            writer, reader = _sqlite_engine(url, "IMMEDIATE"), _sqlite_engine(url, "DEFERRED")
        else:
            writer = reader = create_engine(url, pool_pre_ping=True)
        self.writer, self.reader_engine = writer, reader
        self.write = sessionmaker(writer, expire_on_commit=False)
        self.read = sessionmaker(reader, expire_on_commit=False)

    def transaction(self, work: Callable[[Session, Moves], Result], attempts: int = 50) -> Result:
        """Run `work` in one write transaction, all or nothing: file moves it made are undone if it fails.

        Retried when another writer took the same unique key (databases without an up-front write lock).
        """
        for _attempt in range(attempts):
            moves = Moves(self.workspace)
            try:
                with self.write.begin() as session:
                    result = work(session, moves)
                return result
            except IntegrityError:
                moves.undo()
                time.sleep(0.01)
            except BaseException:
                moves.undo()
                raise
        raise Conflict("could not write to the registry: too many concurrent writers; try again")

    def revision(self) -> str | None:
        """The schema revision the database is at (None for an empty database)."""
        try:
            with self.reader_engine.connect() as connection:
                return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:  # no alembic_version table yet
            return None

    def migrate(self) -> None:
        """Bring the schema to SCHEMA_REVISION (creating it in a new database); Alembic is imported only then."""
        found = self.revision()
        if found == SCHEMA_REVISION:
            return
        from alembic import command
        from alembic.config import Config
        from alembic.util.exc import CommandError
        from sqlalchemy import inspect

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_FOLDER))
        with self.writer.begin() as connection:
            if not self.sqlite:
                connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            config.attributes["connection"] = connection
            tables = set(inspect(connection).get_table_names())
            if "alembic_version" not in tables and "workbench_meta" in tables:
                command.stamp(config, "0001")  # a registry made before migrations moved to Alembic
            try:
                command.upgrade(config, "head")
            except CommandError as error:
                raise WorkbenchError(f"registry schema {found!r} is newer than this workbench knows "
                                     f"({SCHEMA_REVISION}); upgrade workbench") from error
