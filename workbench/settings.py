"""Every `WORKBENCH_*` environment variable in one table: its meaning, its default, and how it is checked.

`setting(name)` reads one, refusing a malformed value with a one-line error that names the variable and the fix.
`workbench settings` prints the table with the values in force; the README's table is written from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.errors import Invalid


def _text(value: str) -> str:
    return value


def _names(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _positive(value: str) -> float:
    number = float(value)
    if not number > 0 or number == float("inf"):
        raise ValueError("not a positive number")
    return number


def _count(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 1024:
        raise ValueError("not a whole number from 1 to 1024")
    return number


@dataclass(frozen=True)
class Setting:
    """One environment variable: what it does, its default (as text), how to read it, and whether it is secret."""

    name: str
    description: str
    default: str | None
    parse: Callable[[str], Any] = _text
    secret: bool = False
    example: str = ""


SETTINGS: tuple[Setting, ...] = (
    Setting("WORKBENCH_HOME", "The workspace folder: registry database, datasets, models, run outputs.",
            ".workbench (in the current folder)", example="/srv/workbench"),
    Setting("WORKBENCH_REGISTRY_URL", "The registry database, any SQLAlchemy URL (a team's PostgreSQL).",
            "sqlite:///$WORKBENCH_HOME/registry.db", example="postgresql+psycopg://user@db/workbench"),
    Setting("WORKBENCH_COPY_LIMIT_MB", "Inputs larger than this are registered by reference, not copied.", "256",
            _positive),
    Setting("WORKBENCH_MEMORY_LIMIT_MB", "Refuse to read a file whose data would take more memory than this "
            "(a small compressed Parquet can expand a thousandfold); run it with --stream instead.", "16384",
            _positive),
    Setting("WORKBENCH_WORKERS", "Background workers running queued runs at once (dashboard, --detach).",
            "cores - 1, at least 1", _count),
    Setting("WORKBENCH_STALE_MINUTES", "A run on another host that has not sent a heartbeat for this long is "
            "shown interrupted (its scratch folder is kept).", "30", _positive),
    Setting("WORKBENCH_HEARTBEAT_SECONDS", "How often a running run records its progress.", "5", _positive),
    Setting("WORKBENCH_PROGRESS_INTERVAL", "Seconds between plain progress lines when output is not a terminal.",
            "10", _positive),
    Setting("WORKBENCH_LOAD_PLUGINS", "Load only these plugins (comma-separated entry-point names).", None, _names),
    Setting("WORKBENCH_DISABLE_PLUGINS", "Never load these plugins (comma-separated).", None, _names),
    Setting("WORKBENCH_RAY_ADDRESS", "The Ray cluster `--executor ray` joins (else a local Ray).", None,
            example="ray://head:10001"),
    Setting("WORKBENCH_REPORTS_URL", "Where the dashboard links reports (else the Shiny app it finds running, "
            "else http://127.0.0.1:8000).", None, example="https://reports.example.org"),
    Setting("WORKBENCH_USER", "Who the CLI records as the user of its runs and alias changes.", "the OS user"),
    Setting("WORKBENCH_ADMINS", "Users who may cancel anyone's run and move any alias (comma-separated).", None,
            _names),
    Setting("WORKBENCH_USER_HEADER", "Dashboard behind a trusted proxy: the request header naming the signed-in "
            "user.", None, example="X-Forwarded-User"),
    Setting("WORKBENCH_TEACHER_API_KEY", "The key sent to a relations teacher (`-p teacher_url=...`).", None,
            secret=True),
    Setting("WORKBENCH_TEACHER_KEY_VARIABLES", "Other variables a params file may name as `teacher_key_env`.", None,
            _names),
    Setting("WORKBENCH_TEACHER_HOSTS", "The only hosts (host or host:port) a teacher key is ever sent to; with none "
            "listed, only this machine (localhost).", None, _names, example="api.openai.com"),
    Setting("WORKBENCH_OPTUNA_STORAGES", "Database URLs feature-selection may keep a shared Optuna study in "
            "(`-p storage=URL`); any other URL is refused (a journal file always lives in the workspace).", None,
            _names, example="postgresql+psycopg://optuna@db/studies"),
    Setting("WORKBENCH_MLFLOW_URI", "Export every run to this MLflow tracking store (else MLFLOW_TRACKING_URI).",
            None, example="sqlite:///mlflow.db"),
    Setting("WORKBENCH_MLFLOW_EXPERIMENT", "The MLflow experiment runs go to (else one per task).", None),
    Setting("WORKBENCH_MLFLOW_TIMEOUT", "Seconds an MLflow export may take before the run goes on without it.",
            "10", _positive),
    Setting("WORKBENCH_SCREENSHOTS", "Tests only: the browser tests save page screenshots in this folder.", None),
)
BY_NAME = {item.name: item for item in SETTINGS}


def setting(name: str) -> Any:
    """The value of a `WORKBENCH_*` variable (None when unset and without a plain default)."""
    item = BY_NAME[name]
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return item.parse(raw.strip())
    except ValueError:
        shown = "***" if item.secret else repr(raw[:60])
        raise Invalid(f"environment variable {name}={shown} is malformed: {item.description} "
                      f"(default {item.default}); fix or unset it") from None


def number_setting(name: str, default: float) -> float:
    """A numeric setting, or `default` when unset."""
    value = setting(name)
    return default if value is None else float(value)


def rows() -> list[dict[str, str]]:
    """The table as `workbench settings` shows it: name, value in force (secrets masked), default, meaning."""
    shown = []
    for item in SETTINGS:
        raw = os.environ.get(item.name)
        value = "" if raw is None else ("(set)" if item.secret else raw)
        shown.append({"variable": item.name, "value": value, "default": item.default or "",
                      "description": item.description})
    return shown
