"""Where a run's data comes from: a file, a folder or glob of Parquet/CSV parts, or an object-store URI.

A `DataSource` lists its parts (name, size, modification time or ETag) without reading them, so a large
input can be registered by reference (its URI and a fingerprint of the parts) instead of being copied, and
read in batches with bounded memory. Object stores go through pyarrow's S3 filesystem; `AWS_ENDPOINT_URL`
(with the usual AWS credentials) points it at any S3-compatible server.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from workbench.errors import Invalid, NotFound
from workbench.settings import number_setting

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".txt": "csv"}
# Inputs larger than this (in MiB) are registered by reference instead of being copied into the workspace.
DEFAULT_COPY_LIMIT_MB = 256
COPY_LIMIT_ROWS = 1_000_000
MEMORY_SAMPLE_ROWS = 10_000  # rows above which a streamed or out-of-core input is referenced, whatever its size


def copy_limit_bytes() -> int:
    """WORKBENCH_COPY_LIMIT_MB, the size above which a dataset is registered by reference."""
    return int(number_setting("WORKBENCH_COPY_LIMIT_MB", DEFAULT_COPY_LIMIT_MB) * 1024 * 1024)


def is_multipart(location: str) -> bool:
    """A location that is more than one local file: an object-store URI, a glob or a folder."""
    return "://" in location or any(char in location for char in "*?[") or Path(location).is_dir()


@dataclass(frozen=True)
class Part:
    """One file of a source: where it is, how big, and when it last changed (or its ETag)."""

    path: str
    size: int
    changed: str


@dataclass
class DataSource:
    """The parts of one input, all of one format, and how to read them."""

    location: str
    format: str
    parts: list[Part]
    filesystem: Any  # pyarrow.fs.FileSystem
    delimiter: str = ","
    encoding: str = "utf-8"

    @property
    def total_bytes(self) -> int:
        return sum(part.size for part in self.parts)

    @property
    def uri(self) -> str:
        """The location as an absolute reference (local paths resolved)."""
        return self.location if "://" in self.location else str(Path(self.location).resolve())

    def fingerprint(self) -> str:
        """A hash of the parts' names, sizes and modification times (ETags on object stores): cheap, and changes
        whenever a part does."""
        digest = hashlib.sha256(self.format.encode())
        for part in sorted(self.parts, key=lambda p: p.path):
            digest.update(f"\0{part.path}\0{part.size}\0{part.changed}".encode())
        return digest.hexdigest()

    def dataset(self) -> ds.Dataset:
        import pyarrow.dataset as ds

        paths = [part.path for part in self.parts]
        if self.format == "parquet":
            return ds.dataset(paths, format="parquet", filesystem=self.filesystem)
        csv_format = ds.CsvFileFormat(parse_options=self.csv_parse_options(),
                                      read_options=self.csv_read_options())
        return ds.dataset(paths, format=csv_format, filesystem=self.filesystem)

    def csv_parse_options(self) -> Any:
        import pyarrow.csv as csv

        return csv.ParseOptions(delimiter=self.delimiter)

    def csv_read_options(self) -> Any:
        import pyarrow.csv as csv

        return csv.ReadOptions(encoding=self.encoding)

    def check_parts(self) -> None:
        """Refuse parts that are empty or whose columns differ from the first part's, naming the first such part:
        mixing them would lose data or fail half-way through a run."""
        first: list[tuple[str, str]] | None = None
        for part in self.parts:
            if part.size == 0:
                raise Invalid(f"{self._named(part)} is empty (0 bytes); remove it or write it again")
            columns = self._part_columns(part)
            if first is None:
                first = columns
            elif columns != first:
                changed = sorted(set(columns) ^ set(first))
                first_difference = (" ".join(changed[0]).strip() if changed
                                    else f"column order {[name for name, _ in columns][:5]}")
                raise Invalid(f"part {part.path} has other columns or types than {self.parts[0].path} (first "
                              f"difference: {first_difference}); give every part one schema, or point at one kind")

    def _named(self, part: Part) -> str:
        return part.path if len(self.parts) == 1 else f"part {part.path}"

    def _part_columns(self, part: Part) -> list[tuple[str, str]]:
        """A part's columns and types (Parquet, from its footer) or its header's names (CSV)."""
        try:
            if self.format == "parquet":
                import pyarrow.parquet as pq

                with self.filesystem.open_input_file(part.path) as handle:
                    schema = pq.read_schema(handle)
                return [(name, str(schema.field(name).type)) for name in schema.names]
            with self.filesystem.open_input_stream(part.path) as handle:
                head = handle.read(1 << 20)
        except (OSError, ValueError) as error:
            raise Invalid(f"{self._named(part)} is not a readable {self.format.capitalize()} file: "
                          f"{str(error).splitlines()[0]}") from None
        line = head.split(b"\n", 1)[0].decode(self.encoding, "replace").strip().strip("\ufeff")
        return [(name.strip().strip('"'), "") for name in line.split(self.delimiter)]

    def memory_bytes(self) -> int:
        """About how much memory the data takes once read: CSV's size on disk; for Parquet, whose compressed and
        dictionary-encoded pages can be a thousandth of it, the size of its first rows scaled to all of them."""
        rows = self.rows()
        if rows is None:
            return self.total_bytes
        sample = self.head(MEMORY_SAMPLE_ROWS)
        return int(sample.estimated_size() / max(sample.height, 1) * rows)

    def too_large_to_read(self) -> bool:
        """Over WORKBENCH_COPY_LIMIT_MB on disk, or Parquet of more than COPY_LIMIT_ROWS rows (compressed Parquet
        can be small on disk and many gigabytes once read)."""
        return self.total_bytes > copy_limit_bytes() or (self.rows() or 0) > COPY_LIMIT_ROWS

    def rows(self) -> int | None:
        """The number of rows, from Parquet metadata (None for CSV, which would need a full read)."""
        if self.format != "parquet":
            return None
        return sum(fragment.count_rows() for fragment in self.dataset().get_fragments())

    def batches(self, rows: int) -> Iterator[pl.DataFrame]:
        """The data in order, `rows` at a time (the last batch shorter), never all of it in memory."""
        import polars as pl
        import pyarrow as pa

        pending: list[pa.RecordBatch] = []
        held = 0
        for batch in self.dataset().to_batches(batch_size=rows, batch_readahead=2, fragment_readahead=1):
            if not batch.num_rows:
                continue
            pending.append(batch)
            held += batch.num_rows
            while held >= rows:
                table = pa.Table.from_batches(pending)
                yield pl.from_arrow(table.slice(0, rows))  # type: ignore[misc]
                rest = table.slice(rows)
                pending, held = rest.to_batches(), rest.num_rows
        if held:
            yield pl.from_arrow(pa.Table.from_batches(pending))  # type: ignore[misc]

    def head(self, rows: int = 1000) -> pl.DataFrame:
        """The first rows (for checks and previews): local Parquet and UTF-8 CSV through polars, which reads only
        them; other sources through pyarrow."""
        import polars as pl

        if "://" not in self.location and (self.format == "parquet" or self.encoding.lower().replace("-", "") in (
                "utf8", "utf8lossy")):
            return self.lazy().head(rows).collect()
        return pl.from_arrow(self.dataset().head(rows))  # type: ignore[return-value]

    def read(self) -> pl.DataFrame:
        """All of it in memory, in one chunk per column (as a file read whole is, so results match to the bit)."""
        import polars as pl

        frame = pl.from_arrow(self.dataset().to_table())
        assert isinstance(frame, pl.DataFrame)
        return frame.rechunk()

    def lazy(self) -> pl.LazyFrame:
        """A polars LazyFrame over the parts, for out-of-core aggregation with the streaming engine."""
        import polars as pl

        if "://" in self.location:
            return pl.scan_pyarrow_dataset(self.dataset())
        paths = [part.path for part in self.parts]
        if self.format == "parquet":
            return pl.scan_parquet(paths)
        if self.encoding.lower().replace("-", "") not in ("utf8", "utf8lossy"):
            return pl.scan_pyarrow_dataset(self.dataset())
        return pl.scan_csv(paths, separator=self.delimiter, infer_schema_length=10_000)


def s3_filesystem() -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem, pointed at AWS_ENDPOINT_URL when it is set (MinIO, moto, another cloud)."""
    from pyarrow import fs

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    options: dict[str, Any] = {"region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                               or "us-east-1"}
    if endpoint:
        parsed = urlparse(endpoint)
        options.update(endpoint_override=parsed.netloc or parsed.path, scheme=parsed.scheme or "https")
    return fs.S3FileSystem(**options)


def filesystem_for(location: str) -> tuple[Any, str]:
    """The filesystem and the path within it for a local path or an `s3://bucket/key` URI."""
    from pyarrow import fs

    if location.startswith("s3://"):
        return s3_filesystem(), location.removeprefix("s3://")
    if "://" in location:
        raise Invalid(f"cannot read {location}: only local paths and s3:// URIs are supported")
    return fs.LocalFileSystem(), str(Path(location).expanduser().resolve())


def open_source(location: str, delimiter: str | None = None, encoding: str | None = None) -> DataSource:
    """List the parts of `location` (file, folder, glob or s3:// URI); one format only."""
    from pyarrow import fs

    filesystem, path = filesystem_for(location)
    pattern = None
    if any(char in path for char in "*?["):
        base = path[:min(path.index(char) for char in "*?[" if char in path)].rsplit("/", 1)[0]
        path, pattern = base, path
    try:
        info = filesystem.get_file_info(path)
    except OSError as error:
        raise NotFound(f"cannot read {location}: {str(error).splitlines()[0]}") from None
    if info.type == fs.FileType.NotFound:
        raise NotFound(f"file not found: {location}")
    if info.type == fs.FileType.File:
        found = [info]
    else:
        found = [item for item in filesystem.get_file_info(fs.FileSelector(path, recursive=True))
                 if item.type == fs.FileType.File and not Path(item.path).name.startswith((".", "_"))]
        if pattern is not None:
            found = [item for item in found if fnmatch.fnmatch(item.path, pattern)]
    formats = {FORMATS.get(Path(item.path).suffix.lower()) for item in found}
    formats.discard(None)
    if not found or not formats:
        raise NotFound(f"no Parquet or CSV files in {location}; pass a file, a folder of parts or a glob "
                       "such as data/part-*.parquet")
    if len(formats) > 1:
        raise Invalid(f"{location} mixes Parquet and CSV files; point at one kind (a glob such as *.parquet)")
    kind = formats.pop()
    parts = [Part(item.path, int(item.size or 0), str(item.mtime_ns or getattr(item, "etag", "") or ""))
             for item in sorted(found, key=lambda item: item.path) if FORMATS.get(Path(item.path).suffix.lower())]
    separator = delimiter or ("\t" if parts[0].path.lower().endswith(".tsv") else ",")
    return DataSource(location, str(kind), parts, filesystem, separator, encoding or "utf-8")
