"""Files of the registry: staging, atomic moves into place, sha256 checks, and refusing pickles.

A registration copies its file or folder into `staging/`, hashes it, then moves it into place inside the
transaction that inserts its row (`Moves`); if the transaction fails, the moves are undone.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

from workbench.safety import check_folder
from workbench.workspace import Workspace

STALE_STAGING_SECONDS = 24 * 3600


def remove(path: Path) -> None:
    """Delete a file or folder if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class ArtifactStore:
    """Staging and moving files in the workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def stage_path(self, suffix: str = "") -> Path:
        """A fresh name in staging (nothing is created)."""
        return self.workspace.staging_dir / f"{uuid.uuid4().hex}{suffix}"

    def stage_folder(self, source: Path) -> Path:
        """A copy of `source` in staging, refused if it holds a pickle."""
        check_folder(source, f"model folder {source.name!r}")
        staged = self.stage_path()
        shutil.copytree(source, staged)
        return staged

    def remove_stale_staging(self) -> None:
        """Delete what registrations killed mid-write left in staging (never visible as artifacts)."""
        cutoff = time.time() - STALE_STAGING_SECONDS
        if not self.workspace.staging_dir.is_dir():
            return
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
