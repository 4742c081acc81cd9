"""The Streamlit dashboard: forms from every task's Params (AppTest), and what an analyst does, in real Chromium.

The browser tests start `workbench app streamlit` (and the report app) as a user would; runs go to the
background worker. With WORKBENCH_SCREENSHOTS set, each page is saved there (apps/docs/ holds the committed ones).
"""

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import DATASETS, ROOT, WORKBENCH, free_port, wait_for_http
from playwright.sync_api import Page, expect
from streamlit.testing.v1 import AppTest

from workbench import plugins
from workbench.registry import Registry
from workbench.testing import run_task

APP = ROOT / "apps" / "streamlit_app.py"
WIDGETS = ("selectbox", "multiselect", "number_input", "text_input", "text_area", "toggle")
XSS = '<img src=x onerror="window.__xss=1">'


@pytest.fixture
def app(home) -> AppTest:
    """The app on a registry holding the Adult sample, with that dataset picked."""
    Registry.open().datasets.add("adult", pl.read_csv(DATASETS / "adult_train.csv"))
    test = AppTest.from_file(str(APP), default_timeout=180)
    test.run()
    test.radio(key="keep:data-source").set_value("A registered dataset").run()
    return test


def labels(test: AppTest) -> set[str]:
    """The labels of the form's widgets, and of its tables (a mapping is a table of keys and values)."""
    tables = [text.value.strip("*") for text in test.markdown if text.value.startswith("**")]
    return {label.split(" (")[0].removesuffix(" *").strip()
            for label in [*tables, *(widget.label for kind in WIDGETS for widget in getattr(test, kind))]}


@pytest.mark.parametrize("task_name", sorted(plugins.tasks()))
def test_the_form_of_every_task_is_generated_from_its_params(app, task_name):
    task = plugins.tasks()[task_name]
    app.selectbox(key="keep:task").set_value(task_name).run()
    assert not app.exception
    assert set(task.Params.model_fields) <= labels(app)
    assert task.summary in [caption.value for caption in app.caption]
    advanced = [e for e in app.expander if e.label == "Advanced"]
    assert bool(advanced) == any(info.json_schema_extra and info.json_schema_extra.get("advanced")
                                 for info in task.Params.model_fields.values())


def test_column_parameters_offer_only_fitting_columns_and_guess_nothing(app):
    app.selectbox(key="keep:task").set_value("feature-selection").run()
    assert app.selectbox(key="keep:feature-selection:target").value is None  # not silently the first column
    app.selectbox(key="keep:task").set_value("fewshot").run()
    text = app.selectbox(key="keep:fewshot:text")
    assert "age" not in text.options and "workclass" in text.options  # only text columns for a text parameter


def test_invalid_parameters_are_shown_inline_in_full_and_nothing_runs(app):
    app.selectbox(key="keep:task").set_value("onehot").run()
    app.number_input(key="keep:onehot:min_frequency").set_value(0.0)
    app.button[0].click().run()
    assert not app.exception
    assert "invalid parameter 'min_frequency': Input should be greater than 0" in app.error[0].value
    assert Registry.open().runs.list() == []


def test_the_form_keeps_its_values_while_it_is_not_shown(app):
    """Streamlit forgets a widget that a run does not draw (another page, another data source); the form does not."""
    app.selectbox(key="keep:task").set_value("onehot").run()
    app.number_input(key="keep:onehot:max_levels").set_value(500).run()
    app.radio(key="keep:data-source").set_value("Upload a file").run()
    assert not [box for box in app.selectbox if box.key == "keep:task"]  # the form is gone
    app.radio(key="keep:data-source").set_value("A registered dataset").run()
    assert app.selectbox(key="keep:task").value == "onehot"
    assert app.number_input(key="keep:onehot:max_levels").value == 500


# -- in a real browser ------------------------------------------------------------------------------------------

def shot(page: Page, name: str, tmp_path: Path) -> None:
    """A screenshot at laptop width (1280), as tall as the content (Streamlit scrolls inside its main area)."""
    page.mouse.move(0, 0)
    page.keyboard.press("Escape")
    size = page.viewport_size
    height = page.evaluate("Math.max(...[...document.querySelectorAll('section, div')].map(e => e.scrollHeight))")
    page.set_viewport_size({"width": 1280, "height": min(max(int(height), size["height"]), 3000)})
    page.wait_for_timeout(1200)
    page.screenshot(path=tmp_path / name)
    if os.environ.get("WORKBENCH_SCREENSHOTS"):
        page.screenshot(path=Path(os.environ["WORKBENCH_SCREENSHOTS"]) / name)
    page.set_viewport_size(size)


def idle(page: Page) -> None:
    """Wait until Streamlit has finished rerunning the script."""
    page.wait_for_timeout(400)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)


def submit(page: Page, run_url: str) -> None:
    """Click Run and land on the run's page; a click that a busy machine's rerun swallowed (no run started, the
    page unchanged) is made again, at most twice: a second run started by a retry fails the URL check."""
    for _ in range(2):
        page.get_by_role("button", name="Run", exact=True).click()
        try:
            expect(page).to_have_url(run_url, timeout=30_000)
            return
        except AssertionError:
            idle(page)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page).to_have_url(run_url, timeout=60_000)


def choose(page: Page, label: str, value: str) -> None:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).locator("input")
    box.click()
    box.fill(value)
    page.keyboard.press("Enter")
    idle(page)


def fill(page: Page, label: str, value: str, kind: str = "stNumberInput") -> None:
    """Type into the number (or text) input labelled `label` and leave it, as a user does."""
    field = page.locator(f'[data-testid="{kind}"]').filter(has_text=label).locator("input")
    field.fill(value)
    field.press("Tab")
    idle(page)


def start_server(command: list[str], env: dict, health: str):
    port = free_port()
    server = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    wait_for_http(health.format(port=port), server)
    return server, f"http://127.0.0.1:{port}"


def stop_workers(home: Path) -> None:
    """End the workers the dashboard started (detached, they outlive it), so that a test failing midway does not
    leave a long run taking a core from the rest of the suite."""
    for run in Registry.open(home=home).runs.list(limit=None):
        if run.status in ("running", "queued") and run.pid and run.pid != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(run.pid) == run.pid:  # a worker leads its own session, with its helpers
                    os.killpg(run.pid, signal.SIGKILL)


@pytest.fixture
def servers(home):
    """The dashboard and the report app on one workspace, the dashboard linking to the report app."""
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    shiny, reports = start_server([str(WORKBENCH), "app", "shiny"], env, "http://127.0.0.1:{port}/")
    dashboard, url = start_server([str(WORKBENCH), "app", "streamlit"], {**env, "WORKBENCH_REPORTS_URL": reports},
                                  "http://127.0.0.1:{port}/_stcore/health")
    yield url, reports
    for server in (dashboard, shiny):
        server.terminate()
        server.wait(timeout=30)
    stop_workers(home)


def wait_for(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_a_long_run_survives_navigation_and_reload_and_cancel_registers_nothing(servers, page: Page, tmp_path):
    url, _ = servers
    Registry.open().datasets.add("mobile", pl.read_csv(DATASETS / "mobile_price_sample.csv"))
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(url)
    page.get_by_text("A registered dataset").click()
    idle(page)
    choose(page, "Task", "feature-selection")
    choose(page, "target", "price_range")
    fill(page, "trials", "100000")
    fill(page, "Register the model as", "never", "stTextInput")
    shot(page, "dashboard-run-form.png", tmp_path)
    submit(page, f"{url}/runs?run=1")
    expect(page.get_by_text("Optuna trials:")).to_be_visible(timeout=120_000)
    shot(page, "dashboard-run-live.png", tmp_path)

    page.get_by_role("link", name="Datasets").click()  # away and back, then a reload: the run goes on
    expect(page.get_by_role("heading", name="Datasets")).to_be_visible(timeout=30_000)
    page.goto(f"{url}/runs?run=1")
    expect(page.get_by_text("Optuna trials:")).to_be_visible(timeout=60_000)
    page.reload()
    expect(page.get_by_text("Optuna trials:")).to_be_visible(timeout=60_000)
    assert Registry.open().runs.get(1).status == "running"

    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Cancelled on request; nothing was registered")).to_be_visible(timeout=120_000)
    record = Registry.open().runs.get(1)
    assert record.status == "cancelled" and record.progress.get("done", 0) > 0
    assert Registry.open().models.list() == []


@pytest.fixture
def three_runs(home) -> list[int]:
    """Three few-shot runs on the clickbait headlines, better with more shots, each registering a version."""
    data = pl.read_csv(DATASETS / "clickbait_sample.csv")
    registry = Registry.open()
    return [run_task("fewshot", data, "clickbait", params={
        "text": "headline", "label": "clickbait", "method": "embeddings", "shots": shots}, register="headlines",
            registry=registry).run_id for shots in (2, 24, 6)]


def test_a_past_run_reopens_links_its_report_and_the_leaderboard_promotes(servers, three_runs, page: Page,
                                                                          tmp_path):
    url, reports = servers
    page.set_viewport_size({"width": 1280, "height": 720})
    accuracies = {run_id: Registry.open().runs.get(run_id).outputs["metrics"]["accuracy"] for run_id in three_runs}
    best = max(accuracies, key=accuracies.get)

    page.goto(f"{url}/runs")
    expect(page.get_by_text("Select a run to open it.")).to_be_visible(timeout=60_000)
    page.goto(f"{url}/runs?run={best}")  # what selecting the row does
    expect(page.get_by_text(f"Run #{best}: fewshot")).to_be_visible(timeout=60_000)
    expect(page.locator(".vega-embed").first).to_be_visible(timeout=60_000)  # its confusion chart
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="Accuracy")).to_have_count(1)
    shot(page, "dashboard-history.png", tmp_path)

    with page.context.expect_page() as opened:
        page.get_by_role("link", name=f"Open the report of run #{best}").click()
    report = opened.value
    expect(report.locator("#report h2")).to_have_text(f"Run #{best}: fewshot", timeout=60_000)
    assert f"run={best}" in report.url and "audience=general" in report.url
    expect(report.locator("#audience input[value=general]")).to_be_checked()
    report.close()

    page.get_by_role("link", name="Compare").click()
    expect(page.get_by_text("3 runs of fewshot on clickbait")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("best first by Accuracy (higher is better) — the task's headline metric")).to_be_visible()
    expect(page.get_by_text(f"Best: run #{best}")).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]').first).to_contain_text("shots")  # the parameter that differs
    expect(page).to_have_url(re.compile(r"/compare\?task=fewshot&dataset=clickbait&metric=accuracy$"))
    expect(page.locator(".vega-embed svg")).to_be_visible()  # the metric across runs
    shot(page, "dashboard-compare.png", tmp_path)
    choose(page, "Run", f"run #{best}")
    page.get_by_role("button", name="Promote").click()
    expect(page.get_by_text("headlines@champion now points at version")).to_be_visible(timeout=60_000)
    champion = Registry.open().models.get("headlines@champion")
    assert champion.run_id == best

    page.goto(f"{url}/models?model={champion.ref}")
    expect(page.get_by_text(f"Made by run #{best}")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Input: clickbait@1")).to_be_visible()
    shot(page, "dashboard-models.png", tmp_path)

    page.goto(f"{url}/runs?run={best}")  # run it again: the form comes back filled with its settings
    page.get_by_role("button", name="Run again with these settings").click()
    shots = page.locator('[data-testid="stNumberInput"]').filter(has_text="shots").locator("input")
    expect(shots).to_have_value("24", timeout=60_000)
    expect(page.get_by_role("combobox", name="Task")).to_have_value(re.compile(r"\(fewshot\)$"))


def test_hostile_names_and_bad_files_run_no_script_and_write_nowhere(servers, page: Page, tmp_path):
    url, reports = servers
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    upload = page.locator('input[type="file"]')
    hostile = f"{XSS},b\n1,x\n2,y\n3,{XSS}\n".encode()
    upload.set_input_files({"name": f"../../../{XSS}.csv", "mimeType": "text/csv", "buffer": hostile})
    expect(page.get_by_text(re.compile(r"^Registered .+ as dataset "))).to_be_visible(timeout=60_000)
    (record,) = Registry.open().datasets.list()
    assert record.source.startswith("upload:") and "/" not in record.source and XSS not in record.name
    page.get_by_text("Upload a file").click()
    idle(page)
    page.locator('input[type="file"]').set_input_files({"name": "ragged.csv", "mimeType": "text/csv",
                                                        "buffer": b"a,b\n1,2,3\n"})
    error = page.locator('[data-testid="stAlert"]').filter(has_text="was not registered")
    expect(error).to_contain_text("line 2 has 3 fields but the header has 2", timeout=60_000)
    assert "Traceback" not in page.content()

    registry = Registry.open()
    run_id = run_task("describe", record.ref, registry=registry).run_id
    noaa = pl.read_csv(DATASETS / "noaa_global_temperature.csv")
    chart = run_task("chart", noaa, "noaa", params={"date": "Date", "value": "Anomaly", "units": XSS,
                                                              "subject": XSS}, registry=registry).run_id
    for address in (f"{url}/runs?run={run_id}", f"{url}/runs?run={chart}", f"{reports}/?run={chart}",
                    f"{reports}/?run={run_id}&audience=professional"):
        page.goto(address)
        page.wait_for_timeout(4000)
        assert page.evaluate("window.__xss") is None, address
    with page.expect_download() as download:
        page.locator("#download").click()
    saved = tmp_path / "report.html"
    download.value.save_as(saved)
    offline = page.context.new_page()
    offline.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    offline.set_content(saved.read_text())
    offline.wait_for_timeout(1000)
    assert offline.evaluate("window.__xss") is None
    assert dialogs == []
    home = Path(os.environ["WORKBENCH_HOME"])
    for path in home.parent.rglob("*onerror*"):  # only the dataset, inside the workspace, under a safe name
        assert home in path.parents and re.fullmatch(r"[A-Za-z0-9_.-]+", path.name), path
