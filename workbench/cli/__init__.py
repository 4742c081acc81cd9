"""The `workbench` command line. Each command group lives in its own module (`run`, `registry_commands`,
`pipeline`, `info`, `apps`), all hanging on the Typer apps of `app`.

Every user error, usage errors included, is one `Error: ...` line and exit status 2 (a traceback only with
`--debug`). Heavy libraries are imported inside the commands that need them, so `--help` stays fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from typer.exceptions import TyperException

import workbench.cli.apps as apps
import workbench.cli.info as info
import workbench.cli.pipeline as pipeline
import workbench.cli.registry_commands as registry_commands
import workbench.cli.run as run
from workbench import plugins
from workbench.cli.app import app, state
from workbench.errors import WorkbenchError

__all__ = ["app", "main"]
COMMAND_MODULES = (apps, info, pipeline, registry_commands, run)  # imported for the commands they register


def _version(value: bool) -> None:
    if value:
        from workbench import __version__

        print(f"workbench {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    state["debug"] = debug


def fail(message: str, code: int = 2) -> None:
    """One line on stderr, then exit."""
    print(f"Error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)


def main() -> None:
    """Entry point: user and usage errors print one line and exit 2; tracebacks only with --debug."""
    if not state["commands_added"]:
        plugins.register_commands(app)
        state["commands_added"] = True
    try:
        code = app(prog_name="workbench", standalone_mode=False)
    except TyperException as error:  # usage: a bad option, a missing one, a value of the wrong type
        if type(error).__name__ == "NoArgsIsHelpError":
            print(error.format_message())
            sys.exit(0)
        if state["debug"]:
            raise
        command = getattr(getattr(error, "ctx", None), "command_path", "workbench")
        fail(f"{error.format_message()} (see `{command} --help`)", getattr(error, "exit_code", 2) or 2)
    except WorkbenchError as error:
        if state["debug"]:
            raise
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except RecursionError:
        if state["debug"]:
            raise
        fail("the input is nested too deeply to read; flatten it")
    except Exception as error:  # noqa: BLE001
        if state["debug"]:
            raise
        from workbench.errors import one_line

        fail(f"{one_line(error)} (run with --debug for the traceback)", 1)
    except BaseException as error:  # polars' PanicException (a Rust panic) is not an Exception
        if state["debug"] or type(error).__name__ != "PanicException":
            raise
        from workbench.errors import first_line

        fail(f"the data reader failed on a type it does not support ({first_line(error)[:200]}); convert the "
             "column (nested or binary values) to plain types", 2)
    sys.exit(code if isinstance(code, int) else 0)
