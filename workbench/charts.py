"""Chart helpers every plugin shares: one theme, number formatting, annotation layers, offline rendering."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

INK = "#1f2933"
MUTED = "#7b8794"
ACCENT = "#c0392b"
FONT = "Helvetica, Arial, sans-serif"


def theme(decorated: bool = True) -> dict[str, Any]:
    """Vega-Lite config for the workbench look; `decorated=False` drops grid lines and axis domains."""
    axis = {"labelColor": INK, "titleColor": INK, "labelFont": FONT, "titleFont": FONT, "labelFontSize": 12,
            "titleFontSize": 12, "grid": decorated, "gridColor": "#e4e7eb", "domain": decorated,
            "domainColor": MUTED, "tickColor": MUTED, "ticks": decorated}
    return {
        "font": FONT,
        "view": {"stroke": None},
        "axis": axis,
        "title": {"anchor": "start", "color": INK, "fontSize": 17, "fontWeight": "bold", "subtitleColor": MUTED,
                  "subtitleFontSize": 13, "offset": 12},
        "legend": {"labelFont": FONT, "titleFont": FONT},
        "text": {"font": FONT, "color": INK},
    }


def themed(chart, decorated: bool = True):
    """Apply the workbench theme to a top-level chart."""
    return chart.properties(config=theme(decorated))


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
                    label_y: int = 0):
    """A vertical dashed rule at `at` on the x field, labelled `label_y` pixels from the plot's top."""
    import altair as alt

    base = alt.Chart(_one_row({field: at, "note": label}))
    x = alt.X(f"{field}:{field_type}")
    rule = base.mark_rule(color=color, strokeDash=[4, 3], strokeWidth=1.5).encode(x=x)
    text = base.mark_text(align="left", baseline="top", dx=4, dy=2, fontSize=12, color=color).encode(
        x=x, y=alt.value(label_y), text="note:N")
    return rule + text


def bar_labels(base, text_field: str, value_field: str, **mark: Any) -> list:
    """Text layers that label each bar beyond its end: above positive bars, below negative ones."""
    layers = []
    for positive in (True, False):
        layers.append(base.mark_text(baseline="bottom" if positive else "top", dy=-4 if positive else 4, **mark)
                      .encode(text=f"{text_field}:N")
                      .transform_filter(f"datum.{value_field} {'>=' if positive else '<'} 0"))
    return layers


def point_label(x: Any, y: float, label: str, x_field: str, y_field: str, x_type: str = "Q",
                align: str = "left", dx: int = 6, dy: int = -8, color: str = INK):
    """A dot with a short text label beside it."""
    import altair as alt

    base = alt.Chart(_one_row({x_field: x, y_field: y, "note": label})).encode(
        x=alt.X(f"{x_field}:{x_type}"), y=alt.Y(f"{y_field}:Q"))
    return base.mark_point(filled=True, size=60, color=color) + base.mark_text(
        align=align, dx=dx, dy=dy, fontSize=12, color=color).encode(text="note:N")


def _one_row(values: dict[str, Any]):
    import polars as pl

    return pl.DataFrame([values])


AUDIENCES = ("general", "professional", "decision-maker")
# (label size, title size) per audience: plainer and bigger type for readers outside the field.
_TYPE_SIZES = {"professional": (12, 17), "general": (14, 20), "decision-maker": (15, 22)}


def audience_config(audience: str) -> dict[str, Any]:
    """The theme for one audience: grids and ticks for professionals; bigger, plainer type for the others."""
    if audience not in _TYPE_SIZES:
        raise ValueError(f"unknown audience {audience!r}; use one of {', '.join(AUDIENCES)}")
    label_size, title_size = _TYPE_SIZES[audience]
    config = theme(decorated=audience == "professional")
    config["axis"].update(labelFontSize=label_size, titleFontSize=label_size)
    config["title"].update(fontSize=title_size, subtitleFontSize=label_size)
    config["legend"].update(labelFontSize=label_size, titleFontSize=label_size)
    if audience == "decision-maker":
        config["axis"].update(labelColor=MUTED, titleColor=MUTED)
    return config


def tailor_spec(spec: dict[str, Any], audience: str) -> dict[str, Any]:
    """A stored Vega-Lite spec restyled for `audience` (its data and encodings untouched)."""
    return {**spec, "config": {**spec.get("config", {}), **audience_config(audience)}}


def render(chart, fmt: str, scale: float = 2.0) -> bytes | str:
    """PNG bytes or SVG text, rendered offline by vl-convert, from an Altair chart or a Vega-Lite dict."""
    import json

    import vl_convert

    spec = json.dumps(chart) if isinstance(chart, dict) else chart.to_json()
    if fmt == "png":
        return vl_convert.vegalite_to_png(spec, scale=scale)
    if fmt == "svg":
        return vl_convert.vegalite_to_svg(spec)
    raise ValueError(f"unknown chart format {fmt!r}; use png or svg")


def save_chart(chart, folder: Path, name: str,
               formats: Iterable[str] = ("vl.json", "html", "png", "svg")) -> list[Path]:
    """Write a chart as Vega-Lite JSON, offline HTML (Vega inlined), PNG and SVG."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = folder / f"{name}.{fmt}"
        if fmt == "vl.json":
            path.write_text(chart.to_json())
        elif fmt == "html":
            chart.save(str(path), inline=True)
        elif fmt == "png":
            path.write_bytes(render(chart, "png"))
        else:
            path.write_text(render(chart, "svg"))
        written.append(path)
    return written
