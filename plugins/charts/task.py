"""The `chart` task: a time series charted for its audience, every annotation computed from the data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from workbench.sdk import Result, RunContext, Task, TaskParams, WorkbenchError, advanced, column

if TYPE_CHECKING:
    import polars as pl

    from workbench.sdk import ModelRecord

AUDIENCES = ("general", "professional", "decision-maker")


class ChartParams(TaskParams):
    date: str = column("date", "Date column: YYYYMM integers (as NOAA's), years, or dates.", kind="date")
    value: str = column("value", "Numeric column to chart.", kind="numeric")
    audience: Literal["all", "general", "professional", "decision-maker"] = Field(
        "all", description="Who reads the chart; 'all' makes one chart for each audience.")
    subject: str | None = Field(
        None, description='What the values measure, as it starts a sentence, e.g. "surface temperatures".')
    units: str = Field("", description='Units written after numbers, e.g. "°C".')
    axis_title: str | None = Field(None, description='Value axis title, e.g. "Temperature anomaly".')
    period: Literal["auto", "decade", "year"] = advanced(
        "auto", description="Bars per decade or per year (auto: decades for series of 50 years or more).")
    future: int | None = Field(
        None, description="Future year to ask about (default: 40 years after the last complete period).")


class TailorChart(Task[ChartParams]):
    name = "chart"
    title = "Tailor a chart to its audience"
    summary = "Time-series charts for the public, professionals and decision-makers, annotated from the data."
    headline = ("rise", "last_mean", "change_year", "slope_per_decade")
    year_metrics = frozenset({"change_year", "first_period", "last_period"})

    def check(self, data: pl.DataFrame, params: ChartParams, model: ModelRecord | None) -> None:
        from workbench_charts.series import observations

        last = int(observations(data, params.date, params.value)["year"].max())
        if params.future is not None and params.future <= last:
            raise WorkbenchError(f"future year {params.future} is not after the data's last year ({last}); "
                                 f"pass a year after {last}, or leave future out")

    def run(self, data: pl.DataFrame, params: ChartParams, ctx: RunContext) -> Result:
        from workbench_charts.annotations import format_number
        from workbench_charts.audiences import BUILDERS, Wording
        from workbench_charts.series import facts as series_facts

        facts = series_facts(data, params.date, params.value, params.period)
        words = Wording(
            subject=params.subject or params.value.lower(),
            units=params.units,
            axis_title=params.axis_title or params.value,
            future=params.future or facts.last["start"] + (40 if facts.period == "decade" else 10),
        )
        audiences = AUDIENCES if params.audience == "all" else (params.audience,)
        charts = {audience: BUILDERS[audience](facts, words) for audience in ctx.progress.track(audiences, "Charting")}
        digits = facts.decimals
        rise = format_number(facts.rise, digits, params.units, signed=True)
        metrics = {
            "first_period": facts.first["label"], "last_period": facts.last["label"],
            "first_mean": round(facts.first["mean"], digits), "last_mean": round(facts.last["mean"], digits),
            "rise": round(facts.rise, digits), "change_year": facts.change_year,
            "slope_per_decade": round((facts.slope_after or 0.0) * 10, digits + 1),
            "complete_periods": facts.periods.height,
        }
        since = f"; the trend changed in {facts.change_year}" if facts.change_year else ""
        summary = (f"{facts.periods.height} complete {facts.period}s of `{params.value}`: {rise} from the "
                   f"{facts.first['label']} to the {facts.last['label']}{since}. Charts: {', '.join(charts)}.")
        return Result(tables={"periods": facts.periods}, metrics=metrics, charts=charts, summary=summary)
