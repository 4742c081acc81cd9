"""`python -m workbench.worker`: run the workspace's queued runs one after another, then exit."""

from __future__ import annotations

from workbench.jobs import drain
from workbench.registry import Registry


def main() -> None:
    drain(Registry())


if __name__ == "__main__":
    main()
