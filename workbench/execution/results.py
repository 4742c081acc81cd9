"""Writing what a run produced: its tables, metrics, charts and summary, and the parts of a streamed run.

`--out` is written whole or not at all: a local folder is written aside (a hidden sibling) and renamed into
place when the run succeeds; an s3:// prefix, which cannot be renamed, is written in place. Either way a
`_SUCCESS` manifest (run id, files or parts, rows) is written last, so a reader can tell a complete output from
one a killed run left. A folder or prefix that already holds files is refused unless `--overwrite`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import Invalid
from workbench.jsonable import jsonable
from workbench.kit.charts import save_chart
from workbench.sdk.task import Result

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

MARKER = "_SUCCESS"
TABLE_FORMATS = ("csv", "parquet")


@dataclass
class Produced:
    """What an executor made: a result, and for a streamed run the tables written as parts (relative to `--out`)
    with what the run record keeps of them."""

    result: Result
    parts: dict[str, list[str]] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)


def write_result(result: Result, folder: Path, table_format: str = "csv",
                 chart_formats: tuple[str, ...] = ("vl.json", "html", "png", "svg")) -> list[Path]:
    """Write everything in `result` under `folder` (charts also as offline HTML, PNG, SVG); return the files."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [write_table(table, folder / f"{name}.{table_format}", table_format)
               for name, table in result.tables.items()]
    metrics = folder / "metrics.json"
    metrics.write_text(json.dumps(jsonable(result.metrics), indent=2) + "\n")
    written.append(metrics)
    for name, chart in result.charts.items():
        written += save_chart(chart, folder, name, chart_formats)
    summary = folder / "summary.md"
    summary.write_text(result.summary.strip() + "\n")
    written.append(summary)
    return written


def write_table(table: pl.DataFrame, path: Path, table_format: str) -> Path:
    """One table as CSV (nested columns as JSON text) or Parquet."""
    if table_format == "parquet":
        table.write_parquet(path)
    else:
        import polars as pl

        nested = [name for name, dtype in table.schema.items() if dtype.is_nested()]
        flat = table.with_columns(pl.Series(name, [json.dumps(jsonable(value), ensure_ascii=False)
                                                   for value in table[name].to_list()], dtype=pl.String)
                                  for name in nested)
        flat.write_csv(path)
    return path


def write_part(table: pa.Table, location: str, name: str, table_format: str = "parquet") -> str:
    """One part of a streamed output under a local folder or an s3:// prefix; returns where it went."""
    from workbench.io.sources import filesystem_for

    filesystem, base = filesystem_for(location)
    target = f"{base.rstrip('/')}/{name}"
    if not location.startswith("s3://"):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    if table_format == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, target, filesystem=filesystem)
    else:
        import pyarrow.csv as pacsv

        with filesystem.open_output_stream(target) as stream:
            pacsv.write_csv(table, stream)
    return f"s3://{target}" if location.startswith("s3://") else target


def _is_remote(location: str) -> bool:
    return "://" in location


def check_out(location: str, overwrite: bool, workspace: Path) -> None:
    """Refuse, before a run starts, an output that is a file, cannot be written, already holds files, or holds or
    lies in the workspace (replacing it would delete the registry's files)."""
    if not location.strip():
        raise Invalid("--out is empty; pass a folder (created if needed) or an s3:// prefix")
    if not _is_remote(location):
        resolved, home = Path(location).resolve(), workspace.resolve()
        if resolved == home or home in resolved.parents or resolved in home.parents:
            raise Invalid(f"--out {location} {'lies in' if home in resolved.parents else 'holds'} the workspace "
                          f"{home}; pass a folder outside it")
    if _is_remote(location):
        from workbench.io.sources import filesystem_for

        filesystem, base = filesystem_for(location)
        from pyarrow import fs

        try:
            listed = filesystem.get_file_info(fs.FileSelector(base, allow_not_found=True, recursive=False))
        except OSError as error:
            raise Invalid(f"--out {location} cannot be listed ({str(error).splitlines()[0]}); check the bucket "
                          "and credentials") from None
        if listed and not overwrite:
            raise Invalid(f"--out {location} already holds files; pass --overwrite to replace them, or another "
                          "prefix")
        return
    folder = Path(location)
    if folder.exists() and not folder.is_dir():
        raise Invalid(f"--out {folder} is a file; pass a folder (it is created if needed)")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise Invalid(f"--out {folder} already holds files; pass --overwrite to replace them, or another folder")
    parent = folder if folder.is_dir() else folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".workbench-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise Invalid(f"--out {folder} cannot be written ({error.strerror or error}); "
                      "pass a folder you can write") from None


class OutputFolder:
    """A run's `--out`: written aside, published whole when the run succeeds, then marked with `_SUCCESS`."""

    def __init__(self, location: str, overwrite: bool, run_id: int) -> None:
        self.location, self.overwrite, self.run_id = location.rstrip("/"), overwrite, run_id
        self.remote = _is_remote(location)
        final = Path(location)
        self.staging = location if self.remote else str(final.parent / f".{final.name}.workbench-run-{run_id}")
        self.published = False
        if self.remote and overwrite:
            self._clear_remote()
        if not self.remote:
            Path(self.staging).mkdir(parents=True, exist_ok=False)

    def _clear_remote(self) -> None:
        from workbench.io.sources import filesystem_for

        filesystem, base = filesystem_for(self.location)
        filesystem.delete_dir_contents(base, missing_dir_ok=True)

    def write_result(self, result: Result, table_format: str) -> None:
        """The tables, metrics, charts and summary of a run that produced them in memory."""
        if self.remote:
            import tempfile

            with tempfile.TemporaryDirectory() as local:
                for path in write_result(result, Path(local), table_format):
                    self._upload(path, path.name)
            return
        write_result(result, Path(self.staging), table_format)

    def _upload(self, path: Path, name: str) -> None:
        from workbench.io.sources import filesystem_for

        filesystem, base = filesystem_for(self.location)
        with filesystem.open_output_stream(f"{base}/{name}") as stream:
            stream.write(path.read_bytes())

    def publish(self) -> None:
        """Move the written output into place, replacing what `--overwrite` allowed to be replaced."""
        if self.remote:
            self.published = True
            return
        final = Path(self.location)
        old = final.parent / f".{final.name}.workbench-replaced-{self.run_id}"
        if final.exists():
            os.replace(final, old)
        os.replace(self.staging, final)
        self.published = True
        shutil.rmtree(old, ignore_errors=True)

    def mark_complete(self, manifest: dict[str, Any]) -> None:
        """`_SUCCESS`: what the run wrote, written last."""
        text = json.dumps(jsonable({"run": self.run_id, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                    **manifest}), indent=1)
        if self.remote:
            from workbench.io.sources import filesystem_for

            filesystem, base = filesystem_for(self.location)
            with filesystem.open_output_stream(f"{base}/{MARKER}") as stream:
                stream.write(text.encode())
        else:
            (Path(self.location) / MARKER).write_text(text + "\n")

    def discard(self) -> None:
        """A failed run leaves no output: what it wrote aside, or published, is removed."""
        if self.remote:
            self._clear_remote()
        elif self.published:
            shutil.rmtree(self.location, ignore_errors=True)
        else:
            shutil.rmtree(self.staging, ignore_errors=True)

    def files(self) -> list[str]:
        """Every file under the published output, relative to it."""
        if self.remote:
            from pyarrow import fs

            from workbench.io.sources import filesystem_for

            filesystem, base = filesystem_for(self.location)
            infos = filesystem.get_file_info(fs.FileSelector(base, recursive=True))
            return sorted(info.path.removeprefix(base).lstrip("/") for info in infos if info.type == fs.FileType.File)
        root = Path(self.location)
        return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())
