"""A plugin with a misspelled hook: check_pending() must refuse it."""

from workbench.sdk import hookimpl


@hookimpl
def register_taskz(register):
    register(None)
