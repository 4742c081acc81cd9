"""The package page: README.md with its relative links made absolute, so that they work on the package index.

Everything else about the build is in pyproject.toml; this file only supplies the long description.
"""

import re
import tomllib
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent
SOURCE = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Source"]
IMAGE = re.compile(r"\.(png|jpe?g|gif|svg)$", re.IGNORECASE)


def absolute(match: re.Match[str]) -> str:
    """One `](target)` with a repository-relative target pointed at the repository's main branch."""
    target = match.group(1)
    if re.match(r"[a-z]+:|#", target):
        return match.group(0)
    if IMAGE.search(target):  # images straight from the raw host, which the index's image proxy can fetch
        return f"]({SOURCE.replace('//github.com/', '//raw.githubusercontent.com/')}/main/{target})"
    return f"]({SOURCE}/blob/main/{target})"


setup(long_description=re.sub(r"\]\(([^)\s]+)\)", absolute, (ROOT / "README.md").read_text()),
      long_description_content_type="text/markdown")
