"""Chart helpers every plugin shares: one theme, the audiences' styles, offline rendering."""

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


def themed(chart: Any, decorated: bool = True) -> Any:
    """Apply the workbench theme to a top-level chart."""
    return chart.properties(config=theme(decorated))


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


def _spec(chart: Any) -> str:
    import json

    return json.dumps(chart) if isinstance(chart, dict) else str(chart.to_json())


def render_png(chart: Any, scale: float = 2.0) -> bytes:
    """PNG bytes rendered offline by vl-convert, from an Altair chart or a Vega-Lite dict."""
    import vl_convert

    return bytes(vl_convert.vegalite_to_png(_spec(chart), scale=scale))


def render_svg(chart: Any) -> str:
    """SVG text rendered offline by vl-convert, from an Altair chart or a Vega-Lite dict."""
    import vl_convert

    return str(vl_convert.vegalite_to_svg(_spec(chart)))


LIGHT_INK = "#e4e7eb"
LIGHT_MUTED = "#9aa5b1"


def for_dark_background(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec restyled for a dark page: titles, labels, legends and lines in light colours, no background."""
    config = dict(spec.get("config", {}))
    axis = {**config.get("axis", {}), "labelColor": LIGHT_INK, "titleColor": LIGHT_INK, "domainColor": LIGHT_MUTED,
            "tickColor": LIGHT_MUTED, "gridColor": "#3e4c59"}
    title = {**config.get("title", {}), "color": LIGHT_INK, "subtitleColor": LIGHT_MUTED}
    legend = {**config.get("legend", {}), "labelColor": LIGHT_INK, "titleColor": LIGHT_INK}
    text = {**config.get("text", {}), "color": LIGHT_INK}
    header = {**config.get("header", {}), "labelColor": LIGHT_INK, "titleColor": LIGHT_INK}  # facet labels
    config.update(axis=axis, title=title, legend=legend, text=text, header=header, background="transparent",
                  view={**config.get("view", {}), "stroke": None})
    return _recoloured({**spec, "config": config, "background": "transparent"})


def _recoloured(value: Any) -> Any:
    """Marks drawn in the theme's dark ink (annotations, rules) redrawn in light ink."""
    swap = {INK: LIGHT_INK, MUTED: LIGHT_MUTED}
    if isinstance(value, dict):
        return {key: _recoloured(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_recoloured(item) for item in value]
    return swap.get(value, value) if isinstance(value, str) else value


def render_html(chart: Any) -> str:
    """A standalone HTML page with Vega inlined (opens offline), from an Altair chart or a Vega-Lite dict."""
    import vl_convert

    return str(vl_convert.vegalite_to_html(_spec(chart), bundle=True))


def save_chart(chart: Any, folder: Path, name: str,
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
            path.write_bytes(render_png(chart))
        else:
            path.write_text(render_svg(chart))
        written.append(path)
    return written
