"""The `feature-selection` task: Optuna's subset search beside the classic selectors, on one split."""

from __future__ import annotations

import json
import time
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from workbench.sdk import (
    ModelArtifact,
    Result,
    RunContext,
    Task,
    TaskParams,
    WorkbenchError,
    advanced,
    column,
    setting,
    validate_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import polars as pl

    from workbench.sdk import ModelRecord


class FeatureSelectionParams(TaskParams):
    target: str = column("target", "Column to predict.", fit_only=True)
    task_type: Literal["auto", "classification", "regression"] = advanced(
        "auto", description="Inferred from the target when unambiguous.")
    model: Literal["random_forest", "lightgbm", "logistic", "linear"] = Field(
        "random_forest", description="The fixed model every subset is scored with (logistic/linear: scaled).")
    metric: Literal["auto", "f1_weighted", "f1_macro", "accuracy", "rmse", "mae", "r2"] = advanced(
        "auto", description="auto: weighted F1 for classification, RMSE for regression.")
    folds: int = advanced(5, ge=2, le=20, description="Cross-validation folds on the training split.")
    test_size: float = advanced(0.2, gt=0, lt=0.9, description="Held-out share (stratified when classifying).")
    trials: int = Field(100, ge=1, le=100_000, description="Optuna trials (in total, across workers sharing a study).")
    penalty: float = advanced(1e-4, ge=0, description="Subtracted from the CV score per feature used.")
    sampler: Literal["tpe", "nsga2"] = advanced(
        "tpe", description="tpe: one objective; nsga2: the Pareto front of CV score against feature count.")
    k: int | None = advanced(None, ge=1, description="Features kept by the classic methods (default: 10, or half).")
    compare: bool = advanced(True, description="Also run SelectKBest (F-test/chi2 and mutual information), forward "
                             "SFS, importance top-k and all features.")
    choose: Literal["best", "optuna", "kbest", "mutual_info", "forward_sfs", "importance", "all_features"] = Field(
        "best", description="Whose subset is registered: the best cross-validated method, or the one named.")
    storage: str | None = advanced(
        None, description="Shared study storage: journal:PATH (a file in the workspace; one machine) or a database "
        "URL listed in WORKBENCH_OPTUNA_STORAGES (many machines).")
    study: str | None = advanced(None, description="Study name; workers with the same name share the trials.")
    n_jobs: int = advanced(1, description="Cores per model fit (-1: all); on small data, run workers instead.")
    workers: int | None = advanced(
        None, ge=1, le=256, description="Processes (Ray workers with --executor ray) sharing the Optuna trials "
        "(default: one per core, or per CPU of the Ray cluster, at most one per "
        "ten trials). With more than one, which subsets are tried depends on the processes' timing: pass 1 for a "
        "search that repeats exactly with the same seed.")


    @field_validator("study")
    @classmethod
    def _study_name(cls, study: str | None) -> str | None:
        return None if study is None else validate_name(study, "study name")

    @field_validator("storage")
    @classmethod
    def _storage_inside(cls, storage: str | None) -> str | None:
        """A journal inside the workspace, or a database the settings name: a parameter never writes elsewhere."""
        if storage is None:
            return None
        if storage.startswith("journal:"):
            if ".." in PurePath(storage.removeprefix("journal:")).parts:
                raise WorkbenchError(f"storage {storage!r} climbs out of the workspace with '..'; use a path "
                                     "inside it (relative paths live in the task's state folder)")
            return storage
        allowed = setting("WORKBENCH_OPTUNA_STORAGES") or []
        if storage.startswith("sqlite"):
            raise WorkbenchError("SQLite storage locks up under concurrent workers; use storage=journal:PATH on one "
                                 "machine, or a PostgreSQL URL (listed in WORKBENCH_OPTUNA_STORAGES) across machines")
        if storage not in allowed:
            raise WorkbenchError(f"storage {storage[:60]!r} is not a journal in the workspace nor a database listed "
                                 "in WORKBENCH_OPTUNA_STORAGES; use storage=journal:NAME.journal, or ask the admin to "
                                 "list the database")
        return storage


class FeatureSelection(Task[FeatureSelectionParams]):
    name = "feature-selection"
    title = "Feature selection with Optuna"
    summary = "Search feature subsets with Optuna (TPE or NSGA-II) beside SelectKBest, forward SFS and importance."
    applies_models = True
    fits_on_ray = True  # --executor ray: the Optuna trials run on Ray workers
    headline = ("chosen_cv", "chosen_test", "chosen_count", "chosen_method")
    batch_table = "predictions"
    metric_words = {"kbest": "k-best", "sfs": "SFS"}
    trusted_types = frozenset({"sklearn.tree._tree.Tree", "lightgbm.basic.Booster",
                               "lightgbm.sklearn.LGBMClassifier", "lightgbm.sklearn.LGBMRegressor"})

    def ranking(self, metrics: dict[str, Any]) -> tuple[str, bool] | None:
        """Runs rank by the chosen subset's CV score, lower first for an error metric."""
        if "chosen_cv" not in metrics:
            return super().ranking(metrics)
        return "chosen_cv", metrics.get("metric") in ("rmse", "mae")

    def batch_scorer(self, params: FeatureSelectionParams, model: ModelRecord,
                     device: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
        from workbench_featsel.apply import Predictor

        return Predictor(model.path, self.trusted_types)

    def check(self, data: pl.DataFrame, params: FeatureSelectionParams, model: ModelRecord | None) -> None:
        if model is not None:
            from workbench_featsel.apply import check_inputs

            return check_inputs(data, model.path)
        from workbench_featsel.problem import check_target

        check_target(data, params.target, params.task_type, params.metric, params.folds, params.test_size)
        if not params.compare and params.choose not in ("best", "optuna"):
            raise WorkbenchError(f"choose={params.choose} needs the classic methods: drop -p compare=false, or "
                                 "choose optuna")
        return None

    def run(self, data: pl.DataFrame, params: FeatureSelectionParams, ctx: RunContext) -> Result:
        if ctx.model is not None:
            from workbench_featsel.apply import predict

            return predict(data, ctx.model.path, self.trusted_types)
        from workbench_featsel.models import cross_validate, holdout_score, make_model
        from workbench_featsel.problem import build_problem
        from workbench_featsel.report import build_result
        from workbench_featsel.search import (
            default_workers,
            open_storage,
            ray_workers,
            search,
            search_in_processes,
            search_on_ray,
        )

        problem = build_problem(data, params.target, params.task_type, params.metric, params.folds,
                                params.test_size, ctx.seed)
        model = make_model(params.model, problem.kind, ctx.seed, params.n_jobs)
        storage = open_storage(params.storage, params.study, ctx)
        on_ray = ctx.ray_address is not None
        workers = params.workers or (ray_workers(params.trials) if on_ray else default_workers(params.trials))
        if on_ray and storage is not None:
            raise WorkbenchError("--executor ray shares the trials through a study Ray holds; drop storage and study "
                                 "(or drop --executor ray to use them)")
        if on_ray:
            found = search_on_ray(problem, model, workers=workers, study_name="search", trials=params.trials,
                                  penalty=params.penalty, seed=ctx.seed, pareto=params.sampler == "nsga2",
                                  progress=ctx.progress)
        elif workers > 1 and storage is None:  # a journal in the run's scratch, shared by its worker processes
            found = search_in_processes(problem, model, workers=workers, journal=str(ctx.scratch_dir / "study.journal"),
                                        study_name="search", trials=params.trials, penalty=params.penalty,
                                        seed=ctx.seed, pareto=params.sampler == "nsga2", progress=ctx.progress)
        else:
            found = search(problem, model, trials=params.trials, penalty=params.penalty, seed=ctx.seed,
                           pareto=params.sampler == "nsga2", storage=storage, study_name=params.study,
                           progress=ctx.progress)
        rows = [_row("optuna", "optuna", problem, found.best_mask, found.best_cv,
                     holdout_score(model, problem, problem.columns(found.best_mask)), found.seconds)]
        if params.compare:
            k = params.k or (10 if len(problem.features) > 10 else max(1, len(problem.features) // 2))
            for key, select in ctx.progress.track(_classic_methods(k, ctx.seed), "Classic methods"):
                started = time.perf_counter()
                mask, label = select(problem, model)
                columns = problem.columns(mask)
                rows.append(_row(key, label, problem, mask, cross_validate(model, problem, columns),
                                 holdout_score(model, problem, columns), time.perf_counter() - started))
        chosen = _chosen(rows, params.choose, problem.lower_is_better)
        artifact = _save(ctx, problem, model, chosen["mask"], params.target)
        result = build_result(problem, found, rows, chosen, params, artifact)
        result.metrics["workers"] = workers if storage is None else 1
        if result.metrics["workers"] > 1:
            sharers = "Ray workers" if on_ray else "processes"
            result.summary += (f"\n\n{workers} {sharers} shared the trials, so which subsets were tried depends on "
                               "their timing; pass -p workers=1 for a search that repeats exactly.")
        return result


def _classic_methods(k: int, seed: int) -> Any:
    """(key, selector) pairs; each selector returns the feature mask and the method's label."""
    from workbench_featsel.classic import forward_sfs, importance, k_best, mutual_information

    def kbest(problem: Any, model: Any) -> Any:
        mask, function = k_best(problem, model, k)
        return mask, f"kbest_{function}_top{k}"

    return [
        ("kbest", kbest),
        ("mutual_info", lambda problem, model: (mutual_information(problem, k, seed), f"kbest_mutual_info_top{k}")),
        ("forward_sfs", lambda problem, model: (forward_sfs(problem, model, k), f"forward_sfs_top{k}")),
        ("importance", lambda problem, model: (importance(problem, model, k), f"importance_top{k}")),
        ("all_features", lambda problem, model: ([True] * len(problem.features), "all_features")),
    ]


def _row(key: str, method: str, problem: Any, mask: Any, cv: float, test: float, seconds: float) -> dict:
    chosen = [name for name, keep in zip(problem.features, mask, strict=True) if keep]
    return {"key": key, "method": method, "features": ", ".join(chosen), "count": len(chosen),
            "cv_score": problem.shown(cv), "test_score": problem.shown(test), "seconds": seconds, "mask": list(mask)}


def _chosen(rows: list[dict], choose: str, lower_is_better: bool) -> dict:
    """The row whose subset is registered: the best CV score (fewer features break ties), or the one named."""
    if choose != "best":
        return next(row for row in rows if row["key"] == choose)
    return min(rows, key=lambda row: ((row["cv_score"] if lower_is_better else -row["cv_score"]), row["count"]))


def _save(ctx: RunContext, problem: Any, model: Any, mask: Any, target: str) -> ModelArtifact:
    """The chosen features and the model refitted on the whole training split (skops, no pickle)."""
    from workbench.sdk import save_skops
    from workbench_featsel.models import fit_on

    folder = ctx.new_model_dir("featsel")
    columns = problem.columns(mask)
    save_skops(fit_on(model, problem, problem.train, columns), folder / "model.skops")
    selection = {"target": target, "kind": problem.kind, "metric": problem.metric,
                 "input_features": problem.features,
                 "features": [name for name, keep in zip(problem.features, mask, strict=True) if keep],
                 "columns": columns.tolist()}
    (folder / "selection.json").write_text(json.dumps(selection, indent=1))
    if problem.encoder is not None:
        (folder / "encoder.json").write_text(json.dumps(problem.encoder.to_dict()))
    return ModelArtifact(folder)
