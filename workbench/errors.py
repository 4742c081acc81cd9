"""Errors the user can fix: the CLI prints them on one line and exits with status 2."""


class WorkbenchError(Exception):
    """Bad input or a bad request: the message names the problem and the fix."""


class ArtifactTampered(WorkbenchError):
    """A registered artifact's sha256 no longer matches the registry."""
