"""A dataset's content hash, by its values (an artifact folder's is `workbench.safety.tree_sha256`)."""

from __future__ import annotations

import hashlib
import io

import polars as pl

CHUNK_ROWS = 200_000


def frame_sha256(frame: pl.DataFrame) -> str:
    """Hash the schema and the values (as CSV, or as Arrow IPC when a column is nested or binary, which CSV
    cannot hold), whatever the file format."""
    digest = hashlib.sha256()
    digest.update(repr([(name, str(dtype)) for name, dtype in frame.schema.items()]).encode())
    arrow = any(dtype.is_nested() or dtype == pl.Binary for dtype in frame.dtypes)
    for chunk in frame.iter_slices(CHUNK_ROWS):
        buffer = io.BytesIO()
        if arrow:
            chunk.write_ipc_stream(buffer, compression="uncompressed")
        else:
            chunk.write_csv(buffer, include_header=False)
        digest.update(buffer.getvalue())
    return digest.hexdigest()
