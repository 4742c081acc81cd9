"""The Ray executor: a task's batch scorer run by Ray Data over a pool of actors (the `ray` extra).

Each actor opens the registry, verifies and loads the model once, then scores the blocks it is given; GPU
actors are used for tasks that want them when the cluster has GPUs. The driver receives the scored batches
in order and writes them like the in-process path does, counting the rows each node scored.
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

    from workbench.streaming import StreamRequest

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


def score_on_ray(request: StreamRequest, registry: Registry, params: dict[str, Any],
                 progress: TrackedProgress) -> Iterator[pl.DataFrame]:
    """The scored batches, in input order, from a Ray Data pipeline over an actor pool."""
    import ray

    connect(request.ray_address)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    source = request.source
    paths = [part.path for part in source.parts]
    if source.format == "parquet":
        data = ray.data.read_parquet(paths, filesystem=source.filesystem)
    else:
        import pyarrow.csv as csv

        data = ray.data.read_csv(paths, filesystem=source.filesystem,
                                 parse_options=csv.ParseOptions(delimiter=source.delimiter))
    task = plugins.get_task(request.task)
    resources = ray.cluster_resources()
    use_gpu = task.gpu_batches and resources.get("GPU", 0) >= 1
    workers = max(1, int(resources.get("GPU" if use_gpu else "CPU", 1)))
    scored = data.map_batches(
        ScoreBatches, batch_size=request.batch_rows, batch_format="pyarrow", concurrency=(1, workers),
        num_gpus=1 if use_gpu else 0, num_cpus=0 if use_gpu else 1,
        fn_constructor_kwargs={"task": task.name, "params": params, "model": request.model,
                               "registry_url": registry.url, "home": str(registry.home)})
    with progress.bar(f"Scoring on Ray in batches of {request.batch_rows:,}", total=source.rows()) as bar:
        for batch in scored.iter_batches(batch_format="pyarrow", batch_size=None):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            bar.advance(frame.height)
            yield frame
