"""Whether a folder or file is safe to load: content hashes, and refusing pickles and symbolic links.

Everything a task may load (a registered artifact, a model folder a parameter names) passes `check_folder`
first: no file a careless loader could unpickle (by name, by content, inside zips and compressed streams, any
pickle protocol), and no symbolic link (the bytes hashed must be the bytes read). `verified_copy` copies an
artifact while hashing the copy, so what a run reads is exactly what was checked.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import os
import pickletools
import shutil
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from workbench.errors import ArtifactTampered, UnsafeArtifact

# Files whose usual format is a pickle (or a zip of pickles): refused by name whatever they hold.
PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".bin"})
# Opcodes with which a pickle imports or calls something: what makes one dangerous.
_CALLING_OPCODES = frozenset({"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX"})
# Compressed streams (joblib compresses its pickles): the first bytes are decompressed and looked at.
_DECOMPRESSORS: dict[bytes, Callable[[], Any]] = {
    b"\x1f\x8b": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), b"BZh": bz2.BZ2Decompressor,
    b"\xfd7zXZ": lzma.LZMADecompressor, b"\x78\x9c": zlib.decompressobj, b"\x78\x01": zlib.decompressobj,
    b"\x78\xda": zlib.decompressobj,
}
HEAD_BYTES = 64 * 1024


def looks_like_pickle(head: bytes) -> bool:
    """A pickle of any protocol: 2 to 5 start with PROTO; 0 and 1 are a stream of opcodes that imports or
    calls something and parses cleanly (text and other formats stop parsing within a few bytes)."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    calls = False
    try:
        for opcode, _argument, _position in pickletools.genops(io.BytesIO(head)):
            calls = calls or opcode.name in _CALLING_OPCODES
            if opcode.name == "STOP":
                return calls
    except Exception:  # noqa: BLE001 - not a pickle stream, or one cut off by the head
        return False
    return calls


def _unsafe_bytes(head: bytes) -> bool:
    if looks_like_pickle(head):
        return True
    for magic, decompressor in _DECOMPRESSORS.items():
        if head.startswith(magic):
            try:
                return looks_like_pickle(decompressor().decompress(head)[:HEAD_BYTES])
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
                    head = handle.read(HEAD_BYTES)
                if _unsafe_bytes(head) or _object_array(head):
                    return True
    except zipfile.BadZipFile:
        return True
    return False


def walk(folder: Path) -> Iterator[tuple[Path, bool]]:
    """Every entry below `folder`, sorted, as (path, is_link), never following a link."""
    for root, directories, files in os.walk(folder, followlinks=False):
        directories.sort()
        base = Path(root)
        for name in sorted(directories):
            if (base / name).is_symlink():
                yield base / name, True
        for name in sorted(files):
            path = base / name
            yield path, path.is_symlink() or not stat.S_ISREG(path.lstat().st_mode)


def unsafe_files(folder: Path) -> list[Path]:
    """Files in `folder` a careless loader could unpickle (by name or content), and links or special files."""
    found = []
    for path, odd in walk(folder):
        found += [path] if odd else _unsafe_file(path)
    return found


def _unsafe_file(path: Path) -> list[Path]:
    """`[path]` when the file is a link, special, or could be unpickled; else `[]`."""
    if path.is_symlink() or not path.is_file() or path.suffix.lower() in PICKLE_SUFFIXES:
        return [path]
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    zipped = head.startswith(b"PK\x03\x04")
    return [path] if _unsafe_bytes(head) or _object_array(head) or (zipped and _unsafe_zip(path)) else []


def check_folder(folder: Path, what: str) -> None:
    """Raise `UnsafeArtifact` when `folder` (or a single file) holds a pickle or a link; nothing in it is ever
    loaded then."""
    found = unsafe_files(folder) if folder.is_dir() and not folder.is_symlink() else _unsafe_file(folder)
    if not found:
        return
    base = folder if folder.is_dir() else folder.parent
    names = ", ".join(path.relative_to(base).as_posix() for path in found[:3])
    if any(path.is_symlink() for path in found):
        raise UnsafeArtifact(f"{what} holds {names}, a symbolic link (its target is neither hashed nor checked); "
                             "it is refused: copy the real files into the folder")
    raise UnsafeArtifact(f"{what} holds {names}, a pickle that could run code when loaded; it is refused. "
                         "Artifacts are JSON, safetensors, skops or a library's own non-executable format: "
                         "retrain and register the model again")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(folder: Path) -> str:
    """Hash every file's relative path and contents, in sorted order; a link is refused, never followed."""
    digest = hashlib.sha256()
    for path, odd in sorted(walk(folder)):
        if odd:
            raise UnsafeArtifact(f"{path} is a symbolic link or special file inside an artifact; it is refused")
        if path.is_dir():
            continue
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def verify(folder: Path, sha256: str, what: str) -> None:
    """Refuse an artifact that is missing, changed since it was registered, or holds a pickle or a link."""
    if not folder.is_dir():
        raise ArtifactTampered(f"artifact of {what} is missing at {folder}")
    found = tree_sha256(folder)
    if found != sha256:
        raise ArtifactTampered(f"artifact of {what} fails its sha256 check (registered {sha256[:12]}…, found "
                               f"{found[:12]}…): it changed after registration; register the model again")
    check_folder(folder, f"the artifact of {what}")


def verified_copy(folder: Path, sha256: str, target: Path, what: str) -> Path:
    """Copy `folder` to `target` (read-only), then check the copy: its sha256 must be `sha256` and it must hold no
    pickle or link. What a run reads is the copy, so a file swapped in the original afterwards is never read."""
    if not folder.is_dir():
        raise ArtifactTampered(f"artifact of {what} is missing at {folder}")
    shutil.copytree(folder, target, symlinks=True)
    try:
        verify(target, sha256, what)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    for path, _ in walk(target):
        path.chmod(path.stat().st_mode & ~0o222)
    return target
