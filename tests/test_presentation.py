"""One way to show numbers and metrics in the CLI, the dashboard and the reports."""

import pytest

from workbench.presentation.numbers import column_format, duration, label, metric_line, number, split_metrics


@pytest.mark.parametrize(("value", "name", "shown"), [
    (1976, "year", "1976"),  # years plain, not 1,976
    (1976, "change_year", "1976"),
    (2010, "last_period", "2010"),
    (1976, "rows", "1,976"),  # a count of 1,976 things is grouped
    (3000, None, "3,000"),
    (189_284.77, "mean", "189,284.77"),  # large reals readable in full
    (99_999.0, None, "99,999"),  # not 1e+05
    (1_234_567.891, None, "1,234,568"),
    (8.333e-05, None, "0.00008333"),  # small ones without an exponent
    (0.0001, "penalty", "0.0001"),  # not 0.00
    (0.93871, "accuracy", "0.9387"),
    (13.6231, "std", "13.62"),
    (0.0, None, "0"),
    (-0.125, None, "-0.125"),
    (True, "compare", "yes"),
    (False, None, "no"),
    (None, None, ""),
    ("°C", "units", "°C"),  # units as written
    (float("nan"), None, "n/a"),
    (1e-12, None, "1.000e-12"),  # not an ordinary size: the exponent says so
])
def test_numbers_read_as_people_read_them(value, name, shown):
    assert number(value, name) == shown


def test_units_are_glued_on_as_written():
    assert number(0.94, "rise", units="°C") == "0.94°C"
    assert number(1200, "rows", units=" customers") == "1,200 customers"


@pytest.mark.parametrize(("name", "shown"), [
    ("strict_f1", "Strict F1"), ("optuna_cv", "Optuna CV"), ("uplift_vs_naive_pct", "Uplift vs naive %"),
    ("mean_cate", "Mean CATE"), ("null_cells", "Null cells"), ("rmse", "RMSE"), ("auuc", "AUUC"), ("r2", "R²"),
])
def test_metric_names_are_made_readable(name, shown):
    assert label(name) == shown


def test_a_task_chooses_its_tiles_and_the_rest_go_to_a_table():
    metrics = {"rows": 10, "accuracy": 0.9, "macro_f1": 0.8, "decimals": 2, "per_label": {"a": 1}, "flag": True}
    tiles, rest = split_metrics(metrics, ("accuracy", "macro_f1", "missing"))
    assert tiles == {"accuracy": 0.9, "macro_f1": 0.8}
    assert rest == {"rows": 10, "decimals": 2, "per_label": {"a": 1}, "flag": True}
    tiles, _ = split_metrics({f"m{i}": i for i in range(24)})
    assert len(tiles) == 4  # never a wall of 24


@pytest.mark.parametrize(("name", "values", "fmt"), [
    ("year", [1976, 2001], "%d"),
    ("rows", [3000, 45], "localized"),
    ("mean", [189_284.77, 40_000.5], "localized"),
    ("clock_speed", [0.5, 1.2, 2.5], "%.1f"),
    ("accuracy", [0.93871, 0.5], "%.4f"),
    ("penalty", [8.3e-05, 1.2e-04], "%.7f"),
    ("name", ["a", "b"], None),
])
def test_table_columns_get_a_format_that_keeps_them_sortable(name, values, fmt):
    assert column_format(name, values) == fmt


def test_durations_and_terminal_lines():
    assert duration(3.14) == "3.1 s" and duration(192) == "3 min 12 s" and duration(3900) == "1 h 05 min"
    assert duration(None) == ""
    assert metric_line({"rows": 3000, "accuracy": 0.93871, "year": 1976, "nested": {"a": 1}}) == (
        "rows=3,000, accuracy=0.9387, year=1976")
