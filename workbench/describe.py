"""Built-in task `describe`: a profile of every column (types, nulls, distinct counts, top values)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from workbench.sdk import ProgressReporter, Result, RunContext, Task, TaskParams, hookimpl

if TYPE_CHECKING:
    import polars as pl

    from workbench.sdk import RecordedRun, ReportSection


class DescribeParams(TaskParams):
    top: int = Field(3, ge=1, le=20, description="How many of the most frequent values to list per column.")


class Describe(Task[DescribeParams]):
    name = "describe"
    title = "Describe a dataset"
    summary = "Rows, columns, dtypes, nulls, distinct counts, top values and numeric summaries."
    headline = ("rows", "columns", "null_cells", "duplicate_rows")

    def run(self, data: pl.DataFrame, params: DescribeParams, ctx: RunContext) -> Result:
        profile = profile_frame(data, params.top, ctx.progress)
        duplicates = data.height - data.n_unique()
        null_cells = int(profile["nulls"].sum())
        metrics = {"rows": data.height, "columns": data.width, "null_cells": null_cells,
                   "duplicate_rows": duplicates}
        worst = profile.sort("null_share", descending=True).row(0, named=True)
        summary = (
            f"**{data.height:,} rows x {data.width} columns.** "
            f"{null_cells:,} missing cells"
            + (f"; most in `{worst['column']}` ({worst['null_share']:.1%})." if null_cells else ".")
            + (f" {duplicates:,} duplicate rows." if duplicates else " No duplicate rows.")
        )
        return Result(tables={"profile": profile}, metrics=metrics,
                      charts={"missing": missing_chart(profile)}, summary=summary)


    def report(self, run: RecordedRun) -> list[ReportSection]:
        """Data quality: the columns with missing values, and columns that hold a single value."""
        import polars as pl

        from workbench.sdk import ReportSection

        profile = run.tables.get("profile")
        if profile is None:
            return []
        missing = profile.filter(pl.col("nulls") > 0).sort("null_share", descending=True)
        constant = profile.filter(pl.col("distinct") <= 1)["column"].to_list()
        text = (f"{missing.height} of {profile.height} columns have missing values"
                + (f"; `{missing['column'][0]}` the most ({missing['null_share'][0]:.1%})." if missing.height else ".")
                + (f" Constant columns: {', '.join(f'`{c}`' for c in constant)}." if constant else ""))
        return [ReportSection("Data quality", text, missing.select("column", "dtype", "nulls", "null_share"))]


def profile_frame(data: pl.DataFrame, top: int = 3, progress: ProgressReporter | None = None) -> pl.DataFrame:
    """One row per column of `data`."""
    import polars as pl

    rows = []
    for name in (progress or ProgressReporter()).track(data.columns, "Profiling columns"):
        series = data[name]
        counts = series.drop_nulls().value_counts(sort=True).head(top)
        numeric = series.dtype.is_numeric() and series.dtype != pl.Boolean
        stats: dict[str, Any] = dict.fromkeys(("mean", "std", "min", "median", "max"))
        if numeric:
            values = series.cast(pl.Float64)
            stats = {"mean": values.mean(), "std": values.std(), "min": values.min(), "median": values.median(),
                     "max": values.max()}
        rows.append({
            "column": name,
            "dtype": str(series.dtype),
            "nulls": series.null_count(),
            "null_share": series.null_count() / max(len(series), 1),
            "distinct": series.n_unique(),
            "top_values": ", ".join(f"{value} ({count})" for value, count in counts.iter_rows()),
            **stats,
        })
    return pl.DataFrame(rows, schema_overrides={key: pl.Float64 for key in
                                                ("mean", "std", "min", "median", "max")})


def missing_chart(profile: pl.DataFrame) -> Any:
    """Bars of the share of missing values per column."""
    import altair as alt

    return alt.Chart(profile.select("column", "null_share")).mark_bar().encode(
        x=alt.X("null_share:Q", title="Share missing", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("column:N", sort=None, title=None),
        tooltip=["column", alt.Tooltip("null_share:Q", format=".1%")],
    ).properties(title="Missing values by column", width=400)


@hookimpl
def register_tasks(register: Callable[[Task[Any]], None]) -> None:
    register(Describe())
