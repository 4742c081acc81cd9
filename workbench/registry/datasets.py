"""Datasets: versions of a name, deduplicated by a hash of their content, stored as Parquet (or, when large,
registered by reference: their URI and a fingerprint of their parts)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.errors import NotFound
from workbench.io.sources import DataSource
from workbench.registry.aliases import check_alias, drop_alias, point_alias
from workbench.registry.hashing import frame_sha256
from workbench.registry.records import DatasetRecord
from workbench.registry.schema import Database, DatasetAliasRow, DatasetRow, now
from workbench.registry.store import ArtifactStore, Moves
from workbench.workspace import validate_name


@dataclass
class StagedDataset:
    """A frame written to staging and hashed (or a large input fingerprinted), ready for a transaction."""

    name: str
    sha256: str
    schema: dict[str, str]
    n_rows: int
    source: str
    staged: Path | None  # None when a version with this content already exists, or for a reference
    uri: str | None = None  # a dataset registered by reference: where its parts are
    run_id: int | None = None  # the run whose output table this is (`--save TABLE=NAME`)


def dataset_name(location: str | Path) -> str:
    """A dataset name from a file name, a folder, a glob or a URI (its last plain segment)."""
    segments = [part for part in re.split(r"[/\\]", str(location).removeprefix("s3://")) if part
                and not any(char in part for char in "*?[")]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(segments[-1] if segments else "data").stem).strip(".-") or "data"


def split_ref(ref: str, kind: str) -> tuple[str, str | None]:
    """`name`, `name@version` or `name@alias` as (name, version-or-alias or None)."""
    name, _, spec = ref.partition("@")
    validate_name(name, f"{kind} name")
    if spec.isdigit() and not 0 < int(spec) < 2**31:
        raise NotFound(f"{kind} {name!r} has no version {spec}; versions start at 1")
    return name, spec or None


class Datasets:
    """The datasets part of the registry."""

    def __init__(self, db: Database, store: ArtifactStore) -> None:
        self.db, self.store, self.workspace = db, store, store.workspace

    def stage(self, name: str, frame: pl.DataFrame, source: str = "", run_id: int | None = None) -> StagedDataset:
        """Hash `frame`; write it to staging unless `name` already has a version with this content."""
        validate_name(name, "dataset name")
        sha = frame_sha256(frame)
        schema = {column: str(dtype) for column, dtype in frame.schema.items()}
        staged = None
        if self.find(name, sha) is None:
            staged = self.store.stage_path(".parquet")
            frame.write_parquet(staged)
        return StagedDataset(name, sha, schema, frame.height, source, staged, run_id=run_id)

    def stage_reference(self, name: str, source: DataSource) -> StagedDataset:
        """A large input registered where it is: its URI and a fingerprint of its parts, nothing copied."""
        validate_name(name, "dataset name")
        schema = {column: str(dtype) for column, dtype in source.head(1).schema.items()}
        rows = source.rows()
        return StagedDataset(name, source.fingerprint(), schema, -1 if rows is None else rows, source.uri, None,
                             uri=source.uri)

    def insert(self, session: Session, moves: Moves, staged: StagedDataset) -> DatasetRow:
        """Inside a transaction: the existing version with this content, or the next version."""
        existing = session.scalars(select(DatasetRow).filter_by(name=staged.name, sha256=staged.sha256)).first()
        if existing is not None:
            return existing
        if staged.staged is None and staged.uri is None:  # registered when we looked, gone since
            raise NotFound(f"dataset {staged.name!r} changed while registering; run again")
        latest = session.scalar(select(func.max(DatasetRow.version)).filter_by(name=staged.name)) or 0
        reference = staged.uri is not None
        row = DatasetRow(name=staged.name, version=latest + 1, sha256=staged.sha256, schema=staged.schema,
                         n_rows=staged.n_rows, source=staged.source,
                         path=staged.uri if reference else self.workspace.dataset_file(staged.name, latest + 1),
                         created_at=now(), storage="reference" if reference else "copy", uri=staged.uri,
                         run_id=staged.run_id)
        session.add(row)
        session.flush()
        if staged.staged is not None:
            moves.move(staged.staged, row.path)
        return row

    def add(self, name: str, frame: pl.DataFrame, source: str = "") -> DatasetRecord:
        """Store `frame` as a new version of `name`, or return the version with identical content."""
        return self.register(self.stage(name, frame, source))

    def register(self, staged: StagedDataset) -> DatasetRecord:
        """Register a staged dataset on its own (outside a run): the next version, or the one with its content."""
        try:
            row = self.db.transaction(lambda session, moves: self.insert(session, moves, staged))
        finally:
            if staged.staged is not None:
                staged.staged.unlink(missing_ok=True)
        return self.record(row)

    def has(self, name: str) -> bool:
        """Whether any version of `name` is registered."""
        with self.db.read() as session:
            return session.scalars(select(DatasetRow.id).filter_by(name=name).limit(1)).first() is not None

    def find(self, name: str, sha256: str) -> DatasetRecord | None:
        with self.db.read() as session:
            row = session.scalars(select(DatasetRow).filter_by(name=name, sha256=sha256)).first()
            return self.record(row) if row else None

    def record(self, row: DatasetRow, aliases: tuple[str, ...] = ()) -> DatasetRecord:
        path = Path(row.uri) if row.storage == "reference" and row.uri else self.workspace.resolve(row.path)
        return DatasetRecord(row.name, row.version, row.sha256, row.schema, row.n_rows, row.source, path,
                             row.created_at, row.storage, row.uri, aliases, row.run_id)

    def list(self, name: str | None = None, limit: int | None = None, offset: int = 0) -> list[DatasetRecord]:
        """Versions ordered by name and version; filtered by `name`, a page of `limit` from `offset`."""
        query = select(DatasetRow).order_by(DatasetRow.name, DatasetRow.version).offset(offset).limit(limit)
        if name:
            query = query.filter_by(name=name)
        with self.db.read() as session:
            return [self.record(row) for row in session.scalars(query)]

    def get(self, ref: str) -> DatasetRecord:
        """`name`, `name@version`, `name@latest` or `name@alias`."""
        name, spec = split_ref(ref, "dataset")
        with self.db.read() as session:
            latest = session.scalar(select(func.max(DatasetRow.version)).filter_by(name=name))
            version: int | None = latest
            if spec not in (None, "latest"):
                version = int(spec) if spec.isdigit() else session.scalar(
                    select(DatasetAliasRow.version).filter_by(name=name, alias=spec))
            row = None if version is None else session.scalars(
                select(DatasetRow).filter_by(name=name, version=version)).first()
            if row is not None:
                own = sorted(session.scalars(select(DatasetAliasRow.alias).filter_by(name=name, version=version)))
                return self.record(row, tuple((["latest"] if version == latest else []) + own))
            if latest is not None:
                versions = ", ".join(str(v) for v in session.scalars(
                    select(DatasetRow.version).filter_by(name=name).order_by(DatasetRow.version)))
                aliases_known = ", ".join(session.scalars(select(DatasetAliasRow.alias).filter_by(name=name)))
                raise NotFound(f"dataset {name!r} has no version or alias {spec!r}; versions: {versions}"
                               + (f"; aliases: {aliases_known}" if aliases_known else ""))
            names = sorted(set(session.scalars(select(DatasetRow.name))))
        raise NotFound(f"unknown dataset {name!r}; registered datasets: {', '.join(names) or 'none yet'}")

    def set_alias(self, ref: str, alias: str, user: str | None = None) -> DatasetRecord:
        """Point `NAME@alias` at the version `ref` resolves to."""
        check_alias(alias)
        record = self.get(ref)
        point_alias(self.db, DatasetAliasRow, "dataset", record.name, alias, record.version, user)
        return self.get(record.ref)

    def delete_alias(self, name: str, alias: str, user: str | None = None) -> None:
        drop_alias(self.db, DatasetAliasRow, "dataset", name, alias, user)

    def load(self, ref: str) -> pl.DataFrame:
        """The whole dataset in memory (a reference is read from where it is, and refused if it changed)."""
        record = self.get(ref)
        if record.storage != "reference" or record.uri is None:
            return pl.read_parquet(record.path)
        source = self.source(record)
        return source.read()

    def source(self, record: DatasetRecord) -> DataSource:
        """A reference dataset's parts, checked against the fingerprint it was registered with."""
        from workbench.errors import ArtifactTampered
        from workbench.io.sources import open_source

        assert record.uri is not None
        source = open_source(record.uri)
        if source.fingerprint() != record.sha256:
            raise ArtifactTampered(f"dataset {record.ref} was registered by reference to {record.uri}, whose parts "
                                   "have changed since (names, sizes or times); register it again")
        return source
