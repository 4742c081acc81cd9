"""What a surface asks for: a task on some data, with what to do with the outcome.

The CLI, the dashboard, pipelines and sweeps all build a `RunRequest`; `plan.plan_run` turns it into an
execution plan (or refuses it) and `runner.Runner` carries it out. A request can be stored with a queued run
(`record`) and rebuilt by the worker (`from_record`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from workbench.jsonable import jsonable

if TYPE_CHECKING:
    import polars as pl

    from workbench.sdk.task import Task


@dataclass
class RunRequest:
    """One run as asked for; options left at None were not given (so nothing given is ever silently dropped)."""

    task: Task[Any]
    # A file, folder, glob or s3:// URI, a registered dataset (`NAME`, `NAME@3`, `NAME@alias`), or a frame in memory.
    data: str | pl.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    register: str | None = None
    save: dict[str, str] = field(default_factory=dict)  # output table -> dataset name
    out: str | None = None
    overwrite: bool = False
    table_format: str | None = None  # csv or parquet; default csv, parquet for streamed parts
    seed: int = 0
    name: str | None = None  # the dataset name a file is registered as (default: from its name)
    encoding: str | None = None
    delimiter: str | None = None
    stream: bool = False
    batch_rows: int | None = None
    executor: str | None = None  # local or ray
    ray_address: str | None = None
    detach: bool = False
    user: str | None = None
    group_id: int | None = None
    step: str | None = None
    fingerprint: str | None = None  # a pipeline step's inputs, hashed: an unchanged step is skipped
    origin: str = ""  # where a frame came from, for the dataset's source ("dashboard", "upload:x.csv")

    @property
    def wants_ray(self) -> bool:
        """Ray was asked for, by `--executor ray` or by naming a cluster."""
        return self.executor == "ray" or self.ray_address is not None

    def given(self) -> dict[str, Any]:
        """The run options that were set, by their CLI names (what the plan checks against the mode)."""
        defaults = {item.name: item.default for item in fields(self) if not callable(item.default_factory)}
        shown = {"table_format": "format", "batch_rows": "batch-rows", "ray_address": "ray-address"}
        skip = {"task", "data", "params", "seed", "user", "group_id", "step", "fingerprint", "origin", "stream",
                "executor"}
        return {shown.get(name, name): getattr(self, name) for name in defaults
                if name not in skip and getattr(self, name) != defaults[name]} | (
            {"save": self.save} if self.save else {})

    def record(self, dataset_ref: str | None) -> dict[str, Any]:
        """The request as a run record keeps it, to show, queue or run again (the data as a registered version)."""
        kept = {item.name: getattr(self, item.name) for item in fields(self) if item.name not in ("task", "data")}
        data = dataset_ref or (self.data if isinstance(self.data, str) else self.origin)
        return jsonable({**kept, "task": self.task.name, "data": data, "dataset": dataset_ref})

    @classmethod
    def from_record(cls, task: Task[Any], record: dict[str, Any]) -> RunRequest:
        """A request rebuilt from `record` (a queued run), to run on its registered dataset."""
        # The data is a registered version now: how a file was read (its encoding, delimiter, name) is done with.
        names = {item.name for item in fields(cls)} - {"task", "data", "encoding", "delimiter", "name"}
        kept = {name: record[name] for name in names if name in record}
        kept["detach"] = False
        return cls(task=task, data=record.get("dataset") or record["data"], **kept)
