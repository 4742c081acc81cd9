"""Content hashes: a dataset's by its values, an artifact folder's by its files."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import polars as pl

CHUNK_ROWS = 200_000


def frame_sha256(frame: pl.DataFrame) -> str:
    """Hash the schema and the values (as CSV, or JSON lines when nested), whatever the file format."""
    digest = hashlib.sha256()
    digest.update(repr([(name, str(dtype)) for name, dtype in frame.schema.items()]).encode())
    nested = any(dtype.is_nested() for dtype in frame.dtypes)
    for chunk in frame.iter_slices(CHUNK_ROWS):
        buffer = io.BytesIO()
        if nested:
            chunk.write_ndjson(buffer)
        else:
            chunk.write_csv(buffer, include_header=False)
        digest.update(buffer.getvalue())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(folder: Path) -> str:
    """Hash every file's relative path and contents, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()
