"""Built-in plugin `feature-selection`: Optuna over feature subsets, with the classic methods side by side."""

from workbench.sdk import Register, hookimpl
from workbench_featsel.task import FeatureSelection


@hookimpl
def register_tasks(register: Register) -> None:
    register(FeatureSelection())
