"""Built-in task `describe`: a profile of every column (types, nulls, distinct counts, top values)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from workbench.sdk import ProgressReporter, Register, Result, RunContext, Task, TaskParams, hookimpl

if TYPE_CHECKING:
    import polars as pl

    from workbench.sdk import RecordedRun, ReportSection


TOP_VALUES_LIMIT = 100_000  # out of core, top values are counted only for columns with fewer distinct values
ROW = "__workbench_row"
MEDIAN_ROWS = 2_000_000  # out of core, medians are exact up to this many rows, then estimated from evenly spaced rows
BINS, LEVELS = 12, 8  # bars per column in the distribution chart: bins of a number, most frequent other values
MAX_CHARTED, MAX_LEVELS_CHARTED = 24, 100_000  # columns charted; a column with more distinct values is not


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
        distribution = distribution_frame(data.lazy(), profile)
        return Result(tables={"profile": profile, "distribution": distribution}, metrics=metrics,
                      charts={"missing": missing_chart(profile), "distribution": distribution_chart(distribution)},
                      summary=summary)

    def run_lazy(self, data: pl.LazyFrame, params: DescribeParams, ctx: RunContext) -> Result:
        """The same profile in a few streaming passes, in bounded memory (duplicate rows are not counted)."""
        profile = profile_lazy(data, params.top, ctx.progress)
        rows = int(profile["rows"][0]) if profile.height else 0
        profile = profile.drop("rows")
        null_cells = int(profile["nulls"].sum())
        summary = (f"**{rows:,} rows x {profile.height} columns**, profiled out of core: columns with more than "
                   f"{TOP_VALUES_LIMIT:,} distinct values get an estimate (HyperLogLog) and no top values, and "
                   "duplicate rows are not counted. "
                   f"{null_cells:,} missing cells.")
        distribution = distribution_frame(data, profile)
        return Result(tables={"profile": profile, "distribution": distribution},
                      metrics={"rows": rows, "columns": profile.height, "null_cells": null_cells},
                      charts={"missing": missing_chart(profile), "distribution": distribution_chart(distribution)},
                      summary=summary)


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
        counts = series.drop_nulls().value_counts().sort(["count", name], descending=[True, False]).head(top)
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


def profile_lazy(data: pl.LazyFrame, top: int = 3, progress: ProgressReporter | None = None) -> pl.DataFrame:
    """`profile_frame` for data larger than memory: one streaming pass for the counts and moments, one for the
    medians (exact up to MEDIAN_ROWS rows; above, the median of every k-th row, MEDIAN_ROWS of them), one per
    column for its value counts (estimated, without top values, above TOP_VALUES_LIMIT)."""
    import polars as pl

    schema = data.collect_schema()
    numeric = [name for name, dtype in schema.items() if dtype.is_numeric() and dtype != pl.Boolean]
    summary = data.select(
        pl.len().alias("rows"),
        *[pl.col(name).null_count().alias(f"{name}\0nulls") for name in schema],
        *[pl.col(name).approx_n_unique().alias(f"{name}\0distinct") for name in schema],
        *[getattr(pl.col(name).cast(pl.Float64), stat)().alias(f"{name}\0{stat}")
          for name in numeric for stat in ("mean", "std", "min", "max")],
    ).collect(engine="streaming").row(0, named=True)
    step = max(1, -(-int(summary["rows"]) // MEDIAN_ROWS))  # medians from every step-th row: one pass, bounded
    spaced = data.select(numeric).with_row_index(ROW).filter(pl.col(ROW) % step == 0)
    medians = spaced.select(pl.col(name).cast(pl.Float64).median() for name in numeric).collect(
        engine="streaming").row(0, named=True) if numeric else {}
    rows = []
    for name in (progress or ProgressReporter()).track(list(schema), "Profiling columns out of core"):
        distinct = int(summary[f"{name}\0distinct"])
        nulls = int(summary[f"{name}\0nulls"])
        top_values = ""
        if distinct <= TOP_VALUES_LIMIT:  # few enough to count exactly
            counts = (data.select(pl.col(name)).drop_nulls().group_by(name).len()
                      .sort(["len", name], descending=[True, False]).collect(engine="streaming"))
            distinct = counts.height + (nulls > 0)
            top_values = ", ".join(f"{value} ({count})" for value, count in counts.head(top).iter_rows())
        stats: dict[str, Any] = dict.fromkeys(("mean", "std", "min", "median", "max"))
        if name in numeric:
            stats = {stat: summary[f"{name}\0{stat}"] for stat in ("mean", "std", "min", "max")}
            stats["median"] = medians[name]
        rows.append({"column": name, "dtype": str(schema[name]), "nulls": nulls,
                     "null_share": nulls / max(summary["rows"], 1), "distinct": distinct, "top_values": top_values,
                     **stats, "rows": summary["rows"]})
    return pl.DataFrame(rows, schema_overrides={key: pl.Float64 for key in ("mean", "std", "min", "median", "max")})


def distribution_frame(data: pl.LazyFrame, profile: pl.DataFrame, bins: int = BINS,
                       levels: int = LEVELS) -> pl.DataFrame:
    """The shape of each column, long: a histogram of equal-width bins for numbers (all in one streaming pass),
    counts of each value for numbers with few values, of the most frequent values for the others (columns with
    very many distinct values are left out)."""
    import polars as pl

    rows: list[dict[str, Any]] = []
    shown = profile.head(MAX_CHARTED)
    numeric = [row for row in shown.iter_rows(named=True)
               if row["min"] is not None and row["max"] is not None and row["distinct"] > bins]
    edges = {row["column"]: _edges(row["min"], row["max"], bins) for row in numeric}
    if edges:
        counts = data.select(*[
            ((pl.col(name).cast(pl.Float64) >= low) & ((pl.col(name).cast(pl.Float64) < high) | (position == bins - 1))
             ).sum().alias(f"{name}\0{position}")
            for name, cuts in edges.items() for position, (low, high) in enumerate(zip(cuts, cuts[1:], strict=False))
        ]).collect(engine="streaming").row(0, named=True)
        for name, cuts in edges.items():
            rows += [{"column": name, "bucket": _short(low), "range": f"{_short(low)} to {_short(high)}",
                      "order": position, "count": int(counts[f"{name}\0{position}"])}
                     for position, (low, high) in enumerate(zip(cuts, cuts[1:], strict=False))]
    for row in shown.iter_rows(named=True):
        if row["column"] in edges or not 0 < row["distinct"] <= MAX_LEVELS_CHARTED:
            continue
        name, by_value = row["column"], row["min"] is not None  # a number with few values: in order
        top = (data.select(pl.col(name)).drop_nulls().group_by(name).len()
               .sort(*([name] if by_value else [["len", name]]), descending=False if by_value else [True, False])
               .head(bins if by_value else levels).collect(engine="streaming"))
        rows += [{"column": name, "bucket": str(value)[:40], "range": str(value), "order": position,
                  "count": int(count)} for position, (value, count) in enumerate(top.iter_rows())]
    place = {name: position for position, name in enumerate(profile["column"])}
    return pl.DataFrame(rows, schema={"column": pl.String, "bucket": pl.String, "range": pl.String,
                                      "order": pl.Int64, "count": pl.Int64}).sort(
        pl.col("column").replace_strict(place, return_dtype=pl.Int64), "order")


def _edges(low: float, high: float, bins: int) -> list[float]:
    """`bins` equal-width bins from `low` to `high` (one bin when every value is the same)."""
    if high <= low:
        return [low, high]
    return [low + (high - low) * step / bins for step in range(bins)] + [high]


def _short(value: float) -> str:
    """A bin edge in at most four characters and a suffix: 17, 23.1, 8.3k, 1.2M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def distribution_chart(distribution: pl.DataFrame) -> Any:
    """Small multiples, one bar chart per column, each on its own scale."""
    import altair as alt

    place = list(dict.fromkeys(distribution["column"]))  # the data's column order
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("bucket:N", sort=alt.EncodingSortField("order"), title=None, axis=alt.Axis(labelLimit=70)),
        y=alt.Y("count:Q", title="rows"),
        tooltip=["column", alt.Tooltip("range:N", title="values"), alt.Tooltip("count:Q", format=",")],
    ).properties(width=170, height=100)
    return alt.FacetChart(data=distribution, spec=bars, facet=alt.Facet("column:N", sort=place, title=None),
                          columns=3).resolve_scale(x="independent", y="independent").properties(
        title="Distribution of each column (numbers: bins from the value shown)")


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
def register_tasks(register: Register) -> None:
    register(Describe())
