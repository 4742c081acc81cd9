"""Where a planned run goes: executed here by the runner, or queued for a worker (`--detach`, the dashboard)."""

from __future__ import annotations

from workbench.execution.jobs import enqueue
from workbench.execution.plan import ExecutionPlan, plan_run
from workbench.execution.request import RunRequest
from workbench.execution.runner import Runner, RunOutcome
from workbench.registry import Registry
from workbench.sdk.progress import ProgressReporter


def dispatch(plan: ExecutionPlan, registry: Registry, progress: ProgressReporter | None = None) -> RunOutcome:
    """Run a plan here, or queue it when it asks to be detached."""
    if plan.request.detach:
        return RunOutcome(enqueue(plan, registry), plan=plan, queued=True)
    return Runner(registry, progress).start(plan)


def run_request(request: RunRequest, registry: Registry, progress: ProgressReporter | None = None) -> RunOutcome:
    """Plan a request (refusing it before anything is written), then run or queue it."""
    return dispatch(plan_run(request, registry), registry, progress)
