"""An example workbench plugin: the `zscore` task standardises a numeric column.

Fitting keeps the column's mean and standard deviation as a registered model (plain JSON); applying the model
standardises new data with the training statistics, in memory or batch by batch (`--stream`, `--executor ray`)
through its batch scorer. Everything it uses comes from `workbench.sdk`.
"""

import json
from collections.abc import Callable

import polars as pl

from workbench.sdk import (
    ModelArtifact,
    ModelRecord,
    Register,
    Result,
    RunContext,
    Task,
    TaskParams,
    WorkbenchError,
    column,
    hookimpl,
)

WORKBENCH_HOOK_API = 1
STATS_FILE = "zscore.json"


class ZScoreParams(TaskParams):
    value: str = column("feature", "Numeric column to standardise.", kind="numeric")


def standardise(data: pl.DataFrame, value: str, stats: dict[str, float]) -> pl.DataFrame:
    """The rows with `VALUE_z` added: a row's score depends on that row alone."""
    return data.with_columns(((data[value].cast(pl.Float64) - stats["mean"]) / stats["std"]).alias(f"{value}_z"))


class ZScore(Task[ZScoreParams]):
    name = "zscore"
    title = "Standardise a column"
    summary = "Adds the z-score of a numeric column; the mean and deviation are kept as a model."
    applies_models = True
    headline = ("mean", "std")
    batch_table = "scored"

    def run(self, data: pl.DataFrame, params: ZScoreParams, ctx: RunContext) -> Result:
        models = []
        if ctx.model is not None:
            stats = json.loads((ctx.model.path / STATS_FILE).read_text())
        else:
            values = data[params.value].cast(pl.Float64)
            stats = {"mean": values.mean(), "std": values.std()}
            if not stats["std"]:
                raise WorkbenchError(f"column {params.value!r} is constant; there is nothing to standardise")
            folder = ctx.new_model_dir("zscore")
            (folder / STATS_FILE).write_text(json.dumps(stats))
            models.append(ModelArtifact(folder, metrics=stats))
        return Result(tables={"scored": standardise(data, params.value, stats)},
                      metrics={"mean": stats["mean"], "std": stats["std"]},
                      summary=f"Standardised `{params.value}` (mean {stats['mean']:.4g}, sd {stats['std']:.4g}).",
                      models=models)

    def batch_scorer(self, params: ZScoreParams, model: ModelRecord,
                     device: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
        stats = json.loads((model.path / STATS_FILE).read_text())
        return lambda batch: standardise(batch, params.value, stats)


@hookimpl
def register_tasks(register: Register) -> None:
    register(ZScore())
