"""Streamlit widgets generated from a task's `Params`; the values survive page changes.

Column parameters offer only columns of the right kind and default to a column only when its name says
so (else they ask); numbers are not clamped by the widget: out-of-range values reach validation, which says
what is wrong next to the form.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from workbench.params import ParamInfo, describe_params
from workbench.presentation.numbers import number
from workbench.sdk.columns import columns_of_kind
from workbench.sdk.task import Task
from workbench_apps.streamlit_shared import KEEP

NONE = "(none)"
MAX_LEVELS = 200  # values of a column offered as choices


def param_inputs(task: Task[Any], data: pl.DataFrame, defaults: dict[str, Any],
                 applying: bool = False) -> dict[str, Any]:
    """One widget per parameter, rare ones under "Advanced"; returns the values set (empty optional ones left out).
    Applying a model, only what applying uses is asked for: the columns it reads and the task's `apply_params`."""
    infos = [info for info in describe_params(task.Params) if not applying or (
        info.column_role is not None and not info.fit_only) or info.name in task.apply_params]
    values: dict[str, Any] = {}
    common = [info for info in infos if not info.advanced]
    rare = [info for info in infos if info.advanced]
    for info in common:
        _collect(values, info, data, defaults, task.name)
    if rare:
        with st.expander("Advanced"):
            for info in rare:
                _collect(values, info, data, defaults, task.name)
    return values


def _collect(values: dict[str, Any], info: ParamInfo, data: pl.DataFrame, defaults: dict[str, Any],
             task: str) -> None:
    default, key = defaults.get(info.name, info.default), f"{KEEP}{task}:{info.name}"
    column = values.get(info.values_of or info.keys_of or "")
    if isinstance(column, str) and column in data.columns:  # offered from the data: no typing of labels
        levels = [str(level) for level in data[column].drop_nulls().unique().sort().head(MAX_LEVELS).to_list()]
        value = (_choice_of(info, levels, default, key) if info.values_of
                 else _table_of(info, [level for level in levels if level != values.get(info.skip_key or "")],
                                default, key))
    else:
        value = _widget(info, data, default, key=key)
    if not (value is None or value == [] or (value == "" and info.nullable)):
        values[info.name] = value


def _label(info: ParamInfo) -> str:
    """The name, `*` when required, and the bounds as they are enforced (`> 0` where 0 itself is refused)."""
    bounds = " ".join(part for part in (
        f"{'>' if info.exclusive_minimum else '≥'} {number(info.minimum)}" if info.minimum is not None else "",
        f"{'<' if info.exclusive_maximum else '≤'} {number(info.maximum)}" if info.maximum is not None else "")
        if part)
    return info.name + (" *" if info.required else "") + (f" ({bounds})" if bounds else "")


def initial(key: str, **defaults: Any) -> dict[str, Any]:
    """A widget's default, unless its kept state (or a prefilled value) already gives it one."""
    return {} if key in st.session_state else defaults


def _widget(info: ParamInfo, data: pl.DataFrame, default: Any, key: str) -> Any:
    label, help_text = _label(info), info.description or None
    if info.column_role is not None:
        return _column_widget(info, data, default, label, help_text, key)
    if info.kind == "choice" and info.options is not None:
        index = info.options.index(default) if default in info.options else 0
        return st.selectbox(label, info.options, key=key, help=help_text, **initial(key, index=index))
    if info.kind == "bool":
        return st.toggle(label, key=key, help=help_text, **initial(key, value=bool(default)))
    if info.kind in ("int", "float"):
        cast = int if info.kind == "int" else float
        return st.number_input(label, key=key, help=help_text, step=1 if info.kind == "int" else None,
                               format=None if info.kind == "int" else "%g",
                               **initial(key, value=None if default is None else cast(default)))
    if info.kind == "mapping":
        return _table_of(info, list((default or {}).keys()), default, key, free_keys=True)
    if info.kind == "list":
        text = st.text_input(label, key=key, help=help_text, **initial(key, value=", ".join(map(str, default or []))))
        return text.strip() or None
    return st.text_input(label, key=key, help=help_text, **initial(key, value="" if default is None else str(default)))


def _column_widget(info: ParamInfo, data: pl.DataFrame, default: Any, label: str, help_text: str | None,
                   key: str) -> Any:
    """A choice among the columns of the right kind; no guess unless a column is named like the parameter."""
    columns = columns_of_kind(data, info.column_kind)
    kept = st.session_state.get(key)
    if info.kind == "list":
        if kept is not None and not set(kept) <= set(columns):
            del st.session_state[key]  # kept from other data: start again
        chosen = [c for c in (default or []) if c in columns]
        return st.multiselect(label, columns, key=key, help=help_text, **initial(key, default=chosen))
    options = ([NONE] if info.nullable else []) + columns
    if kept is not None and kept not in options:
        del st.session_state[key]
    guess = default if default in columns else named_like(info, columns)
    if guess is None and not info.nullable:
        return st.selectbox(label, columns, key=key, help=help_text, placeholder="Choose a column",
                            **initial(key, index=None))
    choice = st.selectbox(label, options, key=key, help=help_text,
                          **initial(key, index=options.index(guess) if guess in options else 0))
    return None if choice == NONE else choice


def _choice_of(info: ParamInfo, levels: list[str], default: Any, key: str) -> Any:
    """One of the values of the column another parameter names (the control arm among the treatment's values)."""
    if st.session_state.get(key) not in levels:
        st.session_state.pop(key, None)
    index = levels.index(default) if default in levels else 0
    return st.selectbox(_label(info), levels, key=key, help=info.description or None, **initial(key, index=index))


def _table_of(info: ParamInfo, keys: list[str], default: Any, key: str, free_keys: bool = False) -> Any:
    """A mapping as a two-column table: one row per value of a column (the cost of each arm), or free rows. The
    table starts from the rows kept when the form was last drawn, else from the default."""
    given = default if isinstance(default, dict) else {}
    editor, base = key.replace(KEEP, "editor:"), f"{key}:base"
    kept = st.session_state.get(f"{key}:rows")
    start = st.session_state.get(base)
    if editor not in st.session_state or not isinstance(start, list) or (
            not free_keys and [row["key"] for row in start] != keys):
        start = kept if isinstance(kept, list) and (free_keys or [row["key"] for row in kept] == keys) else [
            {"key": name, "value": given.get(name)} for name in keys]
        st.session_state[base] = start
    numeric = info.mapping_values in ("number", "integer")
    frame = pl.DataFrame(start, schema={"key": pl.String, "value": pl.Float64 if numeric else pl.String})
    st.markdown(f"**{_label(info)}**", help=info.description or None)
    edited = st.data_editor(frame.to_pandas(), key=editor, hide_index=True, width="stretch",
                            num_rows="dynamic" if free_keys else "fixed",
                            column_config={"key": st.column_config.TextColumn(info.keys_of or "key",
                                                                              disabled=not free_keys),
                                           "value": st.column_config.NumberColumn(info.name) if numeric
                                           else st.column_config.TextColumn(info.name)})
    records = [row for row in edited.to_dict("records") if row.get("key") and row.get("value") == row.get("value")
               and row.get("value") not in (None, "")]
    st.session_state[f"{key}:rows"] = edited.to_dict("records")
    return {str(row["key"]): row["value"] for row in records} or None


def named_like(info: ParamInfo, columns: list[str]) -> str | None:
    """The column named like the parameter or its role, if any."""
    wanted = {info.name.lower(), (info.column_role or "").lower()}
    return next((name for name in columns if name.lower() in wanted), None)


def widget_values(task: Task[Any], params: dict[str, Any]) -> dict[str, Any]:
    """The kept widget state that shows `params` in the task's form (to re-run a past run)."""
    state = {}
    for info in describe_params(task.Params):
        if info.name not in params:
            continue
        value = params[info.name]
        if info.column_role is not None and info.kind != "list":
            shown: Any = NONE if value is None else value
        elif info.kind == "mapping":
            state[f"{KEEP}{task.name}:{info.name}:rows"] = [{"key": key, "value": item}
                                                            for key, item in (value or {}).items()]
            continue
        elif info.kind == "list":
            shown = list(value or []) if info.column_role is not None else ", ".join(map(str, value or []))
        elif info.kind in ("choice", "bool", "int", "float"):
            shown = value
        else:
            shown = "" if value is None else str(value)
        state[f"{KEEP}{task.name}:{info.name}"] = shown
    return state
