"""`python -m workbench.execution.worker`: run the workspace's queued runs in one worker slot, then exit."""

from __future__ import annotations

from workbench.execution.jobs import drain
from workbench.registry import Registry


def main() -> None:
    drain(Registry.open())


if __name__ == "__main__":
    main()
