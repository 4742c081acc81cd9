"""Who a report is for, and what that changes: the words that open it and how much detail follows. Every report
leads with its executive summary: the title and commentary its author saved, then the decision and the number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.registry import RunRecord
    from workbench.sdk.task import RecordedRun

TITLE_TAG, COMMENTARY_TAG = "report.title", "report.commentary"  # saved with the run, as tags (audited)
MAX_TITLE, MAX_COMMENTARY = 200, 5000


@dataclass(frozen=True)
class Audience:
    """What a report shows one kind of reader."""

    name: str
    opening: str  # the sentence under the title
    whole_summary: bool  # the task's full summary, or only its first paragraph (the decision and the number)
    sections: bool  # the task's own sections (method, caveats)
    section_tables: bool
    all_metrics: bool  # beyond the headline tiles
    parameters: bool
    tables: bool  # the run's output tables
    max_charts: int


AUDIENCE_DETAIL = {
    "decision-maker": Audience(
        "decision-makers", "What to decide, and what it is worth: the headline figures, then one chart.",
        whole_summary=False, sections=False, section_tables=False, all_metrics=False, parameters=False,
        tables=False, max_charts=1),
    "general": Audience(
        "the general public", "What this analysis found, in plain figures, with its charts and how to read them.",
        whole_summary=True, sections=True, section_tables=False, all_metrics=False, parameters=False, tables=False,
        max_charts=3),
    "professional": Audience(
        "professionals", "The full record: every metric, the parameters, the method's own sections and the "
        "output tables, so the run can be checked and repeated.",
        whole_summary=True, sections=True, section_tables=True, all_metrics=True, parameters=True, tables=True,
        max_charts=99),
}


def audience(name: str) -> Audience:
    """The audience called `name` (the general public when unknown)."""
    return AUDIENCE_DETAIL.get(name, AUDIENCE_DETAIL["general"])


def default_title(record: RunRecord) -> str:
    return f"Run #{record.id}: {record.task}"


def report_title(record: RunRecord) -> str:
    """The title its author saved, else `Run #N: task`."""
    return record.tags.get(TITLE_TAG) or default_title(record)


def report_commentary(record: RunRecord) -> str:
    return record.tags.get(COMMENTARY_TAG, "")


def executive_summary(run: RecordedRun) -> str:
    """The first paragraph of the task's summary: the decision and its number (tasks write it first)."""
    return run.summary.strip().split("\n\n", 1)[0]


def rest_of_summary(run: RecordedRun) -> str:
    parts = run.summary.strip().split("\n\n", 1)
    return parts[1] if len(parts) > 1 else ""


def report_tags(title: str, commentary: str, record: RunRecord) -> dict[str, str]:
    """The tags that save a title and commentary (empty ones removed; the default title is not saved)."""
    title, commentary = title.strip()[:MAX_TITLE], commentary.strip()[:MAX_COMMENTARY]
    return {TITLE_TAG: "" if title == default_title(record) else title, COMMENTARY_TAG: commentary}
