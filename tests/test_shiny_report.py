"""The Shiny Express report app, driven in Debian's headless chromium with Shiny's own test tools."""

import os
import re
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import polars as pl
import pytest
from conftest import DATASETS, ROOT, WORKBENCH, free_port, wait_for_http
from playwright.sync_api import Page, expect
from shiny.playwright import controller
from shiny.pytest import create_app_fixture

from workbench.registry import Registry
from workbench.runner import RunRequest, run_task

HOME = Path(tempfile.mkdtemp(prefix="workbench-shiny-"))
app = create_app_fixture(ROOT / "apps" / "shiny_report.py", env={"WORKBENCH_HOME": str(HOME)}, timeout_secs=90)


@pytest.fixture(scope="module")
def describe_run() -> int:
    """A recorded `describe` run (and an `onehot` one, so the task filter has something to filter)."""
    registry = Registry(home=HOME)
    adult = pl.read_csv(DATASETS / "adult_train.csv")
    run_task(RunRequest("onehot", adult, "adult"), registry)
    return run_task(RunRequest("describe", adult, "adult"), registry).run_id


def open_describe_run(page: Page, app, describe_run: int) -> None:
    page.goto(app.url)
    controller.InputSelect(page, "task").set("describe")
    run = controller.InputSelect(page, "run")
    expect(page.locator("#run option")).to_have_count(1)
    run.set(str(describe_run))
    expect(page.locator("#report h2")).to_have_text(f"Run #{describe_run}: describe")


def test_a_describe_run_shows_its_metrics_section_and_table(page: Page, describe_run, app, tmp_path):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    open_describe_run(page, app, describe_run)
    metrics = page.locator("#metrics")
    expect(metrics).to_contain_text("rows")
    expect(metrics).to_contain_text("3,000")
    expect(metrics).to_contain_text("null_cells")
    expect(page.locator("#task-sections")).to_contain_text("Data quality")
    expect(page.locator("#task-sections")).to_contain_text("have missing values; `workclass`".replace("`", ""))
    profile = page.locator("[data-table=profile] table")
    expect(profile.locator("tbody tr")).to_have_count(15)
    expect(profile).to_contain_text("native_country")
    page.set_viewport_size({"width": 1300, "height": 1700})
    page.screenshot(path=tmp_path / "report.png")
    if os.environ.get("WORKBENCH_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["WORKBENCH_SCREENSHOTS"], "report.png"))
    hosts = {re.match(r"^[a-z]+://([^/]+)", url).group(1) for url in requests if "://" in url}
    assert hosts == {app.url.split("://")[1].strip("/")}, hosts  # nothing from a CDN


def test_switching_the_audience_re_renders_the_chart(page: Page, describe_run, app):
    open_describe_run(page, app, describe_run)
    chart = page.locator("[data-chart=missing]")
    expect(chart).to_have_attribute("data-audience", "general")
    general = chart.locator("svg").inner_html()
    controller.InputRadioButtons(page, "audience").set("professional")
    expect(chart).to_have_attribute("data-audience", "professional")
    professional = chart.locator("svg").inner_html()
    assert professional != general
    assert professional.count("grid") > general.count("grid")  # professionals get grid lines


def test_the_downloaded_report_is_self_contained(page: Page, describe_run, app, tmp_path):
    open_describe_run(page, app, describe_run)
    with page.expect_download() as download:
        controller.DownloadButton(page, "download").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    text = path.read_text()
    assert path.name == f"workbench-run-{describe_run}.html"
    assert "Data quality" in text and "<svg" in text and "native_country" in text
    assert "<script" not in text and "<link" not in text
    assert not re.search(r"""(src|href)=["']?https?:""", text)
    offline = page.context.new_page()
    fetched = []
    offline.route("**/*", lambda route: (fetched.append(route.request.url), route.abort()))
    offline.set_content(text)
    expect(offline.locator("h1")).to_have_text(f"Run #{describe_run}: describe")
    expect(offline.locator("svg").first).to_be_visible()
    assert fetched == []


def test_workbench_app_shiny_serves_on_loopback(describe_run):
    port = free_port()
    server = subprocess.Popen([str(WORKBENCH), "app", "shiny", "--port", str(port)], text=True,
                              env={**os.environ, "WORKBENCH_HOME": str(HOME)}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", server)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
            assert "workbench reports" in response.read().decode()
    finally:
        server.terminate()
        assert server.wait(timeout=30) is not None  # the server itself stops: no child left behind
