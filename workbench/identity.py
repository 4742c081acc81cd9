"""Who is acting: the user recorded with runs, cancels and alias moves, and who may act on others' work."""

from __future__ import annotations

import getpass

from workbench.errors import Forbidden
from workbench.settings import setting


def current_user() -> str:
    """`WORKBENCH_USER`, else the operating-system user (the CLI's identity)."""
    configured = setting("WORKBENCH_USER")
    if configured:
        return str(configured)
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's anonymous uid)
        return "unknown"


def is_admin(user: str | None) -> bool:
    return user is not None and user in (setting("WORKBENCH_ADMINS") or [])


def check_owner(user: str | None, owners: set[str], what: str) -> None:
    """Refuse `user` acting on `what` unless it has no owner, `user` is one, or `user` is an admin."""
    if user is None or not owners or user in owners or is_admin(user):
        return
    raise Forbidden(f"{what} belongs to {', '.join(sorted(owners))}, not {user}; ask them, or an admin "
                    "(WORKBENCH_ADMINS)")
