"""Built-in plugin `onehot`: robust one-hot encoding, fitted once and applied to any later data."""

from workbench.sdk import Register, hookimpl
from workbench_onehot.task import OneHot


@hookimpl
def register_tasks(register: Register) -> None:
    register(OneHot())
