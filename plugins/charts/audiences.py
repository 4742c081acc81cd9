"""One chart per audience, every annotation computed from the series' facts."""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import polars as pl

from workbench.sdk import ACCENT, INK, MUTED, themed
from workbench_charts.annotations import bar_labels, format_number, point_label, rule_with_label, wrapped_title
from workbench_charts.series import Facts

WIDTH = 720
HEIGHT = 360
DECISION_WIDTH = 420


@dataclass
class Wording:
    """How the chart speaks about the values."""

    subject: str  # sentence subject, e.g. "surface temperatures"
    units: str  # glued to numbers, e.g. "°C"
    axis_title: str
    future: int  # the future year the charts ask about


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _direction(change: float, up: str, down: str) -> str:
    return up if change >= 0 else down


def projection(facts: Facts, year: int) -> float:
    """The last period's mean carried forward along the trend since the change point."""
    slope = facts.slope_after or 0.0
    return facts.last["mean"] + slope * (year - facts.last["start"])


def future_label(facts: Facts, year: int) -> str:
    return f"{year // 10 * 10}s" if facts.period == "decade" else str(year)


def professional(facts: Facts, words: Wording) -> alt.LayerChart:
    """Period bars in a reversed red-blue scheme, each labelled; the change point; a '?' bar for the future."""
    digits = facts.decimals
    future = future_label(facts, words.future)
    labels = pl.col("mean").map_elements(lambda value: f"{value:.{digits}f}", return_dtype=pl.String)
    bars = facts.periods.select("label", "mean", labels.alias("text"), pl.lit(False).alias("future"))
    bars = pl.concat([bars, pl.DataFrame({"label": [future], "mean": [projection(facts, words.future)],
                                          "text": ["?"], "future": [True]})])
    order = bars["label"].to_list()
    x = alt.X("label:O", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelFontSize=11))
    axis_title = f"{words.axis_title} ({words.units.strip()})" if words.units.strip() else words.axis_title
    base = alt.Chart(bars).encode(x=x, y=alt.Y("mean:Q", title=axis_title))
    color = alt.condition("datum.future", alt.value("black"), alt.Color(
        "mean:Q", scale=alt.Scale(scheme="redblue", reverse=True, domainMid=0), legend=None))
    tooltip = [alt.Tooltip("label:O", title="period"), alt.Tooltip("mean:Q", format=f".{digits}f")]
    layers = []
    if facts.change_year is not None:  # first, so bars and labels are drawn over it
        decade = f"{facts.change_year // 10 * 10}s" if facts.period == "decade" else str(facts.change_year)
        layers.append(rule_with_label(decade, f"The rise began in {facts.change_year}", "label", "O", ACCENT))
    layers.append(base.mark_bar().encode(color=color, tooltip=tooltip))
    layers += bar_labels(base, "text", "mean", fontSize=10.5, color=INK)
    change = facts.rise
    subtitle = (f"Between the {facts.first['label']} and the {facts.last['label']}, {words.subject} "
                f"{_direction(change, 'increased', 'decreased')} by {format_number(abs(change), digits, words.units)}")
    title = wrapped_title(f"How big will the {words.axis_title.lower()} be in {words.future}?", subtitle, WIDTH,
                          "professional")
    return themed(alt.layer(*layers).properties(width=WIDTH, height=HEIGHT, title=title))


def decision_maker(facts: Facts, words: Wording) -> alt.LayerChart:
    """Three bars (then, now, where the trend leads) and a headline with the key figure and its direction."""
    digits = facts.decimals
    ahead = projection(facts, words.future)
    rows = pl.DataFrame({
        "label": [facts.first["label"], facts.last["label"], f"{future_label(facts, words.future)} (trend)"],
        "mean": [facts.first["mean"], facts.last["mean"], ahead],
        "kind": ["then", "now", "trend"],
    }).with_columns(pl.col("mean").map_elements(lambda v: format_number(v, digits, words.units, signed=True),
                                                return_dtype=pl.String).alias("text"))
    x = alt.X("label:N", sort=None, title=None, axis=alt.Axis(labelFontSize=13, labelFontWeight="bold", labelAngle=0,
                                                             labelPadding=8))
    low, high = min(0.0, *rows["mean"]), max(0.0, *rows["mean"])
    room = 0.2 * (high - low)  # space for the labels beyond the bars' ends
    y = alt.Y("mean:Q", axis=None, scale=alt.Scale(domain=[low - room if low < 0 else 0, high + room]))
    base = alt.Chart(rows).encode(x=x, y=y)
    color = alt.Color("kind:N", scale=alt.Scale(domain=["then", "now", "trend"], range=[MUTED, ACCENT, "#f1a9a0"]),
                      legend=None)
    layers = [base.mark_bar(size=90).encode(color=color)]
    layers += bar_labels(base, "text", "mean", fontSize=16, fontWeight="bold", color=INK)
    rate = (facts.slope_after or 0.0) * 10
    change = facts.rise
    headline = (f"{_sentence(words.subject)}: {_direction(change, 'up', 'down')} "
                f"{format_number(abs(change), digits, words.units)} since the {facts.first['label']}")
    since = f"since {facts.change_year}" if facts.change_year else "over the series"
    subtitle = [f"{_direction(rate, 'Rising', 'Falling')} {format_number(abs(rate), digits, words.units)} per decade "
                f"{since}: if that continues, the {future_label(facts, words.future)} will be "
                f"{format_number(abs(ahead - facts.first['mean']), digits, words.units)} "
                f"{_direction(ahead - facts.first['mean'], 'above', 'below')} the {facts.first['label']}."]
    title = wrapped_title(headline, subtitle, DECISION_WIDTH, "decision-maker")
    return themed(alt.layer(*layers).properties(width=DECISION_WIDTH, height=300, title=title), decorated=False)


def general(facts: Facts, words: Wording) -> alt.LayerChart:
    """A plain line of yearly values with its 10-year average, a plain-language title and two notes."""
    yearly = facts.yearly.sort("year").with_columns(pl.col("mean").rolling_mean(10, min_samples=5).alias("smooth"))
    x = alt.X("year:Q", title=None, axis=alt.Axis(format="d", tickCount=8),
              scale=alt.Scale(domain=[yearly["year"].min(), yearly["year"].max()], nice=False))
    y = alt.Y("mean:Q", title=words.units or None)
    base = alt.Chart(yearly).encode(x=x)
    layers = [base.mark_line(color="#cbd2d9", strokeWidth=1).encode(y=y),
              base.mark_line(color=ACCENT, strokeWidth=3).encode(y=alt.Y("smooth:Q"))]
    peak = yearly.sort("mean").row(-1, named=True)
    latest = yearly["year"].max()
    note = f"{peak['year']}: the highest yet" if peak["year"] >= latest - 2 else f"Highest: {peak['year']}"
    layers.append(point_label(peak["year"], peak["mean"], note, "year", "mean", align="right", dx=-8, dy=-4))
    if facts.change_year is not None:
        layers.append(rule_with_label(facts.change_year, f"Faster since {facts.change_year}", "year", "Q", MUTED,
                                      label_y=HEIGHT - 20))
    change = facts.rise
    rounded = format_number(abs(change), max(facts.decimals - 1, 0), words.units)
    title = (f"{_sentence(words.subject)}: {_direction(change, 'up', 'down')} about {rounded} "
             f"since the {facts.first['label']}")
    subtitle = f"Each year's value (grey) and the 10-year average (red), {yearly['year'].min()} to {latest}"
    return themed(alt.layer(*layers).properties(width=WIDTH, height=HEIGHT,
                                                title=wrapped_title(title, subtitle, WIDTH, "general")))


BUILDERS = {"general": general, "professional": professional, "decision-maker": decision_maker}
