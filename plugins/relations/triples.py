"""Triples as the model writes them (`head|relation|tail`, one per line): parsing, normalising, CoNLL04 labels."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

SEPARATOR = "|"
# CoNLL04's relation types as the readable labels the prompt and the gold triples use.
CONLL04_LABELS = {"Work_For": "works for", "Kill": "killed", "OrgBased_In": "is based in",
                  "Live_In": "lives in", "Located_In": "is located in"}
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_ANSWER = re.compile(r"^\s*(?:answer|triples?|output)\s*:\s*", re.IGNORECASE)
# Near-miss separators a small model writes instead of `|`, tried in this order by the repair pass.
_OTHER_SEPARATORS = ("->", "→", " - ", "\t", ";", ",")
LABEL_CUTOFF = 0.75  # how close a misspelt relation must be to a label (difflib ratio) to be repaired


@dataclass(frozen=True)
class Triple:
    head: str
    relation: str
    tail: str

    def line(self) -> str:
        return SEPARATOR.join((self.head, self.relation, self.tail))


@dataclass
class Parsed:
    """What one generation held: its triples (duplicates removed), the lines that did not parse, and how many
    lines parsed only after repair."""

    triples: list[Triple] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)
    duplicates: int = 0
    repaired: int = 0

    @property
    def lines(self) -> int:
        """Non-empty lines read."""
        return len(self.triples) + self.duplicates + len(self.unparsed)


def normalise(text: str) -> str:
    """Case-folded, single-spaced, without surrounding quotes or punctuation: what strict matching compares."""
    return " ".join(text.casefold().split()).strip(" .,;:\"'`")


def parse_output(text: str, labels: list[str] | None = None, repair: bool = True) -> Parsed:
    """Read `head|relation|tail` lines; with a closed label set, the relation must be one of them.

    With `repair`, a line that does not parse gets a second chance: another separator (`->`, ` - `, `;`, `,`
    when it gives exactly three parts), brackets stripped, a relation misspelt within LABEL_CUTOFF of a label.
    """
    parsed = Parsed()
    seen = set()
    wanted = {normalise(label): label for label in labels or []}
    for raw in text.splitlines():
        line = _ANSWER.sub("", _LIST_MARKER.sub("", raw)).strip().rstrip(".")
        if not line:
            continue
        triple = _split(line, wanted)
        if triple is None and repair:
            triple = _repaired(line, wanted)
            parsed.repaired += triple is not None
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


def _repaired(line: str, wanted: dict[str, str]) -> Triple | None:
    """A near miss made a triple, or None."""
    line = line.strip("()[]{}<> ")
    candidates = [line] if SEPARATOR in line else [
        SEPARATOR.join(line.split(separator)) for separator in _OTHER_SEPARATORS if line.count(separator) == 2]
    for candidate in candidates:
        parts = [part.strip(" \"'") for part in candidate.split(SEPARATOR)]
        if len(parts) != 3 or not all(parts):
            continue
        if wanted and normalise(parts[1]) not in wanted:
            close = difflib.get_close_matches(normalise(parts[1]), list(wanted), n=1, cutoff=LABEL_CUTOFF)
            if not close:
                continue
            parts[1] = wanted[close[0]]
        triple = _split(SEPARATOR.join(parts), wanted)
        if triple is not None:
            return triple
    return None


def parse_gold(text: str | None) -> list[Triple]:
    """Gold triples written one per line like the model's answer (an empty cell: no relation)."""
    return parse_output(text or "", repair=False).triples


def write_lines(triples: list[Triple]) -> str:
    return "\n".join(triple.line() for triple in triples)
