"""Worked examples for the prompt: the rows of a labelled file, or k rows of the input's own gold column."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.sdk import WorkbenchError, read_table, text_values
from workbench_relations.triples import Triple, parse_gold, write_lines

if TYPE_CHECKING:
    import polars as pl

    from workbench_relations.generation import Example

MOST_EXAMPLES = 32


def examples_from_file(path: str, text: str, gold: str) -> list[Example]:
    """Every row of a labelled file (columns `text` and `gold`), up to MOST_EXAMPLES."""
    frame = read_table(path)
    missing = [column for column in (text, gold) if column not in frame.columns]
    if missing:
        raise WorkbenchError(f"examples file {path} has no column {missing[0]!r}; it needs the text column {text!r} "
                             f"and the gold column {gold!r} (one head|relation|tail per line)")
    frame = frame.head(MOST_EXAMPLES)
    answers = [write_lines(parse_gold(value)) for value in frame[gold].cast(str).fill_null("").to_list()]
    return list(zip(text_values(frame, text), answers, strict=True))


def examples_from_rows(texts: list[str], gold: list[list[Triple]], k: int, seed: int) -> tuple[list[Example], set[int]]:
    """k labelled rows chosen to cover as many relations as possible (seeded), and their positions."""
    import numpy as np

    order = [int(i) for i in np.random.default_rng(seed).permutation(len(texts)) if gold[i]]
    chosen: list[int] = []
    covered: set[str] = set()
    for position in order:  # first, rows that bring a relation not yet shown
        relations = {triple.relation for triple in gold[position]}
        if len(chosen) < k and not relations <= covered:
            chosen.append(position)
            covered |= relations
    chosen += [position for position in order if position not in chosen][:k - len(chosen)]
    return [(texts[i], write_lines(gold[i])) for i in chosen], set(chosen)


def check_example_rows(frame: pl.DataFrame, gold: str | None, k: int) -> None:
    if k and (gold is None or gold not in frame.columns):
        raise WorkbenchError("example_rows takes worked examples from the gold triples: pass -p gold=COLUMN, or "
                             "-p examples=FILE with labelled sentences")
    if k and k >= frame.height:
        raise WorkbenchError(f"example_rows={k} leaves no rows to extract from ({frame.height} rows); pass fewer")
