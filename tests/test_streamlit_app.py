"""The Streamlit dashboard: forms from every task's Params (AppTest), and a real run in headless Chromium."""

import os
import subprocess

import polars as pl
import pytest
from conftest import DATASETS, ROOT, WORKBENCH, free_port, wait_for_http
from playwright.sync_api import expect
from streamlit.testing.v1 import AppTest

from workbench import plugins
from workbench.registry import Registry

APP = ROOT / "apps" / "streamlit_app.py"
WIDGETS = ("selectbox", "multiselect", "number_input", "text_input", "text_area", "toggle")


@pytest.fixture
def app(home) -> AppTest:
    """The app on a registry holding the Adult sample, with that dataset picked."""
    Registry().add_dataset("adult", pl.read_csv(DATASETS / "adult_train.csv"))
    test = AppTest.from_file(str(APP), default_timeout=180)
    test.run()
    test.radio(key="data-source").set_value("A registered dataset").run()
    return test


def labels(test: AppTest) -> set[str]:
    return {widget.label.removesuffix(" *") for kind in WIDGETS for widget in getattr(test, kind)}


@pytest.mark.parametrize("task_name", sorted(plugins.tasks()))
def test_the_form_of_every_task_is_generated_from_its_params(app, task_name):
    task = plugins.tasks()[task_name]
    app.selectbox(key="task").set_value(task_name).run()
    assert not app.exception
    assert set(task.Params.model_fields) <= labels(app)
    assert task.summary in [caption.value for caption in app.caption]


def test_describe_run_shows_its_profile_and_metrics(app):
    app.selectbox(key="task").set_value("describe").run()
    app.button[0].click().run()
    assert not app.exception and not app.error
    assert "profile" in [tab.label for tab in app.tabs]
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["rows"] == "3000" and metrics["columns"] == "15"
    assert Registry().runs("describe")[0].status == "succeeded"


def test_onehot_run_registers_the_encoder_and_shows_its_tables(app):
    app.selectbox(key="task").set_value("onehot").run()
    app.text_input(key="register-onehot").input("adult-encoder")
    app.button[0].click().run()
    assert not app.exception and not app.error
    assert {"encoded", "drift", "levels"} <= {tab.label for tab in app.tabs}
    assert "Registered model **adult-encoder@1**" in app.success[0].value
    assert Registry().model("adult-encoder").task == "onehot"


def test_invalid_parameters_are_shown_inline_not_run(app):
    app.selectbox(key="task").set_value("onehot").run()
    app.number_input(key="onehot:min_frequency").set_value(0.0)
    app.button[0].click().run()
    assert not app.exception
    assert "invalid parameter 'min_frequency'" in app.error[0].value
    assert Registry().runs() == []


def test_a_task_error_is_a_message_and_a_failed_run(app):
    app.selectbox(key="task").set_value("chart").run()
    app.selectbox(key="chart:date").set_value("workclass")
    app.button[0].click().run()
    assert not app.exception
    assert app.error and "Traceback" not in app.error[0].value
    assert Registry().runs("chart")[0].status == "failed"


def test_models_page_shows_lineage_and_sets_an_alias(app):
    app.selectbox(key="task").set_value("onehot").run()
    app.text_input(key="register-onehot").input("enc")
    app.button[0].click().run()
    app.sidebar.radio(key="page").set_value("Models").run()
    app.text_input[0].input("production")
    app.button[0].click().run()
    assert "production now points at enc@1" in app.success[0].value
    assert Registry().model("enc@production").version == 1


def test_dashboard_in_headless_chromium(home, page, tmp_path):
    """Start the app as a user would, upload a CSV, run describe and onehot, and keep a screenshot."""
    port = free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    server = subprocess.Popen([str(WORKBENCH), "app", "streamlit", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", server)
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}")
        page.locator('input[type="file"]').set_input_files(DATASETS / "adult_train.csv")
        page.get_by_text("Registered as dataset adult_train@1").wait_for(timeout=90_000)
        for task, summary, table in (("describe", "Rows, columns, dtypes", "profile"),
                                     ("onehot", "Fit an encoder once", "levels")):
            box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Task").locator("input")
            box.click()
            box.fill(task)
            page.keyboard.press("Enter")
            page.get_by_text(summary).wait_for(timeout=30_000)
            run = page.get_by_role("button", name="Run", exact=True)
            expect(run).to_have_count(1, timeout=60_000)  # the previous task's form is gone after the rerun
            wait_until_idle(page)
            run.click()
            page.get_by_text(f"{task}: run #").wait_for(timeout=120_000)
            page.get_by_role("tab", name=table, exact=True).wait_for(timeout=30_000)
            shot(page, tmp_path / f"dashboard-{task}.png")
        assert page.locator('[data-testid="stMetric"]').filter(has_text="output_columns").count() == 1
        assert [run.status for run in Registry().runs()] == ["succeeded", "succeeded"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def shot(page, path) -> None:
    """A screenshot of the whole app (its main area scrolls inside the page, so the viewport grows to fit)."""
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.wait_for_timeout(1500)
    page.screenshot(path=path)
    if os.environ.get("WORKBENCH_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["WORKBENCH_SCREENSHOTS"], path.name))
    page.set_viewport_size({"width": 1400, "height": 1000})


def wait_until_idle(page) -> None:
    """Wait until Streamlit has finished rerunning the script (its status widget shows only while it runs)."""
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)
