"""Markdown that carries data values (summaries, errors) shown safely: no link, image or raw HTML a value holds
is ever rendered or fetched."""

from __future__ import annotations

import re

# Characters that start a link, an image, an autolink or raw HTML, and URL schemes (bare URLs are autolinked).
_ACTIVE = re.compile(r"([\[\]<>!])")
_SCHEME = re.compile(r"\b(https?|ftp|file|mailto|data|javascript):", re.IGNORECASE)


def safe_markdown(text: str) -> str:
    """`text` with link, image and HTML syntax escaped (shown as written) and URLs no longer autolinked; emphasis,
    code and lists still render."""
    return _SCHEME.sub(lambda match: f"{match.group(1)}\\:", _ACTIVE.sub(r"\\\1", text))
