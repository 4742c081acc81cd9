"""An example workbench plugin: the `zscore` task standardises a numeric column.

Fitting keeps the column's mean and standard deviation as a registered model (plain JSON); applying the model
standardises new data with the training statistics. Everything it uses comes from `workbench.sdk`.
"""

import json

import polars as pl

from workbench.sdk import ModelArtifact, Result, RunContext, Task, TaskParams, WorkbenchError, column, hookimpl

WORKBENCH_HOOK_API = 1
STATS_FILE = "zscore.json"


class ZScoreParams(TaskParams):
    value: str = column("feature", "Numeric column to standardise.", kind="numeric")


class ZScore(Task[ZScoreParams]):
    name = "zscore"
    title = "Standardise a column"
    summary = "Adds the z-score of a numeric column; the mean and deviation are kept as a model."
    applies_models = True

    def run(self, data: pl.DataFrame, params: ZScoreParams, ctx: RunContext) -> Result:
        values = data[params.value].cast(pl.Float64)
        models = []
        if ctx.model is not None:
            stats = json.loads((ctx.model.path / STATS_FILE).read_text())
        else:
            stats = {"mean": values.mean(), "std": values.std()}
            if not stats["std"]:
                raise WorkbenchError(f"column {params.value!r} is constant; there is nothing to standardise")
            folder = ctx.new_model_dir("zscore")
            (folder / STATS_FILE).write_text(json.dumps(stats))
            models.append(ModelArtifact(folder, metrics=stats))
        scored = data.with_columns(((values - stats["mean"]) / stats["std"]).alias(f"{params.value}_z"))
        return Result(tables={"scored": scored}, metrics={"mean": stats["mean"], "std": stats["std"]},
                      summary=f"Standardised `{params.value}` (mean {stats['mean']:.4g}, sd {stats['std']:.4g}).",
                      models=models)


@hookimpl
def register_tasks(register):
    register(ZScore())
