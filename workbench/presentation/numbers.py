"""One way to show numbers and metrics in every surface (CLI, dashboard, reports).

Numbers are formatted by magnitude and meaning: counts and years as integers, no scientific notation for
ordinary values, units as written, booleans as yes/no; metric names made readable.
"""

from __future__ import annotations

import math
import re
from functools import cache
from numbers import Integral, Real
from typing import Any

# Words shown in capitals or a fixed spelling inside metric names; tasks add their own (`Task.metric_words`).
_WORDS = {"f1": "F1", "cv": "CV", "rmse": "RMSE", "mae": "MAE", "r2": "R²", "id": "ID", "roc": "ROC", "auc": "AUC",
          "pct": "%", "sd": "SD", "gpu": "GPU", "cpu": "CPU"}
_YEAR_NAME = re.compile(r"(^|_)(year|years)($|_)")


@cache
def _task_vocabulary() -> tuple[dict[str, str], frozenset[str]]:
    """Every installed task's metric words and year metrics, merged over the core's."""
    from workbench import plugins

    words, years = dict(_WORDS), set[str]()
    for task in plugins.tasks().values():
        words.update({key.lower(): value for key, value in task.metric_words.items()})
        years.update(task.year_metrics)
    return words, frozenset(years)


def is_year(name: str | None, value: Any) -> bool:
    """A whole number that names a year (by its name, or a task's `year_metrics`, and in a plausible range)."""
    if not isinstance(value, Integral) or isinstance(value, bool) or name is None or not 1000 <= int(value) <= 2999:
        return False
    return bool(_YEAR_NAME.search(name.lower())) or name in _task_vocabulary()[1]


def decimal(value: float, significant: int = 4) -> str:
    """A real number with about `significant` figures, thousands separators, no exponent for ordinary sizes."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0"
    size = math.floor(math.log10(abs(value)))
    if size < -6 or size >= 15:  # not an ordinary value: say so with an exponent
        return f"{value:.{significant - 1}e}"
    digits = min(max(significant - 1 - size, 0), 10)
    if size < 6 and not value.is_integer():
        digits = max(digits, 2)  # 189,284.77 rather than 189,285
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def number(value: Any, name: str | None = None, units: str = "") -> str:
    """Any value as a person reads it; `name` tells years from counts, `units` are glued on as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if is_year(name, value):
        return str(int(value))
    if isinstance(value, Integral):
        text = f"{int(value):,}"
    elif isinstance(value, Real):
        real = float(value)
        text = f"{int(real):,}" if real.is_integer() and abs(real) < 1e15 else decimal(real)
    else:
        return str(value)
    return f"{text}{units}"


def label(name: str) -> str:
    """`strict_f1_after` -> `Strict F1 after`; `optuna_cv` -> `Optuna CV`."""
    known = _task_vocabulary()[0]
    words = [known.get(word.lower(), word) for word in re.split(r"[_\s]+", name) if word]
    if not words:
        return name
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]]).replace(" %", " %")


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics that are single numbers or words (not flags, lists or mappings): the ones worth a box."""
    return {name: value for name, value in metrics.items()
            if isinstance(value, Real | str) and not isinstance(value, bool)}


def split_metrics(metrics: dict[str, Any], headline: tuple[str, ...] = (), most: int = 4) -> tuple[dict, dict]:
    """(headline tiles, the rest): the task's named headline metrics, else the first `most` scalars."""
    scalars = scalar_metrics(metrics)
    chosen = [name for name in headline if name in scalars] or list(scalars)[:most]
    return ({name: scalars[name] for name in chosen},
            {name: value for name, value in metrics.items() if name not in chosen})


def metric_line(metrics: dict[str, Any]) -> str:
    """`rows=3,000, accuracy=0.9213` for a terminal line."""
    return ", ".join(f"{name}={number(value, name)}" for name, value in scalar_metrics(metrics).items())


def duration(seconds: float | None) -> str:
    """`2.9 s`, `3 min 12 s`, `1 h 04 min`."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def column_format(name: str, values: list[Any]) -> str | None:
    """A printf-style format for a numeric column (None for other columns): integers plain or grouped, years
    plain, reals with as many decimals as their size needs; never an exponent for ordinary values."""
    numbers = [value for value in values if isinstance(value, Real) and not isinstance(value, bool)]
    if not numbers:
        return None
    if all(is_year(name, value) for value in numbers):
        return "%d"
    if all(float(value).is_integer() for value in numbers):
        return "localized"  # 189,284
    finite = [abs(float(v)) for v in numbers if v == v and abs(float(v)) != math.inf and v != 0]
    if not finite:
        return "%.2f"
    typical = sorted(finite)[len(finite) // 2]
    if typical >= 1000:
        return "localized"
    wanted = min(max(3 - math.floor(math.log10(typical)), 2), 8)
    used = max(_decimals_used(float(value)) for value in numbers[:1000])
    return f"%.{max(min(wanted, used), 1)}f"


def _decimals_used(value: float) -> int:
    """How many decimals a value carries as Python writes it shortest (0.5 -> 1, 0.123456 -> 6)."""
    text = repr(value)
    if "e" in text or "." not in text:
        return 0 if "e" not in text else 8
    return len(text.split(".")[1].rstrip("0"))
