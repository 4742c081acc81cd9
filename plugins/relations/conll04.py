"""CoNLL04 in SpERT's JSON format to sentences and gold triples (entity strings from the tokens)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from workbench.sdk import WorkbenchError
from workbench_relations.triples import CONLL04_LABELS, Triple, write_lines


def convert(path: Path) -> pl.DataFrame:
    """One row per sentence: id, text (tokens joined by spaces) and its gold triples, one per line."""
    try:
        documents = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise WorkbenchError(f"cannot read CoNLL04 JSON {path}: {error}") from None
    rows: list[dict[str, Any]] = []
    for document in documents:
        tokens = document["tokens"]
        entities = [" ".join(tokens[e["start"]:e["end"]]) for e in document["entities"]]
        triples = [Triple(entities[r["head"]], CONLL04_LABELS.get(r["type"], r["type"]), entities[r["tail"]])
                   for r in document["relations"]]
        rows.append({"id": str(document.get("orig_id", len(rows))), "text": " ".join(tokens),
                     "triples": write_lines(triples)})
    return pl.DataFrame(rows)
