"""The Ray executor: a task's batch scorer run by a pool of actors that read, score and write their own parts.

The driver only plans the work: it splits the input into pieces (Parquet row groups, CSV files) and deals them
out to the nodes in proportion to their actors (`NodeShares`), one actor per CPU pinned to each node; an actor
reads its next piece from the shared storage, scores it in batches with the model it loaded once, writes each
batch as a part under `--out`, and returns the part names and row counts. So no scored row crosses the object
store, and every node scores its share. A slower node is not helped by the others: the shares assume nodes whose
declared CPUs are alike. (Ray Data's actor pool sent blocks to actors on the node that read them, which was the
driver's: on two nodes the head scored 99% of the rows.)

Every node must reach the registry (a team database, WORKBENCH_REGISTRY_URL, and the workspace on a shared
disk), the input and `--out` (a shared folder or s3://).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import Invalid, first_line
from workbench.execution.results import Produced, write_part
from workbench.execution.streaming import PartCollector
from workbench.settings import setting

if TYPE_CHECKING:
    from workbench.execution.plan import ExecutionPlan
    from workbench.execution.results import OutputFolder
    from workbench.io.sources import DataSource
    from workbench.registry import Registry
    from workbench.sdk.task import RunContext

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SAMPLED_PIECES = 4  # the first pieces send back a few rows each, for the run's sample table


@dataclass(frozen=True)
class Piece:
    """A slice of the input one actor reads: a file, and for Parquet some of its row groups."""

    index: int
    path: str
    row_groups: tuple[int, ...] | None  # None: the whole file (CSV)
    rows: int | None


def connect(address: str | None) -> None:
    """Join the cluster at `address` (or WORKBENCH_RAY_ADDRESS); with neither, start a local Ray."""
    try:
        import ray
    except ImportError:
        raise Invalid("the Ray executor needs Ray: pip install 'dsworkbench[ray]'") from None
    if ray.is_initialized():
        return
    address = address or setting("WORKBENCH_RAY_ADDRESS")
    if address:
        from workbench.execution.plan import check_ray_address

        check_ray_address(address)
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING, "include_dashboard": False}
    try:
        ray.init(address=address, **options) if address else ray.init(num_cpus=os.cpu_count(), **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise Invalid(f"cannot reach the Ray cluster at {address} ({clean(error)}); check --ray-address") from None


def clean(error: BaseException) -> str:
    """A Ray error as one readable line: the root cause's first line, without colour codes."""
    cause: BaseException = error
    while getattr(cause, "cause", None) is not None or cause.__cause__ is not None:
        cause = getattr(cause, "cause", None) or cause.__cause__  # type: ignore[assignment]
    lines = [ANSI.sub("", line).strip() for line in str(cause).splitlines()]
    useful = [line for line in lines if line and not line.startswith(("Traceback", "File ", "ray::", "^"))]
    return f"{type(cause).__name__}: {useful[-1] if useful else first_line(cause)}"


def pieces(source: DataSource, rows_per_piece: int) -> list[Piece]:
    """The input cut into pieces of about `rows_per_piece` rows: runs of Parquet row groups, or whole CSV files."""
    if source.format != "parquet":
        return [Piece(index, part.path, None, None) for index, part in enumerate(source.parts)]
    import pyarrow.parquet as pq

    found: list[Piece] = []
    for part in source.parts:
        with source.filesystem.open_input_file(part.path) as handle:
            metadata = pq.ParquetFile(handle).metadata
        groups: list[int] = []
        rows = 0
        for group in range(metadata.num_row_groups):
            groups.append(group)
            rows += metadata.row_group(group).num_rows
            if rows >= rows_per_piece:
                found.append(Piece(len(found), part.path, tuple(groups), rows))
                groups, rows = [], 0
        if groups:
            found.append(Piece(len(found), part.path, tuple(groups), rows))
    return found


class PieceScorer:
    """A Ray actor: opens the registry, checks out the model once, then scores and writes the pieces it is given."""

    def __init__(self, task: str, params: dict[str, Any], model: str, registry_url: str, home: str,
                 source: DataSource, out: str, table: str, table_format: str, batch_rows: int) -> None:
        import tempfile

        import ray

        from workbench import plugins
        from workbench.registry import Registry

        registry = Registry(registry_url, Path(home))
        record = registry.models.load(model)
        self.folder = tempfile.mkdtemp(prefix="workbench-ray-model-")
        record = registry.models.checkout(record, Path(self.folder) / "model")
        runnable = plugins.get_task(task)
        device = "cuda" if ray.get_gpu_ids() else "cpu"
        self.scorer = runnable.batch_scorer(runnable.Params.model_validate(params), record, device)
        self.node = ray.get_runtime_context().get_node_id()
        self.source, self.out, self.table = source, out, table
        self.format, self.batch_rows = table_format, batch_rows

    def ready(self) -> str:
        """This actor's node, once its model is checked out."""
        return self.node

    def score(self, piece: Piece) -> tuple[int, list[tuple[str, int]], str, Any]:
        """Read, score and write one piece: its index, its parts (name, rows), this node, and a few rows."""
        from workbench.execution.streaming import SAMPLE_ROWS

        written = []
        sample = None
        for number, batch in enumerate(self._batches(piece)):
            scored = self.scorer(batch)
            name = f"{self.table}/part-{piece.index:05d}-{number:04d}.{self.format}"
            write_part(scored.to_arrow(), self.out, name, self.format)
            written.append((name, scored.height))
            if sample is None and piece.index < SAMPLED_PIECES:
                sample = scored.head(SAMPLE_ROWS // SAMPLED_PIECES)
        return piece.index, written, self.node, sample

    def _batches(self, piece: Piece) -> Any:
        import polars as pl

        if piece.row_groups is not None:
            import pyarrow.parquet as pq

            with self.source.filesystem.open_input_file(piece.path) as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=self.batch_rows,
                                                                 row_groups=list(piece.row_groups)):
                    yield pl.from_arrow(batch)
            return
        import pyarrow.csv as pacsv

        with self.source.filesystem.open_input_stream(piece.path) as handle:
            reader = pacsv.open_csv(handle, read_options=pacsv.ReadOptions(
                encoding=self.source.encoding, block_size=1 << 24), parse_options=self.source.csv_parse_options())
            pending: list[Any] = []
            held = 0
            for batch in reader:
                pending.append(batch)
                held += batch.num_rows
                while held >= self.batch_rows:
                    table = _table(pending)
                    yield pl.from_arrow(table.slice(0, self.batch_rows))
                    rest = table.slice(self.batch_rows)
                    pending, held = rest.to_batches(), rest.num_rows
            if held:
                yield pl.from_arrow(_table(pending))

    def close(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def _table(batches: list[Any]) -> Any:
    import pyarrow as pa

    return pa.Table.from_batches(batches)


class NodeShares:
    """The pieces dealt out to nodes in proportion to their actors; an actor takes the next piece of its own
    node's share, so each node scores its share however fast the driver's neighbour answers."""

    def __init__(self, todo: list[Piece], actors: dict[str, int]) -> None:
        seats = [node for node, count in actors.items() for _ in range(count)]
        self.queues: dict[str, deque[Piece]] = {node: deque() for node in actors}
        for number, piece in enumerate(todo):
            self.queues[seats[number % len(seats)]].append(piece)

    def next_for(self, node: str) -> Piece | None:
        """The next piece of `node`'s share, or None when its share is done."""
        return self.queues[node].popleft() if self.queues[node] else None


def seats(layout: dict[str, int], pieces: int) -> dict[str, int]:
    """Actors per node: `layout`'s, but no more actors in all than pieces, taken from the nodes in turn."""
    in_turn = [node for turn in range(max(layout.values(), default=0))
               for node, count in layout.items() if turn < count]
    return dict(Counter(in_turn[:pieces]))


def actors_per_node(use_gpu: bool) -> dict[str, int]:
    """Alive nodes and how many actors each gets: one per CPU (one per GPU for GPU tasks)."""
    import ray

    counts = {}
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        resources = node.get("Resources", {})
        count = int(resources.get("GPU", 0)) if use_gpu else int(resources.get("CPU", 0))
        if count:
            counts[node["NodeID"]] = count
    return counts


def score_on_ray(plan: ExecutionPlan, out: OutputFolder, ctx: RunContext, registry: Registry) -> Produced:
    """Score the plan's input on a Ray actor pool; the actors write the parts, the driver counts them."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    assert plan.data.source is not None and plan.model is not None
    connect(plan.request.ray_address)
    use_gpu = plan.task.gpu_batches and ray.cluster_resources().get("GPU", 0) >= 1
    layout = actors_per_node(use_gpu)
    todo = pieces(plan.data.source, plan.batch_rows)
    actor = ray.remote(PieceScorer)
    arguments = (plan.task.name, plan.params_json, plan.model.ref, registry.url, str(registry.home), plan.data.source,
                 out.staging, str(plan.task.batch_table), plan.table_format, plan.batch_rows)
    placed = seats(layout, len(todo))
    actors = [(node, actor.options(num_cpus=0 if use_gpu else 1, num_gpus=1 if use_gpu else 0,
                                   scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)
                                   ).remote(*arguments))
              for node, count in placed.items() for _ in range(count)]
    collector = PartCollector(str(plan.task.batch_table))
    started = time.perf_counter()
    finished: dict[int, tuple[list[tuple[str, int]], str, Any]] = {}
    received = 0  # bytes the driver got back: part names, counts, and a few sample rows
    try:
        # Every actor has its model before the first piece is handed out, so an actor that starts first (on the
        # driver's node, say) does not take the pieces meant for the others while they start.
        ray.get([scorer.ready.remote() for _, scorer in actors])  # type: ignore[attr-defined]
        shares = NodeShares(todo, placed)
        running: dict[Any, tuple[str, Any]] = {}

        def hand_out(node: str, scorer: Any) -> None:
            piece = shares.next_for(node)
            if piece is not None:
                running[scorer.score.remote(piece)] = (node, scorer)

        with ctx.progress.bar(f"Scoring on Ray ({len(actors)} actors on {len(placed)} nodes)",
                              total=plan.data.source.rows()) as bar:
            for node, scorer in actors:
                hand_out(node, scorer)
            while running:
                [done], _ = ray.wait(list(running), num_returns=1)
                index, written, where, sample = ray.get(done)
                hand_out(*running.pop(done))
                finished[index] = (written, where, sample)
                received += sum(len(name) + 8 for name, _ in written) + len(where) + (
                    sample.estimated_size() if sample is not None else 0)
                bar.advance(sum(rows for _, rows in written))
    except ray.exceptions.RayError as error:
        raise Invalid(f"a Ray worker failed: {clean(error)}") from None
    finally:
        for _, scorer in actors:
            scorer.close.remote()  # type: ignore[attr-defined]
            ray.kill(scorer, no_restart=True)  # type: ignore[arg-type]
    for index in sorted(finished):  # parts in input order
        written, node, sample = finished[index]
        for number, (name, rows) in enumerate(written):
            collector.add_counted(name, rows, sample if number == 0 else None, node)
    return collector.produced(plan, "ray", time.perf_counter() - started,
                              {"actors": len(actors), "pieces": len(todo), "driver_bytes": received})
