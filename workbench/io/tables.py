"""Reading data files (CSV, Parquet, JSON lines) with one-line errors that say how to fix them."""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath

import polars as pl

from workbench.errors import WorkbenchError, first_line

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
# Files up to this size are decoded and checked row by row before polars parses them.
CHECKED_BYTES = 256 * 1024 * 1024
HEADER_LIMIT = 16 * 1024 * 1024  # a CSV's header line must end within this
# Long texts (documents for extraction) are data, not an error: no limit on a field's size.
csv.field_size_limit(sys.maxsize)


def read_table(path: str | Path, encoding: str = "utf-8", delimiter: str | None = None) -> pl.DataFrame:
    """Read a CSV, Parquet or JSON-lines file into a polars DataFrame."""
    path = Path(path)
    if delimiter is not None and len(delimiter) != 1:
        raise WorkbenchError(f"--delimiter {delimiter!r} must be one character, e.g. ',' or ';' (use $'\\t' for tab)")
    if not path.exists():
        raise WorkbenchError(f"file not found: {path}")
    if path.is_dir():
        raise WorkbenchError(f"{path} is a folder; pass a CSV, Parquet or JSON-lines file")
    if path.stat().st_size == 0:
        raise WorkbenchError(f"{path} is empty; pass a file with a header and at least one row")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        frame = _read_csv(path, encoding, delimiter or ("\t" if suffix == ".tsv" else None))
    elif suffix in PARQUET_SUFFIXES:
        frame = _parse(path, "Parquet", lambda: pl.read_parquet(path))
    elif suffix in JSON_SUFFIXES:
        frame = _parse(path, "JSON lines", lambda: _read_json(path))
    else:
        supported = ", ".join(sorted(CSV_SUFFIXES | PARQUET_SUFFIXES | JSON_SUFFIXES))
        raise WorkbenchError(f"cannot read {path}: unknown file type {suffix!r}; use one of {supported}")
    if frame.height == 0:
        raise WorkbenchError(f"{path} has no rows; pass a file with at least one row of data")
    return frame.rechunk()  # one chunk per column, however it was read: sums come out the same to the bit


def _read_json(path: Path) -> pl.DataFrame:
    if path.suffix.lower() == ".json" and path.read_bytes().lstrip()[:1] == b"[":
        return pl.read_json(path)
    return pl.read_ndjson(path)


def _parse(path: Path, kind: str, read: Callable[[], pl.DataFrame]) -> pl.DataFrame:
    try:
        return read()
    except (pl.exceptions.PolarsError, OSError, ValueError) as error:
        raise WorkbenchError(f"{path} is not a readable {kind} file: {first_line(error)}") from error


def _read_csv(path: Path, encoding: str, delimiter: str | None) -> pl.DataFrame:
    if path.stat().st_size > CHECKED_BYTES:
        return _read_large_csv(path, encoding, delimiter)
    text = _decode(path, encoding)
    if len(text) > HEADER_LIMIT and "\n" not in text[:HEADER_LIMIT]:
        raise WorkbenchError(f"{path} has no line break in its first {HEADER_LIMIT // 1024 // 1024} MiB: not a CSV "
                             "with a header row (is it one long line, or another format?)")
    if not text.strip():
        raise WorkbenchError(f"{path} is empty; pass a file with a header and at least one row")
    separator = delimiter or _sniff_delimiter(text[:64 * 1024])
    _check_ragged(path, text, separator)
    data = io.BytesIO(text.encode("utf-8"))
    return _parse(path, "CSV", lambda: pl.read_csv(data, separator=separator, infer_schema_length=None))


def _read_large_csv(path: Path, encoding: str, delimiter: str | None) -> pl.DataFrame:
    """A CSV too large to check row by row: its header checked, then read by pyarrow in its encoding."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with path.open("rb") as handle:
        head = handle.read(HEADER_LIMIT + 1)
    if b"\n" not in head:
        raise WorkbenchError(f"{path} has no line break in its first {HEADER_LIMIT // 1024 // 1024} MiB: not a CSV "
                             "with a header row (is it one long line, or another format?)")
    try:
        sample = head.decode(encoding, "replace")
    except LookupError:
        raise WorkbenchError(f"unknown encoding {encoding!r}; try utf-8 or latin-1") from None
    separator = delimiter or _sniff_delimiter(sample[:64 * 1024])

    def read() -> pl.DataFrame:
        table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(encoding=encoding),
                               parse_options=pacsv.ParseOptions(delimiter=separator))
        return pl.from_arrow(table)  # type: ignore[return-value]

    try:
        return read()
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise WorkbenchError(f"{path} is not a readable CSV file in {encoding}: {first_line(error)}; pass "
                             "--encoding with the file's encoding, or --delimiter") from None


def _decode(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise WorkbenchError(
            f"{path} is not valid {encoding}: byte 0x{raw[error.start]:02x} on line {line}; "
            "pass --encoding with the file's encoding (e.g. latin-1) or re-save it as UTF-8"
        ) from None
    except LookupError:
        raise WorkbenchError(f"unknown encoding {encoding!r}; try utf-8 or latin-1") from None
    return text.removeprefix("\ufeff")


def _sniff_delimiter(sample: str) -> str:
    """The header's only candidate delimiter, else what csv.Sniffer finds in the first lines."""
    candidates = ",;\t|"
    header = sample.split("\n", 1)[0]
    present = [char for char in candidates if char in header]
    if len(present) == 1:
        return present[0]
    try:
        return csv.Sniffer().sniff("\n".join(sample.splitlines()[:20]), delimiters=candidates).delimiter
    except csv.Error:
        return ","


def _check_ragged(path: Path, text: str, separator: str) -> None:
    reader = csv.reader(io.StringIO(text), delimiter=separator)
    header = next(reader)
    for row in reader:
        if row and len(row) != len(header):
            raise WorkbenchError(
                f"{path} line {reader.line_num} has {len(row)} fields but the header has "
                f"{len(header)}; fix that row or quote values that contain {separator!r}"
            )


def text_values(data: pl.DataFrame, column: str) -> list[str]:
    """A column of texts as a list of non-empty strings, or a one-line error naming the bad rows."""
    series = data[column]
    if series.dtype not in (pl.String, pl.Categorical):
        raise WorkbenchError(f"text column {column!r} holds {series.dtype}, not text; pass the column with the texts")
    texts = series.cast(pl.String).to_list()
    empty = [row for row, text in enumerate(texts) if text is None or not text.strip()]
    if empty:
        shown = ", ".join(str(row) for row in empty[:5]) + (", ..." if len(empty) > 5 else "")
        raise WorkbenchError(f"text column {column!r} has {len(empty)} empty or missing texts (rows {shown}); "
                             "drop or fill those rows")
    return texts


def safe_file_name(name: str) -> str:
    """A file name a client sent, reduced to a safe base name: no folders, no '..', no odd characters."""
    base = PureWindowsPath(PurePosixPath(name).name).name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip(".-")[:128] or "upload"
