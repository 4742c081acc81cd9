"""Running a pipeline: each step a recorded run through the one runner, grouped under a pipeline run.

A step whose inputs are unchanged is skipped and its earlier outputs reused, as DVC and Kedro do: its
fingerprint hashes the task and its version, the parameters, the seed, the content hash of its data, the sha256
of the model it applies and what it registers and saves. A failed step stops the steps that read from it; the
others still run, and everything is recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench import plugins
from workbench.errors import WorkbenchError, first_line
from workbench.execution.dispatch import dispatch
from workbench.execution.plan import ExecutionPlan, plan_run
from workbench.execution.request import RunRequest
from workbench.pipelines.spec import Pipeline, Step
from workbench.registry import RunStatus

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.sdk.progress import ProgressReporter

SKIPPED = "skipped"
BLOCKED = "not run"


@dataclass
class StepOutcome:
    step: str
    status: str  # succeeded, failed, skipped (up to date), not run (an upstream step failed)
    run_id: int | None = None
    note: str = ""
    outputs: dict[str, str] = field(default_factory=dict)  # table or "model" -> NAME@version


def fingerprint(plan: ExecutionPlan, step: Step) -> str:
    """What decides whether a step's earlier run still stands for it."""
    data = plan.data
    if data.dataset is not None:
        content = data.dataset.sha256
    elif data.source is not None:
        content = data.source.fingerprint()
    else:
        from workbench.registry.hashing import frame_sha256

        content = frame_sha256(data.frame)
    info = plugins.plugin_of(plan.task.name)
    parts = {"task": plan.task.name, "version": info.version if info else None, "params": plan.params_json,
             "seed": plan.request.seed, "data": content, "model": plan.model.sha256 if plan.model else None,
             "register": step.register, "save": step.save}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class PipelineRun:
    """One run of a pipeline file: its group, and each step's outcome as it comes."""

    def __init__(self, pipeline: Pipeline, registry: Registry, progress: ProgressReporter | None = None,
                 force: bool = False, user: str | None = None) -> None:
        self.pipeline, self.registry, self.progress, self.force, self.user = pipeline, registry, progress, force, user
        self.group_id = registry.runs.start_group("pipeline", pipeline.name, pipeline.spec(), user)
        self.outcomes: dict[str, StepOutcome] = {}

    def run(self) -> Iterator[StepOutcome]:
        for step in self.pipeline.steps:
            outcome = self._step(step)
            self.outcomes[step.name] = outcome
            yield outcome
        failed = any(outcome.status in (RunStatus.failed, BLOCKED) for outcome in self.outcomes.values())
        spec = {**self.pipeline.spec(), "outcomes": {name: outcome.__dict__ for name, outcome in self.outcomes.items()}}
        self.registry.runs.finish_group(self.group_id, RunStatus.failed if failed else RunStatus.succeeded, spec)

    def _step(self, step: Step) -> StepOutcome:
        broken = [other for other in step.needs if self.outcomes[other].status in (RunStatus.failed, BLOCKED)]
        if broken:
            return StepOutcome(step.name, BLOCKED, note=f"step {broken[0]} did not succeed")
        try:
            plan = plan_run(self._request(step), self.registry)
        except WorkbenchError as error:
            return StepOutcome(step.name, RunStatus.failed, note=first_line(error))
        plan.request.fingerprint = fingerprint(plan, step)
        earlier = None if self.force else self.registry.runs.find_fingerprint(plan.request.fingerprint)
        if earlier is not None and self._outputs_exist(earlier.outputs):
            return StepOutcome(step.name, SKIPPED, earlier.id, f"up to date: reuses run #{earlier.id}",
                               self._outputs(step, earlier.outputs))
        try:
            outcome = dispatch(plan, self.registry, self.progress)
        except WorkbenchError as error:
            latest = self.registry.runs.list(group_id=self.group_id, limit=1)
            return StepOutcome(step.name, RunStatus.failed, latest[0].id if latest else None, first_line(error))
        record = self.registry.runs.get(outcome.run_id)
        return StepOutcome(step.name, RunStatus.succeeded, outcome.run_id, "",
                           self._outputs(step, record.outputs))

    def _request(self, step: Step) -> RunRequest:
        """The step as a run request, references to earlier steps replaced by what those steps registered."""
        data = self._resolved(step, step.data)
        model = self._resolved(step, step.model) if step.model else None
        return RunRequest(task=plugins.get_task(step.task), data=data, params=step.params, model=model,
                          register=step.register, save=step.save, out=step.out, overwrite=step.out is not None,
                          seed=step.seed, user=self.user, group_id=self.group_id, step=step.name)

    def _resolved(self, step: Step, value: str) -> str:
        found = step.upstream(value, {name: None for name in self.outcomes})
        if found is None:
            return value
        other, output = found
        return self.outcomes[other].outputs[output]

    def _outputs(self, step: Step, outputs: dict[str, Any]) -> dict[str, str]:
        """What a step's run registered, by the name a later step reads it with."""
        saved = {ref.partition("@")[0]: ref for ref in outputs.get("datasets", [])}
        found = {table: saved[name] for table, name in step.save.items() if name in saved}
        models = outputs.get("models", [])
        if models:
            found["model"] = models[0]
        return found

    def _outputs_exist(self, outputs: dict[str, Any]) -> bool:
        """Whether what an earlier run registered can still be read (nothing was deleted since)."""
        try:
            for ref in outputs.get("datasets", []):
                self.registry.datasets.get(ref)
            for ref in outputs.get("models", []):
                self.registry.models.get(ref)
        except WorkbenchError:
            return False
        return True
