"""Checking texts and labels, and sampling N examples per class the way `setfit.sample_dataset` does."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from workbench.sdk import WorkbenchError

if TYPE_CHECKING:
    import polars as pl


def labels_of(data: pl.DataFrame, column: str) -> list[str]:
    """Labels as strings; missing labels are refused."""
    import polars as pl

    labels = data[column].cast(pl.String).to_list()
    missing = sum(label is None for label in labels)
    if missing:
        raise WorkbenchError(f"label column {column!r} has {missing} missing labels; drop those rows or label them")
    return labels


def check_classes(labels: list[str], column: str) -> list[str]:
    """The sorted classes; one class only is refused."""
    classes = sorted(set(labels))
    stripped: dict[str, str] = {}
    for label in classes:
        twin = stripped.setdefault(label.strip(), label)
        if twin != label:
            raise WorkbenchError(f"labels {twin!r} and {label!r} in {column!r} differ only in spaces, so they would "
                                 "be two classes; trim the label column")
    if len(classes) < 2:
        found = f"one class ({classes[0]!r})" if classes else "no rows"
        raise WorkbenchError(f"label column {column!r} has {found}; a classifier needs at least two classes")
    return classes


def sample_per_class(labels: list[str], shots: int, seed: int) -> tuple[np.ndarray, dict[str, int]]:
    """Positions of up to `shots` rows per class (shuffled with `seed`), and the classes that had fewer."""
    order = np.random.default_rng(seed).permutation(len(labels))
    taken: Counter[str] = Counter()
    chosen = []
    for position in order:
        label = labels[position]
        if taken[label] < shots:
            taken[label] += 1
            chosen.append(position)
    short = {label: count for label, count in sorted(taken.items()) if count < shots}
    return np.array(sorted(chosen), dtype=int), short
