"""A third-party plugin as a user would write it: one task that fits a model, one extra command."""

import json

import polars as pl

from workbench.sdk import ModelArtifact, Result, Task, TaskParams, WorkbenchError, column, hookimpl


class ScaleParams(TaskParams):
    column: str = column("feature", "Numeric column to standardise.")


class Scale(Task):
    name = "scale"
    title = "Standardise a column"
    summary = "Fits mean and standard deviation; applies them to new data."
    Params = ScaleParams
    applies_models = True

    def run(self, data, params, ctx):
        if ctx.model is not None:
            stats = json.loads((ctx.model.path / "stats.json").read_text())
            if stats["column"] != params.column:
                raise WorkbenchError(f"model was fitted on {stats['column']!r}, not {params.column!r}")
            models = []
        else:
            values = data[params.column].cast(pl.Float64)
            stats = {"column": params.column, "mean": values.mean(), "std": values.std()}
            folder = ctx.new_model_dir()
            (folder / "stats.json").write_text(json.dumps(stats))
            models = [ModelArtifact(folder, metrics={"mean": stats["mean"]})]
        scaled = data.select(((pl.col(params.column) - stats["mean"]) / stats["std"]).alias("scaled"))
        return Result(tables={"scaled": scaled}, metrics={"mean": stats["mean"], "std": stats["std"]},
                      summary=f"Standardised `{params.column}`.", models=models)


@hookimpl
def register_tasks(register):
    register(Scale())


@hookimpl
def register_commands(cli):
    @cli.command(name="scale-hello")
    def scale_hello():
        """Say hello from a plugin command."""
        print("hello from wb_scale")
