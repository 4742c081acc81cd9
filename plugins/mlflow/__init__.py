"""Built-in plugin `mlflow`: every run and registered model exported to an MLflow tracking server or store.

Active when `WORKBENCH_MLFLOW_URI` or `MLFLOW_TRACKING_URI` is set. It uses nothing but the SDK and the hooks:
`after_task_run` and `on_task_error` export each run, `after_alias_change` mirrors aliases, and the command
`workbench mlflow sync` exports what a server that was down or slow missed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench.sdk import hookimpl

if TYPE_CHECKING:
    from workbench.sdk import Result, RunContext, Task


@hookimpl
def after_task_run(task: Task[Any], params: Any, ctx: RunContext, result: Result) -> None:
    from workbench_mlflow.export import configured, export_soon

    if configured() and ctx.run_id is not None and ctx.records is not None:
        export_soon(ctx.records, ctx.run_id)


@hookimpl
def on_task_error(task: Task[Any], params: Any, ctx: RunContext, error: BaseException) -> None:
    from workbench_mlflow.export import configured, export_soon

    if configured() and ctx.run_id is not None and ctx.records is not None:
        export_soon(ctx.records, ctx.run_id)


@hookimpl
def after_alias_change(model: str, alias: str, version: int | None) -> None:
    from workbench_mlflow.export import configured, mirror_alias

    if configured():
        mirror_alias(model, alias, version)


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    mlflow_app = typer.Typer(help="Export runs and models to MLflow (WORKBENCH_MLFLOW_URI or MLFLOW_TRACKING_URI).",
                             no_args_is_help=True, rich_markup_mode=None)
    cli.add_typer(mlflow_app, name="mlflow")

    @mlflow_app.command("sync")
    def sync(since: Annotated[int, typer.Option("--since", min=0, max=2**31, help="Only runs after this one.")] = 0
             ) -> None:
        """Export every run (and its models) not yet in MLflow; running it twice creates nothing twice."""
        from workbench.sdk import WorkbenchError
        from workbench.sdk.records import records
        from workbench_mlflow.export import configured, sync_runs

        if not configured():
            raise WorkbenchError("no MLflow store is set: export WORKBENCH_MLFLOW_URI (or MLFLOW_TRACKING_URI), e.g. "
                                 "http://mlflow.example.org or sqlite:///mlflow.db")
        exported, present = sync_runs(records(), since)
        print(f"exported {exported} runs to MLflow; {present} were there already")
