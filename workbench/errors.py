"""Errors the user can fix: the CLI prints them on one line and exits with status 2.

Typed in the way MLflow's are: catch `WorkbenchError` for all of them, or one kind.
"""


class WorkbenchError(Exception):
    """Bad input or a bad request: the message names the problem and the fix."""


class Invalid(WorkbenchError):
    """A value, name, file or parameter that cannot be used as given."""


class NotFound(WorkbenchError):
    """A dataset, model, alias, run or file that does not exist."""


class Conflict(WorkbenchError):
    """A request that clashes with what is already there (a reserved alias, a busy registry)."""


class ArtifactTampered(WorkbenchError):
    """A registered artifact's sha256 no longer matches the registry, or the artifact is missing."""


class UnsafeArtifact(WorkbenchError):
    """An artifact holds a file that could run code when loaded (a pickle): it is never loaded."""


class Cancelled(WorkbenchError):
    """The run was cancelled on request."""


def first_line(error: BaseException | str) -> str:
    """The first line of an error's message (or of a text), or its type's name when the message is empty."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def one_line(error: BaseException) -> str:
    """`Type: first line of the message`, for records and messages that must fit on one line."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


class Forbidden(WorkbenchError):
    """The user may not do this (another user's run or model); an admin may."""
