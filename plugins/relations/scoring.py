"""Precision, recall and F1 of predicted triples against gold ones: strict and lenient, micro and per relation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import polars as pl

from workbench_relations.triples import Triple, normalise


def strict_match(predicted: Triple, gold: Triple) -> bool:
    """Same head, relation and tail after case and whitespace normalisation."""
    return (normalise(predicted.head), normalise(predicted.relation), normalise(predicted.tail)) == (
        normalise(gold.head), normalise(gold.relation), normalise(gold.tail))


def lenient_match(predicted: Triple, gold: Triple) -> bool:
    """Same relation, and each predicted entity contains the gold one or is contained in it."""
    def overlaps(a: str, b: str) -> bool:
        a, b = normalise(a), normalise(b)
        return bool(a and b) and (a in b or b in a)

    return (normalise(predicted.relation) == normalise(gold.relation) and overlaps(predicted.head, gold.head)
            and overlaps(predicted.tail, gold.tail))


def count_matches(predicted: list[list[Triple]], gold: list[list[Triple]],
                  match: Callable[[Triple, Triple], bool]) -> dict[str, Counter]:
    """True positives, predictions and gold triples per relation label (each gold triple matched once)."""
    counts: dict[str, Counter] = {"tp": Counter(), "predicted": Counter(), "gold": Counter()}
    for row_predicted, row_gold in zip(predicted, gold, strict=True):
        unmatched = list(row_gold)
        for triple in row_predicted:
            counts["predicted"][normalise(triple.relation)] += 1
            hit = next((g for g in unmatched if match(triple, g)), None)
            if hit is not None:
                unmatched.remove(hit)
                counts["tp"][normalise(triple.relation)] += 1
        for triple in row_gold:
            counts["gold"][normalise(triple.relation)] += 1
    return counts


def prf(tp: int, predicted: int, gold: int) -> tuple[float, float, float]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate(predicted: list[list[Triple]], gold: list[list[Triple]]) -> tuple[dict[str, float], pl.DataFrame]:
    """Micro metrics (strict, and lenient beside them) and a per-relation table."""
    metrics: dict[str, float] = {}
    rows: dict[str, dict[str, Any]] = {}
    for name, match in (("strict", strict_match), ("lenient", lenient_match)):
        counts = count_matches(predicted, gold, match)
        p, r, f = prf(sum(counts["tp"].values()), sum(counts["predicted"].values()), sum(counts["gold"].values()))
        metrics.update({f"{name}_precision": p, f"{name}_recall": r, f"{name}_f1": f})
        for label in sorted(set(counts["gold"]) | set(counts["predicted"])):
            p, r, f = prf(counts["tp"][label], counts["predicted"][label], counts["gold"][label])
            row = rows.setdefault(label, {"relation": label, "gold": counts["gold"][label],
                                          "predicted": counts["predicted"][label]})
            row.update({f"{name}_precision": p, f"{name}_recall": r, f"{name}_f1": f})
    table = pl.DataFrame(list(rows.values())) if rows else pl.DataFrame(
        schema={"relation": pl.String, "gold": pl.Int64, "predicted": pl.Int64})
    return metrics, table
