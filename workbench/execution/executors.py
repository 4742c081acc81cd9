"""The executors: the one part of a run that differs by mode. Each turns a plan into a `Produced`.

- in memory: `task.run` on the whole frame;
- out of core: `task.run_lazy` on a LazyFrame over the parts (polars' streaming engine);
- streamed: the task's `batch_scorer` over batches, parts written as they come (`streaming.py`);
- Ray: the same batches scored, and their parts written, by an actor pool on a cluster (`ray.py`);
- fitted with Ray workers: `task.run` with Ray connected, for a task that spreads its fit (`Task.fits_on_ray`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.errors import Invalid
from workbench.execution.plan import ExecutionPlan, Mode
from workbench.execution.results import Produced
from workbench.sdk.task import RunContext

if TYPE_CHECKING:
    from workbench.execution.results import OutputFolder
    from workbench.registry import Registry


def in_memory(plan: ExecutionPlan, ctx: RunContext, out: OutputFolder | None, registry: Registry) -> Produced:
    return Produced(plan.task.run(plan.data.frame, plan.params, ctx))


def out_of_core(plan: ExecutionPlan, ctx: RunContext, out: OutputFolder | None, registry: Registry) -> Produced:
    assert plan.data.source is not None
    result = plan.task.run_lazy(plan.data.source.lazy(), plan.params, ctx)
    if result is None:
        raise Invalid(f"task {plan.task.name!r} cannot run out of core; run it without --stream")
    return Produced(result)


def streamed(plan: ExecutionPlan, ctx: RunContext, out: OutputFolder | None, registry: Registry) -> Produced:
    from workbench.execution.streaming import score_locally

    assert out is not None and ctx.model is not None
    device = ctx.device if plan.task.gpu_batches else "cpu"
    scorer = plan.task.batch_scorer(plan.params, ctx.model, device)
    return score_locally(plan, scorer, out, ctx)


def on_ray(plan: ExecutionPlan, ctx: RunContext, out: OutputFolder | None, registry: Registry) -> Produced:
    from workbench.execution.ray import score_on_ray

    assert out is not None
    return score_on_ray(plan, out, ctx, registry)


def fit_on_ray(plan: ExecutionPlan, ctx: RunContext, out: OutputFolder | None, registry: Registry) -> Produced:
    """`task.run` on the whole frame, with Ray connected: the task spreads its own work over Ray workers."""
    from workbench.execution.ray import connect

    connect(plan.request.ray_address)
    ctx.ray_address = plan.request.ray_address or "local"
    return Produced(plan.task.run(plan.data.frame, plan.params, ctx))


EXECUTORS: dict[Mode, Callable[[ExecutionPlan, RunContext, Any, Registry], Produced]] = {
    Mode.in_memory: in_memory, Mode.out_of_core: out_of_core, Mode.streamed: streamed, Mode.ray: on_ray,
    Mode.ray_fit: fit_on_ray,
}
