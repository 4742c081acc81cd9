"""Benchmark: RobustOneHotEncoder against scikit-learn's OneHotEncoder and pandas.get_dummies.

    python benchmarks/onehot_bench.py [--rows 10000000]

Each contender runs in its own process: fit on the training frame, transform an inference frame that
brings unseen levels. Reported: wall time of fit + transform, peak memory above the loaded data
(resident set, sampled every 5 ms), and a hash of the output matrix, which must agree across contenders.
"""

from __future__ import annotations

import argparse
import hashlib
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

DENSE_LEVELS = [5, 10, 20, 50, 100]
SPARSE_LEVELS = [1_000, 10_000]
UNSEEN_SHARE = 0.005


def make_frame(rows: int, levels: list[int], seed: int, unseen: bool) -> pl.DataFrame:
    """Zipf-like categorical columns; with `unseen`, a share of rows carry levels never seen in training."""
    rng = np.random.default_rng(seed)
    columns = {}
    for index, count in enumerate(levels):
        weights = 1 / np.arange(1, count + 1)
        codes = rng.choice(count, size=rows, p=weights / weights.sum())
        names = np.array([f"L{level}" for level in range(count)] + [f"NEW{k}" for k in range(3)])
        if unseen:
            new = rng.random(rows) < UNSEEN_SHARE
            codes[new] = count + rng.integers(0, 3, size=int(new.sum()))
        columns[f"c{index}"] = pl.Series(names[codes]).cast(pl.String)
    return pl.DataFrame(columns)


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Samples the resident set size in a thread; `peak` is the most seen above the start."""

    def __enter__(self):
        self.start, self.peak, self._running = rss_bytes(), 0, True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while self._running:
            self.peak = max(self.peak, rss_bytes() - self.start)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._running = False
        self._thread.join()
        self.peak = max(self.peak, rss_bytes() - self.start)


def matrix_hash(matrix) -> str:
    """Hash of a dense (polars/numpy) or sparse matrix's values, column by column / CSR structure."""
    digest = hashlib.sha256()
    if hasattr(matrix, "tocsr"):
        csr = matrix.tocsr()
        csr.sort_indices()
        for part in (csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data.astype(np.uint8)):
            digest.update(np.ascontiguousarray(part).tobytes())
        return digest.hexdigest()
    if isinstance(matrix, pl.DataFrame):
        columns = [series.to_numpy() for series in matrix.iter_columns()]
    else:
        columns = [matrix[:, j] for j in range(matrix.shape[1])]
    for column in columns:
        digest.update(np.ascontiguousarray(column, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def run_contender(name: str, mode: str, train_path: str, infer_path: str) -> dict:
    import pandas as pd
    from sklearn.preprocessing import OneHotEncoder

    from workbench.kit.encoding import RobustOneHotEncoder

    train, infer = pl.read_parquet(train_path), pl.read_parquet(infer_path)
    if name != "workbench":
        train, infer = train.to_pandas(), infer.to_pandas()
    with PeakMemory() as memory:
        started = time.perf_counter()
        if name == "workbench":
            encoder = RobustOneHotEncoder(sparse_output=mode == "sparse").fit(train)
            output = encoder.transform(infer)
        elif name == "sklearn":
            if mode == "sparse":
                encoder = OneHotEncoder(handle_unknown="ignore")
            else:
                encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.uint8)
            output = encoder.fit(train).transform(infer)
        else:  # pandas.get_dummies, then reindex to the training columns
            columns = pd.get_dummies(train, dtype=np.uint8).columns
            output = pd.get_dummies(infer, dtype=np.uint8).reindex(columns=columns, fill_value=0).to_numpy()
        seconds = time.perf_counter() - started
    return {"contender": name, "mode": mode, "seconds": seconds, "peak_mib": memory.peak / 2**20,
            "shape": list(output.shape), "hash": matrix_hash(output)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--train", help=argparse.SUPPRESS)
    parser.add_argument("--infer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(run_contender(args.contender, args.mode, args.train, args.infer)))
        return
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for mode, levels, contenders in (("dense", DENSE_LEVELS, ["workbench", "sklearn", "get_dummies"]),
                                         ("sparse", SPARSE_LEVELS, ["workbench", "sklearn"])):
            train, infer = Path(folder) / f"{mode}_train.parquet", Path(folder) / f"{mode}_infer.parquet"
            make_frame(args.rows, levels, seed=1, unseen=False).write_parquet(train)
            make_frame(args.rows, levels, seed=2, unseen=True).write_parquet(infer)
            for contender in contenders:
                command = [sys.executable, __file__, "--contender", contender, "--mode", mode,
                           "--train", str(train), "--infer", str(infer)]
                result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
                results.append(result)
                print(f"{mode:6} {contender:12} {result['seconds']:8.2f} s {result['peak_mib']:9.0f} MiB "
                      f"shape {result['shape']} hash {result['hash'][:12]}", flush=True)
    print(f"\n{args.rows:,} rows; inference frame with {UNSEEN_SHARE:.1%} unseen levels per column\n")
    print("| mode | contender | fit + transform (s) | peak memory (MiB) | speed-up vs sklearn | memory vs sklearn "
          "| same matrix |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        base = next(r for r in results if r["mode"] == result["mode"] and r["contender"] == "sklearn")
        print(f"| {result['mode']} | {result['contender']} | {result['seconds']:.2f} | {result['peak_mib']:.0f} | "
              f"{base['seconds'] / result['seconds']:.1f}x | {result['peak_mib'] / base['peak_mib']:.2f} | "
              f"{'yes' if result['hash'] == base['hash'] else 'NO'} |")


if __name__ == "__main__":
    main()
