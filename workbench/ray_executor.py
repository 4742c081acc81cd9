"""The Ray executor: a task's batch scorer run by Ray Data over a pool of actors (the `ray` extra).

Each actor opens the registry, verifies and loads the model once, then scores the blocks it is given; GPU
actors are used for tasks that want them when the cluster has GPUs. Actors are spread over the nodes, and every
node must reach the registry: its URL (WORKBENCH_REGISTRY_URL) and the workspace folder, on a shared disk. The
driver receives the scored batches in order and writes them like the in-process path does, counting the rows
each node scored.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench import plugins
from workbench._progress import TrackedProgress
from workbench.errors import Invalid
from workbench.registry import Registry

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench.sources import DataSource

NODE_COLUMN = "_workbench_node"


def connect(address: str | None) -> None:
    """Join the cluster at `address` (or WORKBENCH_RAY_ADDRESS); with neither, start a local Ray."""
    try:
        import ray
    except ImportError:
        raise Invalid("the Ray executor needs Ray: pip install -e '.[ray]' (make installs it)") from None
    if ray.is_initialized():
        return
    address = address or os.environ.get("WORKBENCH_RAY_ADDRESS")
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING, "include_dashboard": False}
    try:
        ray.init(address=address, **options) if address else ray.init(num_cpus=os.cpu_count(), **options)
    except ConnectionError as error:
        raise Invalid(f"cannot reach the Ray cluster at {address} ({error}); check --ray-address") from None


def actor_pool_size(resources: dict[str, float], use_gpu: bool) -> int:
    """One actor per GPU; on CPUs, one per CPU but one, which is left to read the input."""
    if use_gpu:
        return max(1, int(resources["GPU"]))
    return max(1, int(resources.get("CPU", 1)) - 1)


class ScoreBatches:
    """A Ray actor: loads the registered model once, then scores every batch of rows it is given."""

    def __init__(self, task: str, params: dict[str, Any], model: str, registry_url: str, home: str) -> None:
        import ray

        registry = Registry(registry_url, Path(home))
        record = registry.models.load(model)
        runnable = plugins.get_task(task)
        device = "cuda" if ray.get_gpu_ids() else "cpu"
        self.scorer = runnable.batch_scorer(runnable.Params.model_validate(params), record, device)
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: pa.Table) -> pa.Table:
        scored = self.scorer(pl.from_arrow(batch))  # type: ignore[arg-type]
        return scored.with_columns(pl.lit(self.node).alias(NODE_COLUMN)).to_arrow()


def score_on_ray(task_name: str, model: str, source: DataSource, batch_rows: int, *, registry: Registry,
                 params: dict[str, Any], progress: TrackedProgress, address: str | None) -> Iterator[pl.DataFrame]:
    """The scored batches, in input order, from a Ray Data pipeline over an actor pool."""
    import ray

    connect(address)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    paths = [part.path for part in source.parts]
    if source.format == "parquet":
        data = ray.data.read_parquet(paths, filesystem=source.filesystem)
    else:
        import pyarrow.csv as csv

        data = ray.data.read_csv(paths, filesystem=source.filesystem,
                                 parse_options=csv.ParseOptions(delimiter=source.delimiter))
    data = data.repartition(target_num_rows_per_block=batch_rows)  # streamed: one block per batch, for every actor
    task = plugins.get_task(task_name)
    resources = ray.cluster_resources()
    use_gpu = task.gpu_batches and resources.get("GPU", 0) >= 1
    pool = actor_pool_size(resources, use_gpu)
    scored = data.map_batches(
        ScoreBatches, batch_size=batch_rows, batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=pool, max_tasks_in_flight_per_actor=2),
        num_gpus=1 if use_gpu else 0, num_cpus=0 if use_gpu else 1, scheduling_strategy="SPREAD",
        fn_constructor_kwargs={"task": task.name, "params": params, "model": model,
                               "registry_url": registry.url, "home": str(registry.home)})
    with progress.bar(f"Scoring on Ray in batches of {batch_rows:,}", total=source.rows()) as bar:
        for batch in scored.iter_batches(batch_format="pyarrow", batch_size=batch_rows):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            bar.advance(frame.height)
            yield frame
