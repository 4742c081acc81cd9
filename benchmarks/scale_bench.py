"""Benchmark: applying a model to data larger than memory, streamed, in memory, and on Ray (issue 16).

    python benchmarks/scale_bench.py [--sizes 5,20,50] [--memory-limit-gb 16] [--skip-ray] [--skip-describe]

Generates Parquet parts of one million rows (onehot: five Zipf categorical columns; uplift: the ten uniform
features of the synthetic campaign), fits an encoder and an uplift model on small samples, then runs
`workbench run TASK --model M --data FOLDER --out OUT` as its own process for each size: `--stream`, and the
in-memory path until it passes `--memory-limit-gb` (then it is stopped and recorded as out of memory).
Peak RSS is the process tree's resident set, sampled every 50 ms. Then the Ray executor (a local Ray, and a
two-node cluster on this machine) against in-process streaming, and `describe` out of core.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import psutil

ROOT = Path(__file__).resolve().parents[1]
WORKBENCH = str(Path(sys.executable).with_name("workbench"))
PART_ROWS = 1_000_000
LEVELS = [5, 10, 20, 50, 100]


def onehot_part(rows: int, seed: int) -> pl.DataFrame:
    """Zipf-like categorical columns, a few levels unseen in the fit sample."""
    rng = np.random.default_rng(seed)
    columns = {}
    for index, count in enumerate(LEVELS):
        weights = 1 / np.arange(1, count + 1)
        names = np.array([f"L{level}" for level in range(count)])
        columns[f"c{index}"] = pl.Series(names[rng.choice(count, size=rows, p=weights / weights.sum())])
    return pl.DataFrame(columns)


def uplift_part(rows: int, seed: int) -> pl.DataFrame:
    """The campaign's ten uniform features."""
    values = np.random.default_rng(seed).uniform(size=(rows, 10))
    return pl.DataFrame({f"x{i}": values[:, i] for i in range(10)})


GENERATORS = {"onehot": onehot_part, "uplift": uplift_part}


def generate(task: str, parts: int, work: Path) -> Path:
    """`parts` million rows as Parquet parts under work/TASK-parts; a folder of links per size."""
    store = work / f"{task}-parts"
    store.mkdir(parents=True, exist_ok=True)
    for index in range(parts):
        path = store / f"part-{index:04d}.parquet"
        if not path.exists():
            GENERATORS[task](PART_ROWS, seed=index).write_parquet(path)
    folder = work / f"{task}-{parts}M"
    folder.mkdir(exist_ok=True)
    for index in range(parts):
        link = folder / f"part-{index:04d}.parquet"
        if not link.exists():
            link.symlink_to(store / link.name)
    return folder


def measured(args: list[str], env: dict[str, str], limit_bytes: int) -> dict:
    """Run a workbench command; its wall time, the tree's peak RSS, and whether it was stopped for memory."""
    started = time.perf_counter()
    process = subprocess.Popen([WORKBENCH, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    peak, stopped = 0, False
    tree = psutil.Process(process.pid)

    def sample() -> None:
        nonlocal peak, stopped
        while process.poll() is None:
            try:
                rss = sum(p.memory_info().rss for p in [tree, *tree.children(recursive=True)])
            except psutil.Error:
                rss = 0
            peak = max(peak, rss)
            if rss > limit_bytes:
                stopped = True
                for child in [*tree.children(recursive=True), tree]:
                    child.kill()
            time.sleep(0.05)

    watcher = threading.Thread(target=sample)
    watcher.start()
    out, err = process.communicate()
    watcher.join()
    seconds = time.perf_counter() - started
    if process.returncode != 0 and not stopped:
        raise SystemExit(f"{' '.join(args)} failed: {err.strip().splitlines()[-1] if err.strip() else out}")
    return {"seconds": round(seconds, 1), "peak_rss_gb": round(peak / 2**30, 2), "out_of_memory": stopped}


def fit_models(work: Path, env: dict[str, str]) -> None:
    """An encoder on 100,000 generated rows; an uplift model on the synthetic campaign (1,000 per arm)."""
    sample = work / "onehot-fit.parquet"
    onehot_part(100_000, seed=10_000).write_parquet(sample)
    subprocess.run([WORKBENCH, "run", "onehot", "--data", str(sample), "--register", "encoder"], env=env,
                   check=True, capture_output=True)
    campaign = work / "campaign.csv"
    subprocess.run([WORKBENCH, "uplift-data", str(campaign), "--per-arm", "1000"], env=env, check=True,
                   capture_output=True)
    subprocess.run([WORKBENCH, "run", "uplift", "--data", str(campaign), "-p", "treatment=treatment", "-p",
                    "outcome=outcome", "-p", "features=" + ",".join(f"x{i}" for i in range(10)),
                    "--register", "campaign-uplift"], env=env, check=True, capture_output=True)


MODELS = {"onehot": "encoder", "uplift": "campaign-uplift"}


def apply_args(task: str, folder: Path, out: Path, *extra: str) -> list[str]:
    return ["run", task, "--data", str(folder), "--model", MODELS[task], "--out", str(out), *extra]


def scale_rows(sizes: list[int], work: Path, env: dict[str, str], limit: int) -> list[dict]:
    rows = []
    for task in MODELS:
        for size in sizes:
            folder = generate(task, size, work)
            for path in ("streaming", "in memory"):
                extra = ["--stream"] if path == "streaming" else []
                figures = measured(apply_args(task, folder, work / "out" / f"{task}-{size}-{path}", *extra),
                                   env, limit)
                figures.update(task=task, rows_m=size, path=path,
                               rows_per_second=None if figures["out_of_memory"]
                               else round(size * PART_ROWS / figures["seconds"]))
                print(json.dumps(figures), flush=True)
                rows.append(figures)
    return rows


def ray_rows(size: int, work: Path, env: dict[str, str], limit: int) -> list[dict]:
    """Local Ray and a two-node cluster against in-process streaming, onehot on `size` million rows."""
    import ray
    from ray.cluster_utils import Cluster

    folder = generate("onehot", size, work)
    rows = []
    local = measured(apply_args("onehot", folder, work / "out" / "ray-base", "--stream"), env, limit)
    rows.append({"executor": "streaming in-process", **local})
    ray_local = measured(apply_args("onehot", folder, work / "out" / "ray-local", "--stream", "--executor", "ray"),
                         env, limit)
    rows.append({"executor": "ray (local, started by the run)", **ray_local})
    # two logical CPUs per node (four on two cores): three actors, so both nodes get blocks
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    try:
        two = measured(apply_args("onehot", folder, work / "out" / "ray-two", "--stream", "--executor", "ray",
                                  "--ray-address", cluster.address), env, limit)
    finally:
        ray.shutdown()
        cluster.shutdown()
    two["rows_per_node"] = last_run_metrics(env).get("rows_per_node")
    rows.append({"executor": "ray (two nodes, 2 logical CPUs each)", **two})
    for row in rows:
        row["rows_per_second"] = round(size * PART_ROWS / row["seconds"])
        print(json.dumps(row), flush=True)
    return rows


def last_run_metrics(env: dict[str, str]) -> dict:
    """The metrics the latest run recorded in the bench's registry."""
    from workbench.registry import Registry

    registry = Registry(None, Path(env["WORKBENCH_HOME"]))
    return registry.runs.get(registry.runs.list(limit=1)[0].id).outputs.get("metrics", {})


def describe_row(size: int, work: Path, env: dict[str, str], limit: int) -> dict:
    folder = generate("uplift", size, work)
    figures = measured(["run", "describe", "--data", str(folder), "--out", str(work / "out" / "describe")], env,
                       limit)
    figures.update(rows_m=size, rows_per_second=round(size * PART_ROWS / figures["seconds"]))
    print(json.dumps(figures), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,20,50", help="millions of rows, comma-separated")
    parser.add_argument("--memory-limit-gb", type=float, default=16.0)
    parser.add_argument("--ray-size", type=int, default=5, help="millions of rows for the Ray comparison")
    parser.add_argument("--work", type=Path, help="where the generated parts go (default: a temporary folder)")
    parser.add_argument("--skip-scale", action="store_true", help="only the Ray and describe figures")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-describe", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    limit = int(args.memory_limit_gb * 2**30)
    work = args.work or Path(tempfile.mkdtemp(prefix="scale-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WORKBENCH_HOME": str(work / "home"), "HF_HUB_OFFLINE": "1"}
    fit_models(work, env)
    output = ROOT / "benchmarks" / "results" / "scale.json"
    results: dict = json.loads(output.read_text()) if args.skip_scale and output.exists() else {}
    if not args.skip_scale:
        results["scale"] = scale_rows(sizes, work, env, limit)
    if not args.skip_ray:
        results["ray"] = ray_rows(args.ray_size, work, env, limit)
    if not args.skip_describe:
        results["describe"] = describe_row(max(sizes), work, env, limit)
    output.parent.mkdir(exist_ok=True)
    output.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
