"""Reading a pipeline file (YAML or TOML) into checked steps, with one-line errors naming the step and field.

    name: adult                         # optional; the file's name by default
    steps:
      encode:                           # a step: a name, then what to run
        task: onehot
        data: datasets/adult_train.csv  # a file, a registered dataset (NAME[@version|alias]) or STEP.TABLE
        register: adult-encoder
        save: {encoded: adult-encoded}  # output table -> dataset name
      select:
        task: feature-selection
        data: encode.encoded            # the table step `encode` saved
        params: {target: income, trials: 20}
      score:
        task: feature-selection
        data: datasets/adult_test.csv
        model: select.model             # the model step `select` registered (or a registered NAME[@version|alias])
        out: out/scored                 # optional: also write the outputs here (replaced on every run)
        seed: 0                         # optional

Everything that can be checked without the data is checked before the first step runs: unknown fields, tasks and
parameters, names, references to steps that do not exist or come later, and cycles.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import Invalid, WorkbenchError
from workbench.workspace import NAME_PATTERN, validate_name

STEP_FIELDS = {"task", "data", "params", "model", "register", "save", "seed", "out"}
REFERENCE = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]*)\.([A-Za-z0-9_]+)")


@dataclass
class Step:
    """One step of a pipeline, its references to other steps resolved into `needs`."""

    name: str
    task: str
    data: str
    params: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    register: str | None = None
    save: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    out: str | None = None
    needs: list[str] = field(default_factory=list)

    def upstream(self, value: str | None, steps: dict[str, Any]) -> tuple[str, str] | None:
        """(step, table-or-'model') when `value` names an output of another step of this pipeline."""
        match = REFERENCE.fullmatch(value or "")
        return (match.group(1), match.group(2)) if match and match.group(1) in steps else None


@dataclass
class Pipeline:
    name: str
    steps: list[Step]  # in an order that runs every step after the steps it reads from
    source: str

    def spec(self) -> dict[str, Any]:
        return {"file": self.source, "steps": {step.name: {"task": step.task, "data": step.data, "needs": step.needs}
                                               for step in self.steps}}


def load(path: Path, known: Callable[[str], bool] = lambda value: Path(value).exists()) -> Pipeline:
    """Read and check a pipeline file; `known(value)` says whether data that is no step's output exists."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Invalid(f"pipeline file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise Invalid(f"pipeline file {path} cannot be read ({error})") from None
    try:
        if path.suffix.lower() == ".toml":
            raw: Any = tomllib.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, ValueError) as error:
        raise Invalid(f"{where} is not valid TOML: {error}") from None
    except Exception as error:  # noqa: BLE001 - yaml's errors: one line with the position
        raise Invalid(f"{where} is not valid YAML: {' '.join(str(error).split())}") from None
    return parse(raw, where, path.stem, known)


def parse(raw: Any, where: str, default_name: str, known: Callable[[str], bool] = lambda value: Path(value).exists()
          ) -> Pipeline:
    """Check the structure and everything knowable without data; order the steps."""
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), dict) or not raw["steps"]:
        raise Invalid(f"{where}: a pipeline is a mapping with `steps:`, a mapping of step names to steps")
    unknown = sorted(set(raw) - {"name", "steps"})
    if unknown:
        raise Invalid(f"{where}: unknown top-level field {unknown[0]!r}; use name and steps")
    name = str(raw.get("name") or re.sub(r"[^A-Za-z0-9_.-]+", "-", default_name)) or "pipeline"
    validate_name(name, f"{where}: pipeline name")
    steps = {step_name: _step(step_name, body, where, raw["steps"], known)
             for step_name, body in raw["steps"].items()}
    return Pipeline(name, _ordered(steps, where), where)


def _step(name: Any, body: Any, where: str, steps: dict[str, Any], known: Callable[[str], bool]) -> Step:
    def fail(field_name: str, message: str) -> WorkbenchError:
        return Invalid(f"{where}: step {name}, field {field_name}: {message}")

    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or "." in name:
        raise Invalid(f"{where}: step name {name!r} must be letters, digits, '_' and '-'")
    if not isinstance(body, dict):
        raise Invalid(f"{where}: step {name} must be a mapping with at least task and data")
    unknown = sorted(set(body) - STEP_FIELDS)
    if unknown:
        raise fail(unknown[0], f"unknown field; a step takes {', '.join(sorted(STEP_FIELDS))}")
    for required in ("task", "data"):
        if not isinstance(body.get(required), str) or not body[required].strip():
            raise fail(required, "required, as text")
    step = Step(name, body["task"], body["data"])
    if not isinstance(body.get("params", {}), dict):
        raise fail("params", "must be a mapping of parameter names to values")
    step.params = dict(body.get("params") or {})
    for option in ("model", "register", "out"):
        value = body.get(option)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise fail(option, "must be text")
        setattr(step, option, value)
    save = body.get("save") or {}
    if not isinstance(save, dict) or not all(isinstance(v, str) for v in save.values()):
        raise fail("save", "must map output tables to dataset names, e.g. {encoded: adult-encoded}")
    step.save = {str(table): dataset for table, dataset in save.items()}
    seed = body.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise fail("seed", "must be a whole number from 0 to 4294967295")
    step.seed = seed
    _check_task(step, fail)
    for option, value in (("data", step.data), ("model", step.model)):
        found = step.upstream(value, steps)
        if found is None:
            if value and REFERENCE.fullmatch(value) and not known(value) and (option == "data"
                                                                              or value.endswith(".model")):
                raise fail(option, f"{value!r} names no step of this pipeline (steps: {', '.join(steps)}), and no "
                                   "file or registered dataset")
            continue
        other, output = found
        if other == name:
            raise fail(option, "a step cannot read its own output")
        _check_output(found, option, steps, fail)
        step.needs.append(other)
    return step


def _check_task(step: Step, fail: Any) -> None:
    """The task exists and takes these parameters (values are checked against the data when the step runs)."""
    from workbench import plugins

    try:
        task = plugins.get_task(step.task)
    except WorkbenchError as error:
        raise fail("task", str(error)) from None
    fields = task.Params.model_fields
    unknown = [key for key in step.params if key not in fields]
    if unknown:
        raise fail("params", f"unknown parameter {unknown[0]!r} for task {step.task!r}; parameters: "
                             f"{', '.join(fields) or 'none'}")
    for option, value in (("register", step.register), *(("save", v) for v in step.save.values())):
        if value is not None:
            try:
                validate_name(value, "name")
            except WorkbenchError as error:
                raise fail(option, str(error)) from None


def _check_output(found: tuple[str, str], option: str, steps: dict[str, Any], fail: Any) -> None:
    other, output = found
    body = steps[other] if isinstance(steps[other], dict) else {}
    if option == "model" or output == "model":
        if option != "model" or output != "model":
            raise fail(option, f"{other}.{output}: a step's model is read with `model: {other}.model`")
        if not body.get("register"):
            raise fail(option, f"step {other} registers no model; add `register: NAME` to it")
    elif output not in (body.get("save") or {}):
        raise fail(option, f"step {other} does not save table {output!r}; add `save: {{{output}: NAME}}` to it")


def _ordered(steps: dict[str, Step], where: str) -> list[Step]:
    """The steps in dependency order (as written where free to choose); a cycle is an error naming it."""
    done: list[Step] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if any(step.name == name for step in done):
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name):], name])
            raise Invalid(f"{where}: the steps form a cycle ({cycle}); a step can only read steps before it")
        visiting.append(name)
        for other in steps[name].needs:
            visit(other)
        visiting.pop()
        done.append(steps[name])

    for name in steps:
        visit(name)
    return done
