"""Time-series facts for the charts: parsed dates, complete-period means, the rise and the change point."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import cast

import numpy as np
import polars as pl

from workbench.sdk import WorkbenchError

MIN_POINTS = 10
MAX_BREAK_CANDIDATES = 200


@dataclass
class Facts:
    """Everything the three audiences' charts are computed from."""

    observations: pl.DataFrame  # date, year, t (fractional year), value
    per_year: int  # observations per year: 12 monthly, 4 quarterly, 1 annual
    periods: pl.DataFrame  # start, label, mean, count: complete periods only
    period: str  # "decade" or "year"
    yearly: pl.DataFrame  # year, mean: complete years
    decimals: int
    change_year: int | None
    slope_after: float | None  # per year, after the change point (or over the whole series)

    @property
    def first(self) -> dict:
        return self.periods.row(0, named=True)

    @property
    def last(self) -> dict:
        return self.periods.row(-1, named=True)

    @property
    def rise(self) -> float:
        return self.last["mean"] - self.first["mean"]


def parse_dates(column: pl.Series) -> pl.Series:
    """Dates from `YYYYMM` integers (as NOAA's), years, or date strings; a clear error otherwise."""
    name = column.name
    if column.dtype in (pl.Date, pl.Datetime):
        return column.cast(pl.Date)
    if column.dtype.is_integer():
        values = column.drop_nulls()
        frame = pl.DataFrame({"v": column})
        months = values % 100
        low, high = cast(int, values.min()), cast(int, values.max())
        if values.len() and low >= 100_001 and high <= 999_912 and months.is_between(1, 12).all():
            return frame.select(pl.date(pl.col("v") // 100, pl.col("v") % 100, 1).alias(name)).to_series()
        if values.len() and low >= 1 and high <= 9999:
            return frame.select(pl.date(pl.col("v"), 1, 1).alias(name)).to_series()
    if column.dtype == pl.String:
        for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%Y-%m", "%Y%m", "%Y"):
            parsed = column.str.to_date(fmt, strict=False)
            if parsed.null_count() == column.null_count():
                return parsed
    sample = ", ".join(str(value) for value in column.drop_nulls().head(3).to_list())
    raise WorkbenchError(
        f"date column {name!r} does not parse as dates (got {sample}); use YYYYMM integers, years, "
        "or dates such as 2024-05-01"
    )


def observations(data: pl.DataFrame, date_column: str, value_column: str) -> pl.DataFrame:
    """Columns date, year, t, value: sorted, with missing values dropped."""
    values = data.get_column(value_column)
    if not values.dtype.is_numeric():
        raise WorkbenchError(f"value column {value_column!r} is {values.dtype}, not numeric; pick a numeric column")
    if values.null_count() == values.len():
        raise WorkbenchError(f"value column {value_column!r} has no values (all missing)")
    frame = pl.DataFrame({"date": parse_dates(data.get_column(date_column)), "value": values.cast(pl.Float64)})
    frame = frame.drop_nulls().sort("date")
    if frame.height < MIN_POINTS:
        raise WorkbenchError(f"only {frame.height} dated values; a chart of a trend needs at least {MIN_POINTS}")
    return frame.with_columns(
        pl.col("date").dt.year().alias("year"),
        (pl.col("date").dt.year() + (pl.col("date").dt.ordinal_day() - 1) / 365.25).alias("t"),
    )


def observations_per_year(frame: pl.DataFrame) -> int:
    """12, 4 or 1 from the median spacing of the dates."""
    spacing = float(np.median(np.diff(frame["t"].to_numpy())))
    return 12 if spacing < 0.15 else 4 if spacing < 0.4 else 1


def complete_periods(frame: pl.DataFrame, period: str, per_year: int) -> pl.DataFrame:
    """Mean per decade (or year), keeping only periods with every expected observation."""
    years = 10 if period == "decade" else 1
    start = (pl.col("year") // years * years).alias("start")
    grouped = frame.group_by(start).agg(pl.col("value").mean().alias("mean"), pl.len().alias("count")).sort("start")
    complete = grouped.filter(pl.col("count") == years * per_year)
    label = pl.col("start").cast(pl.String) + ("s" if period == "decade" else "")
    return complete.with_columns(label.alias("label")).select("start", "label", "mean", "count")


def change_point(years: np.ndarray, values: np.ndarray, max_breaks: int = 2,
                 min_segment: int = 10) -> tuple[int | None, float]:
    """The last break of a continuous piecewise-linear fit with 0 to `max_breaks` breaks chosen by BIC.

    Returns (break year or None, slope per year after it).
    """
    n = len(years)
    candidates = years[min_segment:n - min_segment]
    if len(candidates) > MAX_BREAK_CANDIDATES:
        candidates = candidates[:: int(np.ceil(len(candidates) / MAX_BREAK_CANDIDATES))]
    best_bic, best = np.inf, ((), np.zeros(2))
    for count in range(max_breaks + 1):
        for breaks in itertools.combinations(candidates, count):
            if any(later - earlier < min_segment for earlier, later in itertools.pairwise(breaks)):
                continue
            design = np.column_stack([np.ones(n), years] + [np.maximum(0, years - b) for b in breaks])
            coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
            residual = float(((design @ coefficients - values) ** 2).sum())
            bic = n * np.log(max(residual, 1e-12) / n) + (2 + 2 * count) * np.log(n)
            if bic < best_bic:
                best_bic, best = bic, (breaks, coefficients)
    breaks, coefficients = best
    slope = float(coefficients[1] + sum(coefficients[2:]))
    return (int(breaks[-1]) if breaks else None), slope


def facts(data: pl.DataFrame, date_column: str, value_column: str, period: str = "auto") -> Facts:
    frame = observations(data, date_column, value_column)
    per_year = observations_per_year(frame)
    yearly = complete_periods(frame, "year", per_year).select(pl.col("start").alias("year"), "mean")
    span = cast(int, frame["year"].max()) - cast(int, frame["year"].min()) + 1
    chosen = ("decade" if span >= 50 else "year") if period == "auto" else period
    periods = complete_periods(frame, chosen, per_year)
    if periods.height < 2:
        raise WorkbenchError(
            f"only {periods.height} complete {chosen}(s) in the data; pass period=year or a longer series"
        )
    if yearly.height >= 2 * 10 + 1:
        change_year, slope = change_point(yearly["year"].to_numpy().astype(float), yearly["mean"].to_numpy())
    else:
        change_year, slope = None, None
    from workbench_charts.annotations import decimals_supported

    return Facts(frame, per_year, periods, chosen, yearly, decimals_supported(frame["value"].head(1000)),
                 change_year, slope)
