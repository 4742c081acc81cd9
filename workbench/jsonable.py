"""Plain JSON values from whatever a task returns: numpy scalars, paths, dates, NaN."""

from __future__ import annotations

import json
from typing import Any


def jsonable(value: Any) -> Any:
    """Plain JSON types from numpy scalars, paths, dates and nested containers."""
    return json.loads(json.dumps(value, default=_default, allow_nan=True), parse_constant=_constant)


def _constant(name: str) -> None:
    return None  # NaN and infinities become null


def _default(value: Any) -> Any:
    """NumPy scalars as Python numbers; anything else (paths, dates) as its text."""
    return value.item() if hasattr(value, "item") else str(value)
