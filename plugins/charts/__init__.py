"""Built-in plugin `charts`: one time series, tailored to the general public, professionals or decision-makers."""

from workbench.sdk import hookimpl
from workbench_charts.task import TailorChart


@hookimpl
def register_tasks(register) -> None:
    register(TailorChart())
