"""Benchmark: data larger than memory, streamed, in memory, on Ray, fitted out of core (issues 16 and 29).

    python benchmarks/scale_bench.py [--sizes 5,20,50] [--memory-limit-gb 16] [--ray-sizes 5,20]
        [--fit-sizes 5,20,50] [--describe-sizes 10,50] [--skip-scale] [--skip-ray] [--skip-fit] [--skip-describe]

Generates Parquet parts of one million rows (onehot: five Zipf categorical columns; uplift: the ten uniform
features of the synthetic campaign; profile: eight floats, a five-level string and a unique id), fits an
encoder and an uplift model on small samples, then runs each command as its own process: `--stream` against
the in-memory path (stopped and recorded as out of memory past `--memory-limit-gb`); the Ray executor (local,
and a two-node cluster on this machine) against in-process streaming, with the bytes its driver received per
row and the rows each node scored; onehot fitted out of core over the parts against a fit in memory; and
`describe` against DuckDB's SUMMARIZE of the same Parquet (DuckDB: `pip install duckdb`, the bench group).
Peak RSS is the process tree's resident set, sampled every 50 ms. Figures go to benchmarks/results/scale.json.
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


def profile_part(rows: int, seed: int) -> pl.DataFrame:
    """Eight float columns, a five-level string and a unique id (the shape describe is measured on)."""
    rng = np.random.default_rng(seed)
    columns: dict = {f"f{i}": rng.normal(size=rows) for i in range(8)}
    columns["segment"] = pl.Series(np.array(["a", "b", "c", "d", "e"])[rng.integers(0, 5, rows)])
    columns["id"] = pl.Series([f"id-{seed:04d}-{row:07d}" for row in range(rows)])
    return pl.DataFrame(columns)


GENERATORS["profile"] = profile_part


def measured(args: list[str], env: dict[str, str], limit_bytes: int, program: str = WORKBENCH) -> dict:
    """Run a command (workbench by default); its wall time, the tree's peak RSS, and whether it was stopped for
    memory."""
    started = time.perf_counter()
    process = subprocess.Popen([program, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
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


def ray_rows(sizes: list[int], work: Path, env: dict[str, str], limit: int) -> list[dict]:
    """Local Ray and a two-node cluster against in-process streaming, onehot; the driver's received bytes per row
    against the output's bytes per row, and the rows each node scored."""
    import ray
    from ray.cluster_utils import Cluster

    rows = []
    for size in sizes:
        folder = generate("onehot", size, work)
        local = measured(apply_args("onehot", folder, work / "out" / f"ray-base-{size}", "--stream"), env, limit)
        rows.append({"rows_m": size, "executor": "streaming in-process", **local})
        out = work / "out" / f"ray-local-{size}"
        ray_local = measured(apply_args("onehot", folder, out, "--stream", "--executor", "ray"), env, limit)
        rows.append({"rows_m": size, "executor": "ray (local, started by the run)", **ray_local,
                     **driver_figures(env, out, size)})
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        cluster.add_node(num_cpus=1)  # two equal nodes, one actor each
        cluster.wait_for_nodes()
        out = work / "out" / f"ray-two-{size}"
        try:
            two = measured(apply_args("onehot", folder, out, "--stream", "--executor", "ray", "--ray-address",
                                      cluster.address), env, limit)
        finally:
            ray.shutdown()
            cluster.shutdown()
        rows.append({"rows_m": size, "executor": "ray (two nodes, 1 CPU each)", **two,
                     **driver_figures(env, out, size)})
        for row in rows[-3:]:
            row["rows_per_second"] = round(size * PART_ROWS / row["seconds"])
            row["against_in_process"] = round(local["seconds"] / row["seconds"], 2)
            print(json.dumps(row), flush=True)
    return rows


def driver_figures(env: dict[str, str], out: Path, size: int) -> dict:
    """What the latest (Ray) run's driver received, per row and against the output's size; rows per node."""
    metrics = last_run_metrics(env)
    written = sum(path.stat().st_size for path in out.rglob("*.parquet"))
    received = metrics.get("driver_bytes", 0)
    per_node = metrics.get("rows_per_node") or {}
    return {"driver_bytes_per_row": round(received / (size * PART_ROWS), 4),
            "output_bytes_per_row": round(written / (size * PART_ROWS), 2),
            "driver_share_of_output": round(received / written, 6) if written else None,
            "rows_per_node": per_node,
            "largest_node_share": round(max(per_node.values()) / sum(per_node.values()), 3) if per_node else None}


IN_MEMORY_FIT = """
import sys, polars as pl
from workbench.kit.encoding import RobustOneHotEncoder
frame = pl.read_parquet(sys.argv[1] + "/*.parquet")
RobustOneHotEncoder().fit(frame)
"""


def fit_rows(sizes: list[int], work: Path, env: dict[str, str], limit: int) -> list[dict]:
    """onehot fitted over the parts out of core (`workbench run onehot --data FOLDER`) against reading them whole
    and fitting the same encoder in memory."""
    rows = []
    for size in sizes:
        folder = generate("onehot", size, work)
        lazy = measured(["run", "onehot", "--data", str(folder), "--register", f"fitted-{size}"], env, limit)
        whole = measured(["-c", IN_MEMORY_FIT, str(folder)], env, limit, program=sys.executable)
        for path, figures in (("out of core", lazy), ("in memory", whole)):
            speed = None if figures["out_of_memory"] else round(size * PART_ROWS / figures["seconds"])
            row = {"rows_m": size, "path": path, **figures, "rows_per_second": speed}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


SUMMARIZE = """
import sys, duckdb
duckdb.sql(f"SUMMARIZE SELECT * FROM read_parquet('{sys.argv[1]}/*.parquet')").fetchall()
"""


def describe_rows(sizes: list[int], work: Path, env: dict[str, str], limit: int) -> list[dict]:
    """`workbench run describe` out of core against DuckDB's SUMMARIZE of the same parts, in the same run."""
    rows = []
    for size in sizes:
        folder = generate("profile", size, work)
        ours = measured(["run", "describe", "--data", str(folder)], env, limit)  # as SUMMARIZE: nothing written out
        duck = measured(["-c", SUMMARIZE, str(folder)], env, limit, program=sys.executable)
        row = {"rows_m": size, "describe_s": ours["seconds"], "describe_rss_gb": ours["peak_rss_gb"],
               "duckdb_s": duck["seconds"], "duckdb_rss_gb": duck["peak_rss_gb"],
               "time_ratio": round(ours["seconds"] / duck["seconds"], 2),
               "rss_ratio": round(ours["peak_rss_gb"] / duck["peak_rss_gb"], 2)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def last_run_metrics(env: dict[str, str]) -> dict:
    """The metrics the latest run recorded in the bench's registry."""
    from workbench.registry import Registry

    registry = Registry(None, Path(env["WORKBENCH_HOME"]))
    return registry.runs.get(registry.runs.list(limit=1)[0].id).outputs.get("metrics", {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,20,50", help="millions of rows for streaming against in memory")
    parser.add_argument("--memory-limit-gb", type=float, default=16.0)
    parser.add_argument("--ray-sizes", default="5,20", help="millions of rows for the Ray comparison")
    parser.add_argument("--fit-sizes", default="5,20,50", help="millions of rows fitted out of core")
    parser.add_argument("--describe-sizes", default="10,50", help="millions of rows profiled")
    parser.add_argument("--work", type=Path, help="where the generated parts go (default: a temporary folder)")
    for part in ("scale", "ray", "fit", "describe"):
        parser.add_argument(f"--skip-{part}", action="store_true")
    args = parser.parse_args()
    limit = int(args.memory_limit_gb * 2**30)
    work = args.work or Path(tempfile.mkdtemp(prefix="scale-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WORKBENCH_HOME": str(work / "home"), "HF_HUB_OFFLINE": "1"}
    fit_models(work, env)
    output = ROOT / "benchmarks" / "results" / "scale.json"
    results: dict = json.loads(output.read_text()) if output.exists() else {}
    sizes = {name: [int(size) for size in text.split(",")] for name, text in (
        ("scale", args.sizes), ("ray", args.ray_sizes), ("fit", args.fit_sizes), ("describe", args.describe_sizes))}
    for part, measure in (("scale", scale_rows), ("ray", ray_rows), ("fit", fit_rows), ("describe", describe_rows)):
        if not getattr(args, f"skip_{part}"):
            results[part] = measure(sizes[part], work, env, limit)
            output.parent.mkdir(exist_ok=True)
            output.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
