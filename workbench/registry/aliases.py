"""Aliases of models and datasets (`NAME@champion`): one rule for both, every move recorded in the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from workbench.errors import Conflict, Invalid, NotFound
from workbench.registry.audit import record as audit_record
from workbench.registry.schema import Database
from workbench.registry.store import Moves
from workbench.workspace import validate_name

RESERVED_ALIASES = frozenset({"latest"})


def check_alias(alias: str) -> str:
    validate_name(alias, "alias")
    if alias in RESERVED_ALIASES or alias.isdigit():
        raise Conflict(f"alias {alias!r} is reserved; choose another name")
    return alias


def point_alias(db: Database, row_type: Any, kind: str, name: str, alias: str, version: int, user: str | None) -> None:
    """Point `NAME@alias` at `version`, recording who did it."""
    check_alias(alias)

    def work(session: Session, _moves: Moves) -> None:
        row = session.get(row_type, (name, alias))
        before = None if row is None else row.version
        if row is None:
            session.add(row_type(name=name, alias=alias, version=version))
        else:
            row.version = version
        audit_record(session, user, f"{kind} alias", f"{name}@{alias}", version=version, previous=before)

    db.transaction(work)


def check_removable(alias: str) -> str:
    if alias in RESERVED_ALIASES:
        raise Invalid(f"alias {alias!r} always points at the newest version and cannot be deleted")
    return alias


def drop_alias(db: Database, row_type: Any, kind: str, name: str, alias: str, user: str | None) -> None:
    """Remove `NAME@alias`, recording who did it."""
    validate_name(name, f"{kind} name")
    check_removable(alias)

    def work(session: Session, _moves: Moves) -> bool:
        row = session.get(row_type, (name, alias))
        if row is None:
            return False
        session.delete(row)
        audit_record(session, user, f"{kind} unalias", f"{name}@{alias}", previous=row.version)
        return True

    if not db.transaction(work):
        raise NotFound(f"{kind} {name!r} has no alias {alias!r}; see `workbench {kind}s show {name}`")
