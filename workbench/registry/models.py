"""Models: versions of a name with lineage (task, params, metrics, inputs, run), aliases, verified artifacts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from workbench.errors import NotFound
from workbench.identity import check_owner
from workbench.registry.aliases import check_alias, drop_alias, point_alias
from workbench.registry.datasets import split_ref
from workbench.registry.records import ModelRecord
from workbench.registry.schema import AliasRow, Database, ModelRow, RunRow, now
from workbench.registry.store import ArtifactStore, Moves, remove
from workbench.safety import tree_sha256, verified_copy, verify
from workbench.workspace import validate_name


@dataclass
class StagedModel:
    """A model folder copied to staging and hashed, ready to be inserted by a transaction."""

    name: str
    task: str
    staged: Path
    sha256: str
    params: dict[str, Any]
    metrics: dict[str, Any]


class Models:
    """The models part of the registry."""

    def __init__(self, db: Database, store: ArtifactStore) -> None:
        self.db, self.store, self.workspace = db, store, store.workspace

    def stage(self, name: str, task: str, folder: Path, params: dict[str, Any] | None = None,
              metrics: dict[str, Any] | None = None) -> StagedModel:
        """Copy `folder` into staging (refusing pickles) and hash it."""
        validate_name(name, "model name")
        staged = self.store.stage_folder(folder)
        return StagedModel(name, task, staged, tree_sha256(staged), params or {}, metrics or {})

    def insert(self, session: Session, moves: Moves, staged: StagedModel, inputs: list[str],
               run_id: int | None = None) -> ModelRow:
        """Inside a transaction: the next version of the name, its artifact moved into place."""
        latest = session.scalar(select(func.max(ModelRow.version)).filter_by(name=staged.name)) or 0
        row = ModelRow(name=staged.name, version=latest + 1, task=staged.task, params=staged.params,
                       metrics=staged.metrics, inputs=inputs, path=self.workspace.model_dir(staged.name, latest + 1),
                       sha256=staged.sha256, created_at=now(), run_id=run_id)
        session.add(row)
        session.flush()
        moves.move(staged.staged, row.path)
        return row

    def register(self, name: str, task: str, artifact: Path, params: dict[str, Any] | None = None,
                 metrics: dict[str, Any] | None = None, inputs: list[str] | None = None) -> ModelRecord:
        """Copy the `artifact` folder into the workspace and record it as the next version."""
        staged = self.stage(name, task, artifact, params, metrics)
        try:
            row = self.db.transaction(lambda session, moves: self.insert(session, moves, staged, inputs or []))
        finally:
            remove(staged.staged)
        return self.get(f"{row.name}@{row.version}")

    def _records(self, session: Session, rows: list[ModelRow]) -> list[ModelRecord]:
        """Records with their aliases ('latest' first), in two queries for any number of rows."""
        names = {row.name for row in rows}
        if not names:
            return []
        aliases: dict[tuple[str, int], list[str]] = {}
        for alias in session.scalars(select(AliasRow).where(AliasRow.name.in_(names))):
            aliases.setdefault((alias.name, alias.version), []).append(alias.alias)
        newest = (select(ModelRow.name, func.max(ModelRow.version)).where(ModelRow.name.in_(names))
                  .group_by(ModelRow.name))
        latest = {name: version for name, version in session.execute(newest)}
        return [self._record(row, aliases.get((row.name, row.version), []), latest.get(row.name) == row.version)
                for row in rows]

    def _record(self, row: ModelRow, aliases: list[str], is_latest: bool) -> ModelRecord:
        names = (["latest"] if is_latest else []) + sorted(aliases)
        return ModelRecord(row.name, row.version, row.task, row.params, row.metrics, row.inputs,
                           self.workspace.resolve(row.path), row.sha256, row.created_at, tuple(names), row.run_id)

    def list(self, name: str | None = None, task: str | None = None, limit: int | None = None,
             offset: int = 0) -> list[ModelRecord]:
        """Versions ordered by name and version; filtered by name or task; a page of `limit` from `offset`."""
        query = select(ModelRow).order_by(ModelRow.name, ModelRow.version).offset(offset).limit(limit)
        if name:
            query = query.filter_by(name=name)
        if task:
            query = query.filter_by(task=task)
        with self.db.read() as session:
            return self._records(session, list(session.scalars(query)))

    def get(self, ref: str) -> ModelRecord:
        """Resolve `name`, `name@version` or `name@alias` in one query, without touching the artifact."""
        name, spec = split_ref(ref, "model")
        latest = select(func.max(ModelRow.version)).where(ModelRow.name == name).scalar_subquery()
        if spec in (None, "latest"):
            wanted = ModelRow.version == latest
        elif spec.isdigit():
            wanted = ModelRow.version == int(spec)
        else:
            wanted = ModelRow.version == (select(AliasRow.version).where(AliasRow.name == name, AliasRow.alias == spec)
                                          .scalar_subquery())
        query = (select(ModelRow, AliasRow.alias, latest)
                 .outerjoin(AliasRow, and_(AliasRow.name == ModelRow.name, AliasRow.version == ModelRow.version))
                 .where(ModelRow.name == name, wanted))
        with self.db.read() as session:
            found = session.execute(query).all()
            if found:
                row, _, newest = found[0]
                return self._record(row, [alias for _, alias, _ in found if alias], newest == row.version)
            self._not_found(session, name, spec or "latest")
        raise AssertionError("unreachable")

    def _not_found(self, session: Session, name: str, spec: str) -> None:
        versions = list(session.scalars(select(ModelRow).filter_by(name=name).order_by(ModelRow.version)))
        if not versions:
            names = sorted(set(session.scalars(select(ModelRow.name))))
            raise NotFound(f"unknown model {name!r}; registered models: {', '.join(names) or 'none yet'}")
        listed = ", ".join(f"{r.version}" + (f" ({', '.join(r.aliases)})" if r.aliases else "")
                           for r in self._records(session, versions))
        raise NotFound(f"model {name!r} has no version or alias {spec!r}; versions: {listed}")

    def load(self, ref: str) -> ModelRecord:
        """Resolve a model and verify its artifact (sha256, no pickle, no link) where it lies."""
        record = self.get(ref)
        verify(record.path, record.sha256, f"model {record.ref}")
        return record

    def checkout(self, record: ModelRecord, folder: Path) -> ModelRecord:
        """A read-only copy of the model's artifact in `folder`, checked after copying: the record of what a run
        reads, so a file swapped in the registry after the check is never read."""
        copy = verified_copy(record.path, record.sha256, folder, f"model {record.ref}")
        return replace(record, path=copy)

    def owners(self, name: str) -> set[str]:
        """The users whose runs registered versions of `name` (who may move its aliases, with the admins)."""
        with self.db.read() as session:
            runs = select(ModelRow.run_id).filter_by(name=name)
            return {user for user in session.scalars(select(RunRow.user).where(RunRow.id.in_(runs))) if user}

    def set_alias(self, ref: str, alias: str, user: str | None = None) -> ModelRecord:
        """Point `alias` of the model at the version `ref` resolves to (its owners or an admin, when `user`)."""
        check_alias(alias)
        record = self.get(ref)
        check_owner(user, self.owners(record.name), f"model {record.name!r}")
        point_alias(self.db, AliasRow, "model", record.name, alias, record.version, user)
        return self.get(f"{record.name}@{record.version}")

    def delete_alias(self, name: str, alias: str, user: str | None = None) -> None:
        """Remove `alias` from the model called `name`."""
        check_owner(user, self.owners(name), f"model {name!r}")
        drop_alias(self.db, AliasRow, "model", name, alias, user)
