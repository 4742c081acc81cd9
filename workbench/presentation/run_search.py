"""Searching runs by their parameters, metrics and tags, in MLflow's words: `metrics.accuracy > 0.8 and
params.method = embeddings and tags.reviewed = yes`."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import Invalid
from workbench.presentation.numbers import scalar_metrics

if TYPE_CHECKING:
    from workbench.registry import RunRecord

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, "!=": operator.ne, "=": operator.eq, ">": operator.gt, "<": operator.lt}
_CONDITION = re.compile(r"^\s*(metrics|params|tags)\.([\w.:-]+)\s*(>=|<=|!=|=|>|<)\s*(.+?)\s*$")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
EXAMPLE = "metrics.accuracy > 0.8 and params.method = embeddings"


@dataclass(frozen=True)
class Condition:
    """One comparison: `kind` is metrics, params or tags."""

    kind: str
    name: str
    op: str
    value: str

    def holds(self, run: RunRecord) -> bool:
        found = value_of(run, self.kind, self.name)
        if found is None:
            return False
        if self.kind == "metrics":
            try:
                return OPERATORS[self.op](float(found), float(self.value))
            except (TypeError, ValueError):
                return False
        return OPERATORS[self.op](str(found), self.value.strip("'\""))


def parse_search(text: str) -> list[Condition]:
    """The conditions of a search; a bad one is refused with the form it should take."""
    conditions = []
    for part in _AND.split(text.strip()) if text.strip() else []:
        match = _CONDITION.match(part)
        if match is None:
            raise Invalid(f"cannot read the search condition {part!r}: write KIND.NAME OP VALUE with KIND metrics, "
                          f"params or tags and OP one of {', '.join(OPERATORS)}, joined by 'and' (e.g. {EXAMPLE})")
        kind, name, op, value = match.groups()
        if kind == "metrics":
            try:
                float(value)
            except ValueError:
                raise Invalid(f"metrics.{name} is compared with a number, not {value!r}") from None
        conditions.append(Condition(kind, name, op, value))
    return conditions


def value_of(run: RunRecord, kind: str, name: str) -> Any:
    """A run's metric (a number), parameter (as text, JSON for lists and mappings) or tag; None if it has none."""
    if kind == "metrics":
        found = scalar_metrics(run.outputs.get("metrics", {})).get(name)
        return found if isinstance(found, int | float) and not isinstance(found, bool) else None
    if kind == "params":
        if name not in run.params:
            return None
        value = run.params[name]
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return run.tags.get(name)


def search_runs(runs: list[RunRecord], text: str) -> list[RunRecord]:
    """The runs for which every condition of the search holds."""
    conditions = parse_search(text)
    return [run for run in runs if all(condition.holds(run) for condition in conditions)]


def searchable_columns(runs: list[RunRecord]) -> list[str]:
    """`params.NAME` and `metrics.NAME` of these runs, to choose table columns from."""
    params = sorted({name for run in runs for name in run.params})
    metrics = sorted({name for run in runs for name in scalar_metrics(run.outputs.get("metrics", {}))
                      if value_of(run, "metrics", name) is not None})
    return [f"params.{name}" for name in params] + [f"metrics.{name}" for name in metrics]


def dataset_of(run: RunRecord) -> str:
    """The dataset name a run read (its first input, `name@version`)."""
    return run.inputs[0].split("@")[0].split(" ")[0] if run.inputs else ""
