"""Benchmark: few-shot text classification on SST-2, AG News and clickbait (data in ../shared/data).

    python benchmarks/fewshot_bench.py [--seeds 5] [--shots 8 64] [--datasets sst2 ag_news clickbait]

For each dataset, method and N (examples per class, sampled as `setfit.sample_dataset` does, one draw
per seed): accuracy on a fixed test set (at most 1,000 rows), training seconds and inference sentences
per second on this machine, with the offline all-MiniLM-L6-v2 backbone. Zero-shot trains nothing, so
it runs once per dataset. Writes benchmarks/results/fewshot.csv and prints Markdown tables; skips
(exit 0) when the shared data is absent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results" / "fewshot.csv"
TEST_ROWS = 1000
# SetFit pair iterations: the paper's 20 at N=8; 5 at N=64 keeps a 2-core CPU run near a minute
# (2 x 5 x 256 = 2,560 pairs for AG News, twice the N=8 count).
ITERATIONS = {8: 20, 64: 5}
DESCRIPTIONS = {
    "sst2": {"0": "a negative movie review", "1": "a positive movie review"},
    "ag_news": {"World": "world news about politics and countries", "Sports": "sports news",
                "Business": "business and economy news", "Sci/Tech": "science and technology news"},
    "clickbait": {"1": "a sensational teaser headline that withholds information to make you click",
                  "0": "a factual news headline reporting an event"},
}
PUBLISHED = {("ag_news", "setfit", 8): "82.9 (MPNet)", ("ag_news", "setfit", 64): "88.0 (MPNet)"}


def load(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(pool to sample training examples from, fixed test set) with columns text, label."""
    if name == "sst2":
        read = lambda part: pl.read_csv(SHARED / "sst2" / f"{part}.tsv", separator="\t", quote_char=None)  # noqa: E731
        pool, test = read("train"), read("test")
        pool, test = (f.select(pl.col("sentence").alias("text"), pl.col("label").cast(pl.String)) for f in (pool, test))
        return pool, test.head(TEST_ROWS)
    if name == "ag_news":
        names = {1: "World", 2: "Sports", 3: "Business", 4: "Sci/Tech"}
        frame = pl.read_csv(SHARED / "ag_news" / "test.csv", has_header=False,
                            new_columns=["label", "title", "description"])
        frame = frame.select((pl.col("title") + ". " + pl.col("description")).alias("text"),
                             pl.col("label").replace_strict(names, return_dtype=pl.String))
    else:
        frame = pl.read_csv(SHARED / "clickbait" / "clickbait.csv").select(
            pl.col("headline").alias("text"), pl.col("clickbait").cast(pl.String).alias("label"))
    frame = frame.sample(fraction=1.0, shuffle=True, seed=0)
    return frame.slice(TEST_ROWS), frame.head(TEST_ROWS)


def run_one(dataset: str, method: str, shots: int, seed: int, pool: pl.DataFrame, test: pl.DataFrame,
            frozen_test: dict) -> dict:
    from workbench.sdk.progress import ProgressReporter
    from workbench_fewshot.backbone import Embedder, load_sentence_model, offline_backbone
    from workbench_fewshot.data import sample_per_class
    from workbench_fewshot.methods import cosine_softmax, fit_logistic_head, train_setfit

    quiet = ProgressReporter()
    classes = sorted(pool["label"].unique().to_list())
    labels = pool["label"].to_list()
    rows, _ = sample_per_class(labels, shots, seed) if method != "zeroshot" else (np.array([], dtype=int), {})
    texts = [pool["text"][int(i)] for i in rows]
    label_ids = np.array([classes.index(labels[i]) for i in rows])
    backbone = str(offline_backbone())
    started = time.perf_counter()
    if method == "setfit":
        settings = {"batch_size": 16, "epochs": 1, "iterations": ITERATIONS[shots], "max_length": 128, "seed": seed}
        with tempfile.TemporaryDirectory() as work:
            model = train_setfit(backbone, texts, label_ids, settings, Path(work), quiet, "cpu")
        body, head = model.model_body, model.model_head
    else:
        body = load_sentence_model(backbone, 128, "cpu")
        embedder = Embedder(body, None, None, 32)
        if method == "embeddings":
            head = fit_logistic_head(embedder.encode(texts, quiet), label_ids, seed)
        else:
            descriptions = [DESCRIPTIONS[dataset][label] for label in classes]
            label_vectors = embedder.encode(descriptions, quiet)
    train_seconds = time.perf_counter() - started
    # The frozen backbone gives the same test vectors every time: encode (and time) them once per dataset.
    if method != "setfit" and dataset in frozen_test:
        vectors, encode_seconds = frozen_test[dataset]
    else:
        started = time.perf_counter()
        vectors = Embedder(body, None, None, 32).encode(test["text"].to_list(), quiet)
        encode_seconds = time.perf_counter() - started
        if method != "setfit":
            frozen_test[dataset] = (vectors, encode_seconds)
    started = time.perf_counter()
    probabilities = cosine_softmax(vectors, label_vectors) if method == "zeroshot" else head.predict_proba(vectors)
    predict_seconds = encode_seconds + time.perf_counter() - started
    predicted = [classes[i] for i in probabilities.argmax(axis=1)]
    accuracy = float(np.mean(np.array(predicted) == test["label"].to_numpy()))
    return {"dataset": dataset, "method": method, "shots": shots, "seed": seed, "accuracy": accuracy,
            "train_seconds": train_seconds, "sentences_per_second": test.height / predict_seconds,
            "test_rows": test.height}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--shots", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--datasets", nargs="+", default=["sst2", "ag_news", "clickbait"])
    parser.add_argument("--resume", action="store_true", help="Keep the rows already in the results file.")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} not found")
        return
    from workbench.kit.huggingface import quiet_huggingface

    quiet_huggingface()
    rows = pl.read_csv(RESULTS).to_dicts() if args.resume and RESULTS.exists() else []
    done = {(r["dataset"], r["method"], r["shots"], r["seed"]) for r in rows}
    frozen_test = {}
    for dataset in args.datasets:
        pool, test = load(dataset)
        runs = [("zeroshot", 0, 0)] + [(method, shots, seed) for shots in args.shots
                                       for method in ("embeddings", "setfit") for seed in range(args.seeds)]
        for method, shots, seed in runs:
            if (dataset, method, shots, seed) in done:
                continue
            row = run_one(dataset, method, shots, seed, pool, test, frozen_test)
            rows.append(row)
            print(f"{dataset:10} {method:10} N={shots:<3} seed={seed} acc={row['accuracy']:.3f} "
                  f"train={row['train_seconds']:.1f}s infer={row['sentences_per_second']:.0f}/s", file=sys.stderr)
            RESULTS.parent.mkdir(exist_ok=True)
            pl.DataFrame(rows).write_csv(RESULTS)
    print_tables(pl.DataFrame(rows))


def print_tables(frame: pl.DataFrame) -> None:
    summary = frame.group_by("dataset", "method", "shots", maintain_order=True).agg(
        (pl.col("accuracy").mean() * 100).alias("mean"), (pl.col("accuracy").std() * 100).alias("std"),
        pl.col("train_seconds").mean(), pl.col("sentences_per_second").mean(), pl.len().alias("seeds"))
    print("| dataset | method | N | accuracy % (mean ± std) | seeds | train s | inference sent/s | published |")
    print("|---|---|---|---|---|---|---|---|")
    for r in summary.iter_rows(named=True):
        spread = f" ± {r['std']:.1f}" if r["seeds"] > 1 else ""
        shots = r["shots"] or "-"
        print(f"| {r['dataset']} | {r['method']} | {shots} | {r['mean']:.1f}{spread} | {r['seeds']} | "
              f"{r['train_seconds']:.1f} | {r['sentences_per_second']:.0f} | "
              f"{PUBLISHED.get((r['dataset'], r['method'], r['shots']), '')} |")
    means = {(r["dataset"], r["method"], r["shots"]): r["mean"] for r in summary.iter_rows(named=True)}
    print("\nSetFit minus embeddings + LR at each N (accuracy points):")
    for (dataset, method, shots), mean in means.items():
        if method == "setfit":
            print(f"- {dataset} N={shots}: {mean - means[(dataset, 'embeddings', shots)]:+.1f}")


if __name__ == "__main__":
    main()
