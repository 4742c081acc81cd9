"""Turning `--param key=value` strings into a task's pydantic `Params`, and describing them."""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from workbench.errors import Invalid, WorkbenchError


@dataclass
class ParamInfo:
    """One parameter as the CLI help and the app forms show it."""

    name: str
    type: str
    default: Any
    required: bool
    description: str
    column_role: str | None
    kind: str = "text"  # bool, int, float, choice, text, list or mapping: the widget a form uses
    options: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    advanced: bool = False
    column_kind: str | None = None
    exclusive_minimum: bool = False  # the bound itself is refused (> rather than ≥)
    exclusive_maximum: bool = False
    values_of: str | None = None  # one of the values of the column this parameter names
    keys_of: str | None = None  # a mapping keyed by the values of the column this parameter names
    skip_key: str | None = None  # ... but the value this parameter holds
    fit_only: bool = False
    mapping_values: str | None = None  # a mapping's value type (JSON schema: number, integer, string)


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """`["a=1", "b=x"]` to `{"a": "1", "b": "x"}`."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise WorkbenchError(f"--param {pair!r} is not key=value; write e.g. --param top=5")
        values[key.strip()] = value
    return values


def read_params_file(path: Path) -> dict[str, Any]:
    """A JSON object of parameter values, or a one-line error naming what is wrong with the file."""
    path = Path(path)
    if path.is_dir():
        raise Invalid(f"params file {path} is a folder; pass a JSON file")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Invalid(f"params file not found: {path}") from None
    except UnicodeDecodeError:
        raise Invalid(f"params file {path} is not UTF-8 text; pass a JSON file") from None
    except OSError as error:
        raise Invalid(f"params file {path} cannot be read ({error.strerror or error})") from None
    except json.JSONDecodeError as error:
        raise Invalid(f"params file {path} is not valid JSON: {error}") from None
    if not isinstance(values, dict):
        raise WorkbenchError(f"params file {path} must hold a JSON object of parameter values")
    return values


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set):
        return True
    return any(_is_list(arg) for arg in typing.get_args(annotation) if arg is not type(None))


def _is_mapping(annotation: Any) -> bool:
    if typing.get_origin(annotation) is dict:
        return True
    return any(_is_mapping(arg) for arg in typing.get_args(annotation) if arg is not type(None))


def build_params(task_name: str, model: type[BaseModel], values: dict[str, Any]) -> BaseModel:
    """Validate raw values (strings from the CLI, or typed values) into the task's `Params`."""
    fields = model.model_fields
    unknown = [key for key in values if key not in fields]
    if "seed" in unknown:
        raise Invalid("the seed is not a task parameter: pass --seed N (one seed for the whole run)")
    if unknown:
        raise WorkbenchError(
            f"unknown parameter {unknown[0]!r} for task {task_name!r}; "
            f"parameters: {', '.join(fields) or 'none'}"
        )
    converted = {}
    for key, value in values.items():
        annotation = fields[key].annotation
        if isinstance(value, str) and (_is_list(annotation) or _is_mapping(annotation)):
            value = _structured(key, value, is_list=_is_list(annotation))
        converted[key] = value
    try:
        return model.model_validate(converted)
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "params"
        if first["type"] == "missing":
            raise WorkbenchError(
                f"parameter {name!r} is required for task {task_name!r}; pass --param {name}=VALUE"
            ) from None
        raise WorkbenchError(
            f"invalid parameter {name!r}: {first['msg']} (got {first.get('input')!r})"
        ) from None


def _structured(key: str, value: str, is_list: bool) -> Any:
    if value.lstrip().startswith(("[", "{")):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise WorkbenchError(f"parameter {key!r} is not valid JSON: {error}") from None
    if is_list:
        return [item.strip() for item in value.split(",") if item.strip()]
    raise WorkbenchError(f"parameter {key!r} takes a JSON object, e.g. {key}='{{\"a\": 1}}'")


def describe_params(model: type[BaseModel]) -> list[ParamInfo]:
    """Each field's name, readable type, default, description and column role."""
    properties = model.model_json_schema().get("properties", {})
    infos = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        infos.append(ParamInfo(
            name=name,
            type=_type_text(properties.get(name, {})),
            default=None if field.is_required() else field.get_default(call_default_factory=True),
            required=field.is_required(),
            description=field.description or "",
            column_role=None if extra.get("column_role") is None else str(extra.get("column_role")),
            advanced=bool(extra.get("advanced")),
            column_kind=None if extra.get("column_kind") is None else str(extra.get("column_kind")),
            values_of=_text_or_none(extra.get("values_of")), keys_of=_text_or_none(extra.get("keys_of")),
            skip_key=_text_or_none(extra.get("skip_key")), fit_only=bool(extra.get("fit_only")),
            **_widget(properties.get(name, {})),
        ))
    return infos


def _widget(schema: dict[str, Any]) -> dict[str, Any]:
    """The form widget for a field's JSON schema: its kind, choices, bounds and whether it may be empty."""
    options = [option for option in schema.get("anyOf", [schema]) if option.get("type") != "null"]
    nullable = len(options) < len(schema.get("anyOf", [schema]))
    main = options[0] if len(options) == 1 else {}
    kinds = {"boolean": "bool", "integer": "int", "number": "float", "array": "list", "object": "mapping"}
    kind = "choice" if "enum" in main else kinds.get(str(main.get("type")), "text")
    minimum = main.get("minimum", main.get("exclusiveMinimum"))
    maximum = main.get("maximum", main.get("exclusiveMaximum"))
    values = main.get("additionalProperties")
    return {"kind": kind, "options": main.get("enum"), "minimum": minimum, "maximum": maximum, "nullable": nullable,
            "exclusive_minimum": "exclusiveMinimum" in main, "exclusive_maximum": "exclusiveMaximum" in main,
            "mapping_values": values.get("type") if isinstance(values, dict) else None}


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _type_text(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " | ".join(str(value) for value in schema["enum"])
    if "const" in schema:
        return str(schema["const"])
    if "anyOf" in schema:
        parts = [_type_text(option) for option in schema["anyOf"]]
        return " | ".join(part for part in parts if part != "null") + (" | none" if "null" in parts else "")
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type_text(schema.get('items', {}))}"
    if kind == "object":
        return "mapping"
    bounds = []
    for key, symbol in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                        ("exclusiveMaximum", "<")):
        if key in schema:
            bounds.append(f"{symbol}{schema[key]}")
    return kind + (f" ({', '.join(bounds)})" if bounds else "")
