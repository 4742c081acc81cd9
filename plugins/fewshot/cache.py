"""An on-disk cache of sentence embeddings keyed by (model key, text), in one SQLite file."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np

_CHUNK = 500


class EmbeddingCache:
    """Vectors stored as float32 bytes; a model key names the encoder and everything that changes its output."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (model TEXT, text_sha BLOB, vector BLOB, "
                         "PRIMARY KEY (model, text_sha)) WITHOUT ROWID")

    def get(self, model: str, texts: list[str]) -> dict[int, np.ndarray]:
        """Cached vectors by position in `texts`."""
        keys = [_sha(text) for text in texts]
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = list(dict.fromkeys(keys[start:start + _CHUNK]))
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT text_sha, vector FROM embeddings WHERE model = ? AND text_sha IN ({marks})", [model, *chunk])
            found.update((sha, np.frombuffer(vector, dtype=np.float32)) for sha, vector in rows)
        return {position: found[key] for position, key in enumerate(keys) if key in found}

    def put(self, model: str, texts: list[str], vectors: np.ndarray) -> None:
        rows = [(model, _sha(text), np.asarray(vector, dtype=np.float32).tobytes())
                for text, vector in zip(texts, vectors, strict=True)]
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()


def _sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()
