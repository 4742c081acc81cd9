"""Pipelines: steps chained through the registry (`spec` reads and checks a file, `run` runs it)."""
