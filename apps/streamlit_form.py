"""Streamlit widgets generated from a task's `Params`, and a progress reporter that draws Streamlit bars."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from workbench.params import ParamInfo, describe_params
from workbench.progress import ProgressBar, ProgressReporter
from workbench.task import Task

NONE = "(none)"


def param_inputs(task: Task, columns: list[str], defaults: dict[str, Any]) -> dict[str, Any]:
    """One widget per parameter; returns the values the user set (empty optional ones left out)."""
    values = {}
    for info in describe_params(task.Params):
        default = defaults.get(info.name, info.default)
        value = _widget(info, columns, default, key=f"{task.name}:{info.name}")
        if not (value is None or value == [] or (value == "" and info.nullable)):
            values[info.name] = value
    return values


def _widget(info: ParamInfo, columns: list[str], default: Any, key: str) -> Any:
    label = info.name + ("" if not info.required else " *")
    help_text = info.description or None
    if info.column_role is not None:
        if info.kind == "list":
            chosen = [c for c in (default or []) if c in columns]
            return st.multiselect(label, columns, default=chosen, key=key, help=help_text)
        options = ([NONE] if info.nullable else []) + columns
        guess = default if default in columns else _guess_column(info, columns)
        index = options.index(guess) if guess in options else 0
        choice = st.selectbox(label, options, index=index, key=key, help=help_text)
        return None if choice == NONE else choice
    if info.kind == "choice":
        index = info.options.index(default) if default in info.options else 0
        return st.selectbox(label, info.options, index=index, key=key, help=help_text)
    if info.kind == "bool":
        return st.toggle(label, value=bool(default), key=key, help=help_text)
    if info.kind in ("int", "float"):
        cast = int if info.kind == "int" else float
        bounds = {name: cast(value) for name, value in (("min_value", info.minimum), ("max_value", info.maximum))
                  if value is not None}
        return st.number_input(label, value=None if default is None else cast(default), step=cast(1) if
                               info.kind == "int" else None, key=key, help=help_text, **bounds)
    if info.kind == "mapping":
        text = st.text_area(label, value=json.dumps(default) if default else "", key=key, help=help_text,
                            placeholder='{"key": "value"}', height=80)
        return text.strip() or None
    if info.kind == "list":
        text = st.text_input(label, value=", ".join(map(str, default or [])), key=key, help=help_text)
        return text.strip() or None
    return st.text_input(label, value="" if default is None else str(default), key=key, help=help_text)


def _guess_column(info: ParamInfo, columns: list[str]) -> str | None:
    """A column named like the parameter or its role, else none (optional) or the first column."""
    for name in columns:
        if name.lower() in (info.name.lower(), (info.column_role or "").lower()):
            return name
    return NONE if info.nullable else (columns[0] if columns else None)


class StreamlitProgress(ProgressReporter):
    """Progress bars drawn live in a Streamlit container while the task runs."""

    def __init__(self, container) -> None:
        self.container = container

    @contextmanager
    def bar(self, description: str, total: int | None = None) -> Iterator[ProgressBar]:
        shown = self.container.progress(0.0, text=description)
        bar = _StreamlitBar(shown, description, total)
        yield bar
        shown.progress(1.0, text=f"{description}: done ({bar.done:,})")


class _StreamlitBar:
    def __init__(self, shown, description: str, total: int | None) -> None:
        self.shown, self.description, self.total, self.done, self.status = shown, description, total, 0, ""

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        self._draw()

    def note(self, text: str) -> None:
        self.status = f" ({text})"
        self._draw()

    def _draw(self) -> None:
        share = min(self.done / self.total, 1.0) if self.total else 0.0
        of = f" / {self.total:,}" if self.total else ""
        self.shown.progress(share, text=f"{self.description}: {self.done:,}{of}{self.status}")
