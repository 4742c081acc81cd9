"""Built-in plugin `fewshot`: text classifiers from a handful of labels (SetFit, embeddings + LR, zero-shot)."""

from workbench.sdk import Register, hookimpl
from workbench_fewshot.task import FewShot


@hookimpl
def register_tasks(register: Register) -> None:
    register(FewShot())
