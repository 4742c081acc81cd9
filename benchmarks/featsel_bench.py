"""Benchmark: feature selection on the mobile price data (../shared/data/mobile_price/train.csv).

    python benchmarks/featsel_bench.py [--trials 100]

1. The published example (80/20 stratified split, seed 32, 5 stratified folds, RandomForest defaults,
   penalty 1e-4, 100 TPE trials) through the `feature-selection` task, every method beside the
   published figures.
2. Our search against a plain re-implementation of the published loop (no pruning, no cache, same
   trials, split and folds): wall time, and the time each first reaches the plain loop's best CV score.
   The last row is what a run does by default: one worker process per core sharing one study.
3. One worker against two worker processes sharing one journal-storage study (1 core per model fit).
Prints Markdown tables; skips (exit 0) when the shared data is absent.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mobile_price" / "train.csv"
PUBLISHED = {"optuna": "9 features, CV 0.911, test 0.882", "kbest_chi2_top10": "test 0.888",
             "forward_sfs_top10": "test just under 0.88", "importance_top10": "test 0.883",
             "all_features": "test 0.87"}
SEED = 32


def reproduce(data: pl.DataFrame, trials: int) -> None:
    from workbench.registry import Registry
    from workbench.testing import run_task

    params = {"target": "price_range", "trials": trials, "k": 10}
    started = time.perf_counter()
    outcome = run_task("feature-selection", data, "mobile_price", params=params, seed=SEED, registry=Registry.open())
    print(f"\n### Published example ({time.perf_counter() - started:.0f} s in all)\n")
    print("| method | count | CV weighted F1 | test weighted F1 | seconds | published | features |")
    print("|---|---|---|---|---|---|---|")
    for row in outcome.result.tables["comparison"].iter_rows(named=True):
        print(f"| {row['method']} | {row['count']} | {row['cv_score']:.4f} | {row['test_score']:.4f} | "
              f"{row['seconds']:.1f} | {PUBLISHED.get(row['method'], '')} | {row['features']} |")
    metrics = outcome.result.metrics
    print(f"\nOptuna: {metrics['trials']} trials, {metrics['pruned']} pruned, {metrics['cache_hits']} from the "
          f"cache, {metrics['fits']} model fits (the plain loop makes {5 * trials}).")


def plain_loop(problem, trials: int) -> tuple[float, list[tuple[float, float]]]:
    """The published loop: suggest a boolean per feature, K-fold CV, penalty; nothing saved or stopped early."""
    import optuna
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import f1_score

    history: list[tuple[float, float]] = []
    started = time.perf_counter()

    def objective(trial):
        mask = [trial.suggest_categorical(f"use_{i}", [True, False]) for i in range(len(problem.features))]
        if not any(mask):
            return 0.0
        columns = problem.columns(mask)
        scores = []
        for fit, check in problem.folds:
            rows_fit, rows_check = problem.train[fit], problem.train[check]
            model = RandomForestClassifier(random_state=SEED).fit(problem.X[np.ix_(rows_fit, columns)],
                                                                  problem.y[rows_fit])
            predicted = model.predict(problem.X[np.ix_(rows_check, columns)])
            scores.append(f1_score(problem.y[rows_check], predicted, average="weighted"))
        cv = float(np.mean(scores))
        best = history[-1][1] if history else -np.inf
        history.append((time.perf_counter() - started, max(best, cv)))
        return cv - 1e-4 * sum(mask)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=SEED))
    study.enqueue_trial({f"use_{i}": True for i in range(len(problem.features))})
    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - started, history


def time_to_reach(history: list[tuple[float, float]], target: float) -> str:
    for seconds, best in history:
        if best >= target - 1e-12:
            return f"{seconds:.1f} s"
    return "not reached"


def compare_with_plain_loop(data: pl.DataFrame, trials: int, only_default: bool = False) -> None:
    from workbench_featsel.models import make_model
    from workbench_featsel.problem import build_problem
    from workbench_featsel.search import default_workers, search, search_in_processes

    problem = build_problem(data, "price_range", "auto", "auto", 5, 0.2, SEED)
    plain_seconds, plain_history = plain_loop(problem, trials)
    target = plain_history[-1][1]
    rows = [("plain loop (published)", plain_seconds, plain_history, 5 * trials, 0, 0)]
    for n_jobs in (1, -1) if not only_default else ():
        model = make_model("random_forest", "classification", SEED, n_jobs)
        found = search(problem, model, trials=trials, penalty=1e-4, seed=SEED, pareto=False)
        pruned = sum(t.state.name == "PRUNED" for t in found.study.trials)
        rows.append((f"workbench search, n_jobs={n_jobs}", found.seconds, found.history, found.fits,
                     found.cache_hits, pruned))
    workers = default_workers(trials)  # what a run does by default: one process per core sharing the study
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        found = search_in_processes(problem, make_model("random_forest", "classification", SEED, 1),
                                    workers=workers, journal=str(Path(folder) / "study.journal"), study_name="bench",
                                    trials=trials, penalty=1e-4, seed=SEED, pareto=False)
        seconds = time.perf_counter() - started  # wall time, the helpers' start-up included
        pruned = sum(t.state.name == "PRUNED" for t in found.study.trials)
        best = max(t.user_attrs.get("cv_score", -np.inf) for t in found.study.trials)
    history = [(seconds, best)]  # the helpers' trials have no timings in this process: the final best only
    rows.append((f"workbench default ({workers} worker processes)", seconds, history, found.fits, found.cache_hits,
                 pruned))
    print(f"\n### Search against the plain loop ({trials} trials; plain loop's best CV F1 {target:.4f})\n")
    print("| implementation | wall time (s) | speed-up | model fits | cache hits | pruned | best CV F1 | "
          "time to reach the plain loop's best |")
    print("|---|---|---|---|---|---|---|---|")
    for name, seconds, history, fits, hits, pruned in rows:
        print(f"| {name} | {seconds:.1f} | {plain_seconds / seconds:.2f}x | {fits} | {hits} | {pruned} | "
              f"{history[-1][1]:.4f} | {time_to_reach(history, target)} |")


def workers(data: pl.DataFrame, trials: int) -> None:
    workbench = Path(sys.executable).with_name("workbench")
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "mobile.csv"
        data.write_csv(csv)
        timings = {}
        for count in (1, 2):
            journal = Path(folder) / f"study{count}.journal"
            args = [str(workbench), "run", "feature-selection", "--data", str(csv), "-p", "target=price_range",
                    "--seed", str(SEED), "-p", f"trials={trials}", "-p", "compare=false", "-p", "n_jobs=1",
                    "-p", f"study=bench{count}", "-p", f"storage=journal:{journal}"]
            env = {**os.environ, "WORKBENCH_HOME": str(Path(folder) / f"home{count}")}
            started = time.perf_counter()
            processes = [subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                         for _ in range(count)]
            codes = [process.wait() for process in processes]
            timings[count] = time.perf_counter() - started
            assert codes == [0] * count, codes
    print(f"\n### Workers sharing one study ({trials} trials in all, 1 core per fit, journal storage)\n")
    print("| workers | wall time (s) | speed-up |\n|---|---|---|")
    for count, seconds in timings.items():
        print(f"| {count} | {seconds:.1f} | {timings[1] / seconds:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--skip-reproduce", action="store_true")
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument("--only-default", action="store_true", help="against the plain loop, only the default run")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} not found (the shared data sets are not beside this checkout)")
        return
    data = pl.read_csv(DATA)
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="featsel-bench-"))
    if not args.skip_reproduce:
        reproduce(data, args.trials)
    compare_with_plain_loop(data, args.trials, args.only_default)
    if not args.skip_workers:
        workers(data, args.trials)


if __name__ == "__main__":
    main()
