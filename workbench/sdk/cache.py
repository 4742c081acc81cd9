"""A key-value cache on disk (one SQLite file) for results worth not recomputing: embeddings, teacher answers."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

_CHUNK = 500


class DiskCache:
    """Values (bytes) stored by namespace and key; keys are hashed, so any text can be one."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS cache (namespace TEXT, key BLOB, value BLOB, "
                         "PRIMARY KEY (namespace, key)) WITHOUT ROWID")

    def get(self, namespace: str, keys: list[str]) -> dict[int, bytes]:
        """Cached values by position in `keys`."""
        hashed = [_sha(key) for key in keys]
        found: dict[bytes, bytes] = {}
        for start in range(0, len(hashed), _CHUNK):
            chunk = list(dict.fromkeys(hashed[start:start + _CHUNK]))
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key, value FROM cache WHERE namespace = ? AND key IN ({marks})",
                                    [namespace, *chunk])
            found.update(rows)
        return {position: found[key] for position, key in enumerate(hashed) if key in found}

    def put(self, namespace: str, items: list[tuple[str, bytes]]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO cache VALUES (?, ?, ?)",
                                 [(namespace, _sha(key), value) for key, value in items])

    def close(self) -> None:
        self._db.close()


class NamespacedCache:
    """One namespace of a `DiskCache`: what `RunContext.cache(name)` hands a task."""

    def __init__(self, cache: DiskCache, namespace: str) -> None:
        self._cache, self.namespace = cache, namespace

    def get(self, keys: list[str]) -> dict[int, bytes]:
        """Cached values by position in `keys`."""
        return self._cache.get(self.namespace, keys)

    def put(self, items: list[tuple[str, bytes]]) -> None:
        self._cache.put(self.namespace, items)


def _sha(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
