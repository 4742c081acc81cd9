"""A plugin whose dependency is missing: it must be reported and skipped."""

raise ImportError("No module named 'frobnicate'")
