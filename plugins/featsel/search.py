"""The Optuna search over feature subsets: one boolean per feature, a cache by mask, pruning by fold."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from optuna.storages.journal import BaseJournalBackend

from workbench.sdk import ProgressReporter, RunContext, WorkbenchError, validate_name
from workbench_featsel.models import cross_validate
from workbench_featsel.problem import Problem


@dataclass
class SearchResult:
    """The study and what the search measured along the way."""

    study: Any
    best_mask: tuple[bool, ...]
    best_cv: float  # scorer value (greater is better) of the chosen subset
    fits: int = 0  # models fitted, one per fold actually run
    cache_hits: int = 0
    seconds: float = 0.0
    history: list[tuple[float, float]] = field(default_factory=list)  # (seconds, best cv so far) per trial


def open_storage(storage: str | None, study: str | None, ctx: RunContext) -> Any:
    """`journal:PATH` (safe for many processes on one machine), a database URL the settings allow, or in memory.

    A study name with no storage keeps its journal in the task's state folder; a relative journal path lives
    there too, and an absolute one must lie inside the workspace.
    """
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if study is not None:
        validate_name(study, "study name")
    if storage is None and study is None:
        return None
    if storage is None:
        storage = f"journal:{study}.journal"
    if storage.startswith("journal:"):
        path = ctx.storage_path(storage.removeprefix("journal:"), "optuna")
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    return storage


def default_workers(trials: int) -> int:
    """Worker processes when `-p workers` is unset: one per core, but none beyond one per ten trials (starting a
    process costs about as much as a few trials)."""
    import os

    return max(1, min(os.cpu_count() or 1, trials // 10))


def ray_workers(trials: int) -> int:
    """Ray workers when `-p workers` is unset: one per CPU of the cluster, none beyond one per ten trials."""
    import ray

    return max(1, min(int(ray.cluster_resources().get("CPU", 1)), trials // 10))


def search_in_processes(problem: Problem, model: Any, *, workers: int, journal: str, study_name: str,
                        trials: int, penalty: float, seed: int, pareto: bool,
                        progress: ProgressReporter | None = None) -> SearchResult:
    """The same search, its trials shared by `workers` processes (this one included) through one journal study;
    each process draws from its own sampler seed, so which subsets are tried depends on their timing."""
    import multiprocessing

    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    context = multiprocessing.get_context("spawn")  # no fork: the parent's threads and OpenMP state stay its own
    helpers = [context.Process(target=_search_worker, args=(problem, model, journal, study_name, trials, penalty,
                                                            seed + index, pareto), daemon=True)
               for index in range(1, workers)]
    for helper in helpers:
        helper.start()
    try:
        storage = JournalStorage(JournalFileBackend(journal))
        found = search(problem, model, trials=trials, penalty=penalty, seed=seed, pareto=pareto, storage=storage,
                       study_name=study_name, progress=progress)
    except BaseException:  # cancelled or failed: the helpers stop now
        for helper in helpers:
            helper.terminate()
        raise
    for helper in helpers:  # they stop once the study holds its trials
        helper.join(timeout=60)
        if helper.is_alive():
            helper.terminate()
    return found


def search_on_ray(problem: Problem, model: Any, *, workers: int, study_name: str, trials: int, penalty: float,
                  seed: int, pareto: bool, progress: ProgressReporter | None = None) -> SearchResult:
    """The same search, its trials shared by this process and `workers - 1` Ray tasks on the cluster (one CPU
    each) through one study whose journal an actor holds, so every node can reach it."""
    import ray
    from optuna.storages import JournalStorage

    journal = ray.remote(num_cpus=0)(JournalLog).remote()
    helper = ray.remote(num_cpus=1, max_retries=0)(_ray_search_worker)
    helpers = [helper.remote(problem, model, journal, study_name, trials, penalty, seed + index, pareto)
               for index in range(1, workers)]
    try:
        found = search(problem, model, trials=trials, penalty=penalty, seed=seed, pareto=pareto,
                       storage=JournalStorage(RayJournal(journal)), study_name=study_name, progress=progress)
    except BaseException:  # cancelled or failed: the Ray tasks stop now
        for task in helpers:
            ray.cancel(task, force=True)
        raise
    ray.get(helpers)
    return found


class JournalLog:
    """A Ray actor holding an Optuna journal in memory: its calls run one at a time, which orders the log."""

    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []

    def read(self, start: int) -> list[dict[str, Any]]:
        return self.logs[start:]

    def append(self, logs: list[dict[str, Any]]) -> None:
        self.logs.extend(logs)


class RayJournal(BaseJournalBackend):
    """Optuna's journal backend over a `JournalLog` actor (reads and appends are remote calls)."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
        import ray

        return list(ray.get(self.actor.read.remote(log_number_from)))

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        import ray

        ray.get(self.actor.append.remote(logs))


def _ray_search_worker(problem: Problem, model: Any, journal: Any, study_name: str, trials: int, penalty: float,
                       seed: int, pareto: bool) -> None:
    """A Ray task: trials of the shared study until it holds `trials` of them."""
    from optuna.storages import JournalStorage

    search(problem, model, trials=trials, penalty=penalty, seed=seed, pareto=pareto,
           storage=JournalStorage(RayJournal(journal)), study_name=study_name)


def _search_worker(problem: Problem, model: Any, journal: str, study_name: str, trials: int, penalty: float,
                   seed: int, pareto: bool) -> None:
    """A helper process: trials of the shared study until it holds `trials` of them."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    search(problem, model, trials=trials, penalty=penalty, seed=seed, pareto=pareto,
           storage=JournalStorage(JournalFileBackend(journal)), study_name=study_name)


def search(problem: Problem, model: Any, *, trials: int, penalty: float, seed: int, pareto: bool,
           storage: Any = None, study_name: str | None = None,
           progress: ProgressReporter | None = None) -> SearchResult:
    """Search subsets with TPE (or NSGA-II over score and size); `trials` counts across all workers."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)  # they count towards `trials`
    names = [f"use_{index}" for index in range(len(problem.features))]
    if pareto:
        study = optuna.create_study(storage=storage, study_name=study_name, load_if_exists=True,
                                    directions=["maximize", "minimize"],
                                    sampler=optuna.samplers.NSGAIISampler(seed=seed))
    else:
        study = optuna.create_study(storage=storage, study_name=study_name, load_if_exists=True,
                                    direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
                                    pruner=optuna.pruners.MedianPruner(n_startup_trials=10, n_warmup_steps=0))
    if not study.trials:
        study.enqueue_trial(dict.fromkeys(names, True))  # all features first: the baseline to beat
    result = SearchResult(study, (True,) * len(names), -np.inf)
    known: dict[tuple[bool, ...], float | None] = {}  # mask -> mean CV score, None when pruned
    started = time.perf_counter()

    def refresh_from_study() -> None:
        for trial in study.get_trials(deepcopy=False):
            if trial.state in finished and "mask" in trial.user_attrs:
                known.setdefault(tuple(trial.user_attrs["mask"]), trial.user_attrs.get("cv_score"))

    def objective(trial: Any) -> Any:
        if trial.number >= trials:  # workers starting at once overshoot by a trial or two: those do not run
            trial.set_user_attr("surplus", True)
            trial.study.stop()
            raise optuna.TrialPruned("beyond the trials asked for")
        mask = tuple(trial.suggest_categorical(name, [True, False]) for name in names)
        count = sum(mask)
        trial.set_user_attr("mask", list(mask))
        if count == 0:
            raise optuna.TrialPruned("empty subset")
        if mask not in known:
            refresh_from_study()  # another worker may have scored it
        if mask in known:
            result.cache_hits += 1
            cv = known[mask]
            if cv is None:
                raise optuna.TrialPruned("pruned before")
        else:
            def after_fold(index: int, running: float) -> None:
                result.fits += 1
                if pareto:
                    return
                trial.report(running - penalty * count, index)
                if trial.should_prune():
                    known[mask] = None
                    raise optuna.TrialPruned()

            cv = cross_validate(model, problem, problem.columns(mask), after_fold)
            known[mask] = cv
        trial.set_user_attr("cv_score", cv)
        return (cv, count) if pareto else cv - penalty * count

    stop = optuna.study.MaxTrialsCallback(trials, states=finished)
    with (progress or ProgressReporter()).bar("Optuna trials", total=trials) as bar:
        counted = [0]

        def after_trial(study_: Any, trial: Any) -> None:
            cv = trial.user_attrs.get("cv_score") if trial.state.name == "COMPLETE" else None
            best = result.history[-1][1] if result.history else -np.inf
            result.history.append((time.perf_counter() - started, best if cv is None else max(best, cv)))
            done = min(len(study_.get_trials(deepcopy=False, states=finished)), trials)  # every worker's
            bar.advance(max(done - counted[0], 0))
            counted[0] = max(done, counted[0])

        study.optimize(objective, n_trials=trials, callbacks=[stop, after_trial])
    result.seconds = time.perf_counter() - started
    _choose(result, penalty, pareto)
    return result


def _choose(result: SearchResult, penalty: float, pareto: bool) -> None:
    """The study's best subset, over every worker's trials: best penalised score, or best CV on the front."""
    scored = [t for t in result.study.get_trials(deepcopy=False)
              if t.state.name == "COMPLETE" and t.user_attrs.get("cv_score") is not None]
    if not scored:
        raise WorkbenchError("no subset was scored; raise trials")
    if pareto:
        front = result.study.best_trials
        best = max(front, key=lambda t: (t.user_attrs["cv_score"], -sum(t.user_attrs["mask"])))
    else:
        best = max(scored, key=lambda t: t.user_attrs["cv_score"] - penalty * sum(t.user_attrs["mask"]))
    result.best_mask, result.best_cv = tuple(best.user_attrs["mask"]), best.user_attrs["cv_score"]
