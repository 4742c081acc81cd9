"""Built-in plugin `charts`: one time series, tailored to the general public, professionals or decision-makers."""

from workbench.sdk import Register, hookimpl
from workbench_charts.task import TailorChart


@hookimpl
def register_tasks(register: Register) -> None:
    register(TailorChart())
