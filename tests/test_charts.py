"""The `chart` task: period aggregation, computed annotations, change points, valid specs, bad input."""

import json

import numpy as np
import polars as pl
import pytest
import vl_convert
from conftest import DATASETS, run_cli

from workbench.errors import WorkbenchError
from workbench.registry import Registry
from workbench.testing import run_task
from workbench_charts.annotations import decimals_supported, format_number
from workbench_charts.audiences import BUILDERS, Wording
from workbench_charts.series import change_point, facts, parse_dates

NOAA = pl.read_csv(DATASETS / "noaa_global_temperature.csv")


def monthly(start_year: int, years: int, value_of_year, months_short: int = 0) -> pl.DataFrame:
    """A YYYYMM monthly series; `months_short` drops months from the end (an incomplete last period)."""
    dates = [(start_year + m // 12) * 100 + m % 12 + 1 for m in range(years * 12 - months_short)]
    return pl.DataFrame({"Date": dates, "Value": [value_of_year(d // 100) for d in dates]})


def test_decades_keep_only_complete_periods():
    series = monthly(1895, 40, lambda year: float(year % 10), months_short=5)  # 1895-1934, last year short
    found = facts(series, "Date", "Value", "decade")
    assert found.periods["label"].to_list() == ["1900s", "1910s", "1920s"]  # 1890s and 1930s incomplete
    assert found.periods["count"].to_list() == [120, 120, 120]
    assert found.periods["mean"].to_list() == pytest.approx([4.5, 4.5, 4.5])
    assert found.per_year == 12


def test_noaa_professional_figures_match_the_published_chart():
    found = facts(NOAA, "Date", "Anomaly")
    assert found.period == "decade" and found.first["label"] == "1850s" and found.last["label"] == "2010s"
    assert round(found.rise, 2) == 0.94
    assert round(found.last["mean"], 2) == 0.82 and found.decimals == 2
    assert 1970 <= found.change_year <= 1979
    words = Wording("surface temperatures", "°C", "Temperature anomaly", 2050)
    spec = BUILDERS["professional"](found, words).to_dict()
    assert " ".join(spec["title"]["text"]) == "How big will the temperature anomaly be in 2050?"
    assert " ".join(spec["title"]["subtitle"]) == (
        "Between the 1850s and the 2010s, surface temperatures increased by 0.94°C")
    texts = json.dumps(spec)
    assert "The rise began in 197" in texts and '"2050s"' in texts and '"?"' in texts


def test_subtitle_is_computed_from_a_known_rise():
    series = monthly(1900, 60, lambda year: 10 + 0.05 * (year - 1900))  # +0.5 per decade
    found = facts(series, "Date", "Value")
    words = Wording("river levels", " m", "Level", 2000)
    subtitle = " ".join(BUILDERS["professional"](found, words).to_dict()["title"]["subtitle"])
    assert subtitle == "Between the 1900s and the 1950s, river levels increased by 2.50 m"
    falling = facts(monthly(1900, 60, lambda year: -0.05 * (year - 1900)), "Date", "Value")
    assert "decreased by 2.50" in " ".join(BUILDERS["professional"](falling, words).to_dict()["title"]["subtitle"])


def test_the_decision_maker_headline_fits_its_chart():
    """Every title line is short enough for the chart's width at the audience's type size (it was cut before)."""
    from workbench.sdk import audience_config
    from workbench_charts.audiences import DECISION_WIDTH

    found = facts(NOAA, "Date", "Anomaly")
    spec = BUILDERS["decision-maker"](found, Wording("global surface temperatures", "°C", "Anomaly", 2070)).to_dict()
    sizes = audience_config("decision-maker")["title"]
    title = spec["title"]
    for lines, size in ((title["text"], sizes["fontSize"]), (title["subtitle"], sizes["subtitleFontSize"])):
        assert len(lines) >= 1 and all(len(line) * 0.55 * size <= DECISION_WIDTH for line in lines), lines


def test_change_point_on_a_series_with_a_known_break():
    rng = np.random.default_rng(3)
    years = np.arange(1900, 2021, dtype=float)
    values = np.where(years < 1980, 0.0, 0.03 * (years - 1980)) + rng.normal(0, 0.05, years.size)
    found, slope = change_point(years, values)
    assert abs(found - 1980) <= 3
    assert slope == pytest.approx(0.03, abs=0.005)
    flat, _ = change_point(years, rng.normal(0, 0.05, years.size))
    assert flat is None


@pytest.mark.parametrize("audience", ["general", "professional", "decision-maker"])
def test_each_audience_gives_a_valid_vega_lite_spec(audience):
    found = facts(NOAA, "Date", "Anomaly")
    chart = BUILDERS[audience](found, Wording("surface temperatures", "°C", "Temperature anomaly", 2050))
    spec = chart.to_dict()  # validates against the Vega-Lite schema
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert vl_convert.vegalite_to_svg(chart.to_json()).startswith("<svg")


def test_task_writes_offline_outputs_for_all_audiences(home, tmp_path):
    result = run_cli("run", "chart", "--data", str(DATASETS / "noaa_global_temperature.csv"), "-p", "date=Date",
                     "-p", "value=Anomaly", "-p", "units=°C", "--out", str(tmp_path / "out"), home=home)
    assert result.returncode == 0, result.stderr
    for audience in ("general", "professional", "decision-maker"):
        assert (tmp_path / "out" / f"{audience}.png").read_bytes()[:4] == b"\x89PNG"
        assert (tmp_path / "out" / f"{audience}.svg").read_text().startswith("<svg")
        page = (tmp_path / "out" / f"{audience}.html").read_text()
        assert "<script" in page and "<script src" not in page and "cdn.jsdelivr" not in page
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["rise"] == 0.94 and metrics["first_period"] == "1850s"


def test_helpers_format_and_count_decimals():
    assert decimals_supported([0.12, -0.5, 1.0]) == 2
    assert decimals_supported([3.0, 4.0]) == 0
    assert format_number(0.9387, 2, "°C") == "0.94°C"
    assert format_number(1234.5, 0, signed=True) == "+1,234"
    assert parse_dates(pl.Series("d", ["2024-05-01", "1999-12-31"])).to_list()[0].year == 2024
    assert parse_dates(pl.Series("y", [1999, 2000])).dt.year().to_list() == [1999, 2000]


def run_chart(data: pl.DataFrame, **params):
    return run_task("chart", data, "series", params=params, registry=Registry.open())


def test_bad_input(home):
    with pytest.raises(WorkbenchError, match=r"date column 'Date' does not parse as dates \(got soon"):
        run_chart(pl.DataFrame({"Date": ["soon", "later"] * 10, "v": range(20)}), date="Date", value="v")
    with pytest.raises(WorkbenchError, match="only 5 dated values"):
        run_chart(NOAA.head(5), date="Date", value="Anomaly")
    with pytest.raises(WorkbenchError, match="column 'name' .parameter value. is String, not a numeric column; "
                                             "columns that fit: Anomaly$"):
        run_chart(NOAA.with_columns(pl.lit("x").alias("name")), date="Date", value="name")
    with pytest.raises(WorkbenchError, match="has no values"):
        run_chart(NOAA.with_columns(pl.lit(None, pl.Float64).alias("Anomaly")), date="Date", value="Anomaly")
    with pytest.raises(WorkbenchError, match="only 1 complete decade"):
        run_chart(NOAA.head(150), date="Date", value="Anomaly", period="decade")
    assert Registry.open().datasets.list() == []
