"""Annotation layers and number wording for the chart task: rules, bar labels, point labels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from workbench.sdk import INK


def decimals_supported(values: Iterable[float], most: int = 3) -> int:
    """How many decimals the data carries (the most any value shows, up to `most`)."""
    found = 0
    for value in values:
        if value is None:
            continue
        text = f"{value:.{most}f}".rstrip("0")
        found = max(found, len(text.split(".")[1]) if "." in text else 0)
    return found


def format_number(value: float, decimals: int, units: str = "", signed: bool = False) -> str:
    """`0.94°C`, `+0.94°C` or `1,234`: fixed decimals, thousands separators, units glued on."""
    text = f"{value:+,.{decimals}f}" if signed else f"{value:,.{decimals}f}"
    return f"{text}{units}"


def rule_with_label(at: Any, label: str, field: str, field_type: str = "O", color: str = INK,
                    label_y: int = 0) -> Any:
    """A vertical dashed rule at `at` on the x field, labelled `label_y` pixels from the plot's top."""
    import altair as alt

    base = alt.Chart(_one_row({field: at, "note": label}))
    x = alt.X(f"{field}:{field_type}")
    rule = base.mark_rule(color=color, strokeDash=[4, 3], strokeWidth=1.5).encode(x=x)
    text = base.mark_text(align="left", baseline="top", dx=4, dy=2, fontSize=12, color=color).encode(
        x=x, y=alt.value(label_y), text="note:N")
    return rule + text


def bar_labels(base: Any, text_field: str, value_field: str, **mark: Any) -> list:
    """Text layers that label each bar beyond its end: above positive bars, below negative ones."""
    layers = []
    for positive in (True, False):
        layers.append(base.mark_text(baseline="bottom" if positive else "top", dy=-4 if positive else 4, **mark)
                      .encode(text=f"{text_field}:N")
                      .transform_filter(f"datum.{value_field} {'>=' if positive else '<'} 0"))
    return layers


def point_label(x: Any, y: float, label: str, x_field: str, y_field: str, x_type: str = "Q",
                align: Literal["left", "center", "right"] = "left", dx: int = 6, dy: int = -8, color: str = INK) -> Any:
    """A dot with a short text label beside it."""
    import altair as alt

    base = alt.Chart(_one_row({x_field: x, y_field: y, "note": label})).encode(
        x=alt.X(f"{x_field}:{x_type}"), y=alt.Y(f"{y_field}:Q"))
    return base.mark_point(filled=True, size=60, color=color) + base.mark_text(
        align=align, dx=dx, dy=dy, fontSize=12, color=color).encode(text="note:N")


def _one_row(values: dict[str, Any]) -> Any:
    import polars as pl

    return pl.DataFrame([values])


def title_lines(text: str | list[str], width: int, font_size: int) -> list[str]:
    """A title broken into lines that fit `width` pixels at `font_size` (about 0.55 of the size per character)."""
    import textwrap

    per_line = max(int(width / (0.55 * font_size)), 12)
    parts = [text] if isinstance(text, str) else text
    return [line for part in parts for line in textwrap.wrap(part, per_line)]


def wrapped_title(title: str, subtitle: str | list[str], width: int, audience: str) -> Any:
    """An Altair title whose heading and subtitle wrap inside the chart's width for this audience's type sizes."""
    import altair as alt

    from workbench.sdk import audience_config

    sizes = audience_config(audience)["title"]
    return alt.TitleParams(title_lines(title, width, sizes["fontSize"]),
                           subtitle=title_lines(subtitle, width, sizes["subtitleFontSize"]))
