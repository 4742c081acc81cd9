"""Errors the user can fix: the CLI prints them on one line and exits with status 2."""


class WorkbenchError(Exception):
    """Bad input or a bad request: the message names the problem and the fix."""


class ArtifactTampered(WorkbenchError):
    """A registered artifact's sha256 no longer matches the registry."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message, or its type's name when the message is empty."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def one_line(error: BaseException) -> str:
    """`Type: first line of the message`, for records and messages that must fit on one line."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"
