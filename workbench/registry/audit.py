"""The audit trail: who cancelled a run or moved an alias, and when (written in the transaction that does it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.registry.schema import AuditRow, Database, now


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    user: str
    action: str
    target: str
    detail: dict[str, Any]


def record(session: Session, user: str | None, action: str, target: str, **detail: Any) -> None:
    """Inside a transaction: one entry of the trail."""
    session.add(AuditRow(at=now(), user=user or "unknown", action=action, target=target, detail=detail or None))


class Audit:
    """Reading the trail, newest first."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, target: str | None = None, limit: int = 200) -> list[AuditEntry]:
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if target is not None:
            query = query.filter_by(target=target)
        with self.db.read() as session:
            return [AuditEntry(row.at, row.user, row.action, row.target, row.detail or {})
                    for row in session.scalars(query)]
