"""Files of the registry: staging, atomic moves into place, sha256 checks, and refusing pickles.

A registration copies its file or folder into `staging/`, hashes it, then moves it into place inside the
transaction that inserts its row (`Moves`); if the transaction fails, the moves are undone.
"""

from __future__ import annotations

import bz2
import lzma
import os
import shutil
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.errors import ArtifactTampered, UnsafeArtifact
from workbench.registry.hashing import tree_sha256
from workbench.workspace import Workspace

STALE_STAGING_SECONDS = 24 * 3600
# Files whose usual format is a pickle (or a zip of pickles): refused by name whatever they hold.
PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".bin"})
# Compressed streams (joblib compresses its pickles): the first bytes are decompressed and looked at.
_DECOMPRESSORS: dict[bytes, Callable[[], Any]] = {
    b"\x1f\x8b": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), b"BZh": bz2.BZ2Decompressor,
    b"\xfd7zXZ": lzma.LZMADecompressor, b"\x78\x9c": zlib.decompressobj, b"\x78\x01": zlib.decompressobj,
    b"\x78\xda": zlib.decompressobj,
}


def remove(path: Path) -> None:
    """Delete a file or folder if it is there."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def looks_like_pickle(head: bytes) -> bool:
    """Pickle protocols 2 to 5 start with PROTO (0x80) and the protocol number."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _unsafe_bytes(head: bytes) -> bool:
    if looks_like_pickle(head):
        return True
    for magic, decompressor in _DECOMPRESSORS.items():
        if head.startswith(magic):
            try:
                return looks_like_pickle(decompressor().decompress(head)[:2])
            except Exception:  # noqa: BLE001 - a corrupt stream is no format any task writes
                return True
    return False


def _object_array(head: bytes) -> bool:
    """A NumPy .npy header for an array of Python objects (stored as pickles)."""
    return head.startswith(b"\x93NUMPY") and b"'|O'" in head


def _unsafe_zip(path: Path) -> bool:
    """A zip (torch.save, skops) holding a pickle, or a NumPy array of Python objects."""
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if Path(member.filename).suffix.lower() in (".pkl", ".pickle") or member.filename.endswith("/data.pkl"):
                    return True
                with archive.open(member) as handle:
                    head = handle.read(256)
                if _unsafe_bytes(head) or _object_array(head):
                    return True
    except zipfile.BadZipFile:
        return True
    return False


def unsafe_files(folder: Path) -> list[Path]:
    """Files in `folder` that a careless loader could unpickle, by name or by content."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() in PICKLE_SUFFIXES:
            found.append(path)
            continue
        with path.open("rb") as handle:
            head = handle.read(4096)
        zipped = head.startswith(b"PK\x03\x04")
        if _unsafe_bytes(head) or _object_array(head) or (zipped and _unsafe_zip(path)):
            found.append(path)
    return found


def refuse_unsafe(folder: Path, what: str) -> None:
    """Raise `UnsafeArtifact` when `folder` holds a pickle; nothing in it is ever loaded then."""
    found = unsafe_files(folder)
    if found:
        names = ", ".join(path.relative_to(folder).as_posix() for path in found[:3])
        raise UnsafeArtifact(f"{what} holds {names}, a pickle that could run code when loaded; it is refused. "
                             "Artifacts are JSON, safetensors, skops or a library's own non-executable format: "
                             "retrain and register the model again")


def verify(folder: Path, sha256: str, what: str) -> None:
    """Refuse an artifact that is missing, changed since it was registered, or holds a pickle."""
    if not folder.is_dir():
        raise ArtifactTampered(f"artifact of {what} is missing at {folder}")
    found = tree_sha256(folder)
    if found != sha256:
        raise ArtifactTampered(f"artifact of {what} fails its sha256 check (registered {sha256[:12]}…, found "
                               f"{found[:12]}…): it changed after registration; register the model again")
    refuse_unsafe(folder, f"the artifact of {what}")


class ArtifactStore:
    """Staging and moving files in the workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        workspace.staging_dir.mkdir(parents=True, exist_ok=True)
        workspace.scratch_dir.mkdir(parents=True, exist_ok=True)

    def stage_path(self, suffix: str = "") -> Path:
        """A fresh name in staging (nothing is created)."""
        return self.workspace.staging_dir / f"{uuid.uuid4().hex}{suffix}"

    def stage_folder(self, source: Path) -> Path:
        """A copy of `source` in staging, refused if it holds a pickle."""
        refuse_unsafe(source, f"model folder {source.name!r}")
        staged = self.stage_path()
        shutil.copytree(source, staged)
        return staged

    def remove_stale_staging(self) -> None:
        """Delete what registrations killed mid-write left in staging (never visible as artifacts)."""
        cutoff = time.time() - STALE_STAGING_SECONDS
        for entry in self.workspace.staging_dir.iterdir():
            try:
                stale = entry.stat().st_mtime < cutoff
            except FileNotFoundError:  # another process finished with it just now
                continue
            if stale:
                remove(entry)


class Moves:
    """Moves from staging into place, undone (moved back) when the transaction around them fails."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.done: list[tuple[Path, Path]] = []

    def move(self, staged: Path, relative: str) -> None:
        final = self.workspace.resolve(relative)
        remove(final)  # left by a process killed between its move and its commit
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)
        self.done.append((staged, final))

    def undo(self) -> None:
        for staged, final in reversed(self.done):
            if final.exists() and not staged.exists():
                os.replace(final, staged)
        self.done.clear()
