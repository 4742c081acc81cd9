"""`workbench app streamlit|shiny`: the dashboard and the report app, bound to 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import os
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.app import apps_app
from workbench.errors import Invalid

HostOption = Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 exposes the app to your network.")]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")]
DISTRIBUTION = "dsworkbench"


def app_file(name: str, library: str) -> Path:
    """Where an app's script is installed, once its library is known to be there (nothing imported)."""
    if find_spec(library) is None:
        raise Invalid(f"the {library} app needs libraries that are not installed: pip install '{DISTRIBUTION}[apps]'")
    spec = find_spec("workbench_apps")
    if spec is None or not spec.submodule_search_locations:
        raise Invalid(f"the apps are not installed; pip install '{DISTRIBUTION}[apps]'")
    return Path(next(iter(spec.submodule_search_locations))) / name


@apps_app.command("streamlit")
def app_streamlit(host: HostOption = "127.0.0.1", port: PortOption = 8501) -> None:
    """The Streamlit dashboard: upload data, run any task, follow and compare runs, browse the registry."""
    command = [sys.executable, "-m", "streamlit", "run", str(app_file("streamlit_app.py", "streamlit")),
               "--server.address", host, "--server.port", str(port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]
    replace_process(command)


@apps_app.command("shiny")
def app_shiny(host: HostOption = "127.0.0.1", port: PortOption = 8000) -> None:
    """The Shiny Express report app: any recorded run as a report, downloadable as offline HTML."""
    leave_address(host, port)
    replace_process([sys.executable, "-m", "shiny", "run", str(app_file("shiny_report.py", "shiny")), "--host", host,
                     "--port", str(port)])


def leave_address(host: str, port: int) -> None:
    """Tell the dashboard of this workspace where the reports are (this process becomes the server: same pid)."""
    import json
    import socket

    from workbench.registry import Registry
    from workbench.registry.runs import HOST

    workspace = Registry().workspace
    if not workspace.home.is_dir():  # the report app only reads: it creates no workspace
        return
    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    workspace.reports_app_file.parent.mkdir(exist_ok=True)
    workspace.reports_app_file.write_text(json.dumps({"url": f"http://{shown}:{port}", "pid": os.getpid(),
                                                      "host": HOST}))


def replace_process(command: list[str]) -> None:
    """Become the server process (no child left behind when this one is stopped)."""
    sys.stdout.flush()
    os.execv(command[0], command)
