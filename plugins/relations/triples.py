"""Triples as the model writes them (`head|relation|tail`, one per line): parsing, normalising, CoNLL04 labels."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SEPARATOR = "|"
# CoNLL04's relation types as the readable labels the prompt and the gold triples use.
CONLL04_LABELS = {"Work_For": "works for", "Kill": "killed", "OrgBased_In": "is based in",
                  "Live_In": "lives in", "Located_In": "is located in"}
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_ANSWER = re.compile(r"^\s*(?:answer|triples?|output)\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Triple:
    head: str
    relation: str
    tail: str

    def line(self) -> str:
        return SEPARATOR.join((self.head, self.relation, self.tail))


@dataclass
class Parsed:
    """What one generation held: its triples (duplicates removed), the lines that did not parse."""

    triples: list[Triple] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)
    duplicates: int = 0


def normalise(text: str) -> str:
    """Case-folded, single-spaced, without surrounding quotes or punctuation: what strict matching compares."""
    return " ".join(text.casefold().split()).strip(" .,;:\"'`")


def parse_output(text: str, labels: list[str] | None = None) -> Parsed:
    """Read `head|relation|tail` lines; with a closed label set, the relation must be one of them."""
    parsed = Parsed()
    seen = set()
    wanted = {normalise(label): label for label in labels or []}
    for raw in text.splitlines():
        line = _ANSWER.sub("", _LIST_MARKER.sub("", raw)).strip().rstrip(".")
        if not line:
            continue
        triple = _split(line, wanted)
        if triple is None:
            parsed.unparsed.append(raw.strip())
            continue
        key = (normalise(triple.head), normalise(triple.relation), normalise(triple.tail))
        if key in seen:
            parsed.duplicates += 1
            continue
        seen.add(key)
        parsed.triples.append(triple)
    return parsed


def _split(line: str, wanted: dict[str, str]) -> Triple | None:
    """Three non-empty parts; with more, the relation is the part that is a known label (entities keep `|`)."""
    parts = [part.strip() for part in line.split(SEPARATOR)]
    if len(parts) == 3:
        head, relation, tail = parts
    elif len(parts) > 3 and wanted:
        positions = [i for i, part in enumerate(parts) if normalise(part) in wanted and 0 < i < len(parts) - 1]
        if len(positions) != 1:
            return None
        i = positions[0]
        head, relation, tail = SEPARATOR.join(parts[:i]), parts[i], SEPARATOR.join(parts[i + 1:])
    else:
        return None
    if not (head and relation and tail):
        return None
    if wanted:
        if normalise(relation) not in wanted:
            return None
        relation = wanted[normalise(relation)]
    return Triple(head, relation, tail)


def parse_gold(text: str | None) -> list[Triple]:
    """Gold triples written one per line like the model's answer (an empty cell: no relation)."""
    return parse_output(text or "").triples


def write_lines(triples: list[Triple]) -> str:
    return "\n".join(triple.line() for triple in triples)
