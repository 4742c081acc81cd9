"""The Shiny Express report app, driven in Debian's headless chromium with Shiny's own test tools."""

import os
import re
import socket
import subprocess
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import polars as pl
import psutil
import pytest
from conftest import DATASETS, ROOT, WORKBENCH, free_port, wait_for_http
from playwright.sync_api import Page, expect
from shiny.playwright import controller
from shiny.pytest import create_app_fixture

from workbench.registry import Registry
from workbench.testing import run_task

HOME = Path(tempfile.mkdtemp(prefix="workbench-shiny-"))
app = create_app_fixture(ROOT / "apps" / "shiny_report.py", env={"WORKBENCH_HOME": str(HOME)}, timeout_secs=90)


@pytest.fixture(scope="module")
def describe_run() -> int:
    """A recorded `describe` run (and an `onehot` one, so the task filter has something to filter)."""
    registry = Registry.open(home=HOME)
    adult = pl.read_csv(DATASETS / "adult_train.csv")
    run_task("onehot", adult, "adult", registry=registry)
    return run_task("describe", adult, "adult", registry=registry).run_id


@pytest.fixture(scope="module")
def chart_run(describe_run) -> int:
    """A recorded `chart` run: one chart per audience."""
    noaa = pl.read_csv(DATASETS / "noaa_global_temperature.csv")
    return run_task("chart", noaa, "noaa", params={"date": "Date", "value": "Anomaly", "units": "°C"},
                    registry=Registry.open(home=HOME)).run_id


def open_describe_run(page: Page, app, describe_run: int) -> None:
    page.goto(app.url)
    expect(page.locator("#report h2")).to_be_visible(timeout=60_000)  # the session has synced its run list
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
    expect(metrics).to_contain_text("Rows")
    expect(metrics).to_contain_text("3,000")
    expect(metrics).to_contain_text("Null cells")
    expect(page.locator("#task-sections")).to_contain_text("Data quality")
    expect(page.locator("#task-sections")).to_contain_text("have missing values; `workclass`".replace("`", ""))
    controller.InputRadioButtons(page, "audience").set("professional")  # the output tables are for professionals
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
        # `workbench app shiny` became the server (exec), so the process we started is the one listening
        listening = {c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port
                     and c.status == psutil.CONN_LISTEN}
        assert listening == {server.pid}
    finally:
        server.terminate()
        server.wait(timeout=30)
    with socket.socket() as probe:  # nothing is left behind listening on the port
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_the_address_opens_a_run_for_an_audience_and_follows_the_choices(page: Page, chart_run, app):
    page.goto(f"{app.url}?run={chart_run}&audience=decision-maker")
    expect(page.locator("#report h2")).to_have_text(f"Run #{chart_run}: chart", timeout=60_000)
    expect(page.locator("#audience input[value=decision-maker]")).to_be_checked()
    charts = page.locator("#charts .chart")
    expect(charts).to_have_count(1)  # only the chart drawn for decision-makers
    expect(charts.first).to_have_attribute("data-chart", "decision-maker")
    expect(charts.first).to_contain_text("drawn for decision-makers")
    controller.InputRadioButtons(page, "audience").set("general")
    expect(charts.first).to_have_attribute("data-chart", "general")
    expect(page).to_have_url(re.compile(rf"run={chart_run}&audience=general"))
    controller.InputRadioButtons(page, "audience").set("professional")
    expect(page.locator("#details")).to_contain_text("Parameters")
    page.locator("#details").get_by_text("Parameters").click()
    expect(page.locator("#details")).to_contain_text("°C")  # units as written, not \\u00b0C


def test_a_run_that_finishes_later_is_listed_without_a_reload(page: Page, describe_run, app):
    page.goto(app.url)
    expect(page.locator("#report h2")).to_be_visible(timeout=60_000)
    before = page.locator("#run option").count()
    later = run_task("describe", pl.read_csv(DATASETS / "adult_test.csv"), "adult-test",
                     registry=Registry.open(home=HOME)).run_id
    expect(page.locator(f"#run option[value='{later}']")).to_have_count(1, timeout=30_000)
    assert page.locator("#run option").count() == before + 1


def test_audiences_change_the_words_and_the_detail_not_only_the_colours(page: Page, describe_run, app):
    page.goto(f"{app.url}?run={describe_run}&audience=decision-maker")
    expect(page.locator("#opening")).to_contain_text("What to decide", timeout=60_000)
    expect(page.locator("#executive")).to_contain_text("3,000 rows x 15 columns")
    expect(page.locator("#charts .chart")).to_have_count(1)
    expect(page.locator("[data-table]")).to_have_count(0)
    expect(page.locator("#task-sections")).to_have_count(0)
    controller.InputRadioButtons(page, "audience").set("professional")
    expect(page.locator("#opening")).to_contain_text("The full record")
    expect(page.locator("[data-table=profile] table")).to_be_visible()
    expect(page.locator("#details")).to_contain_text("Parameters")
    expect(page.locator("#charts .chart")).to_have_count(2)


def test_all_outputs_download_as_one_zip(page: Page, describe_run, app, tmp_path):
    page.goto(f"{app.url}?run={describe_run}")
    expect(page.locator("#report h2")).to_be_visible(timeout=60_000)
    with page.expect_download() as download:
        controller.DownloadButton(page, "download_all").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == f"workbench-run-{describe_run}.zip"
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    assert {"metrics.json", "summary.md", "profile.parquet", "distribution.parquet", "missing.vl.json"} <= names


def test_a_title_and_commentary_are_saved_with_the_report_and_lead_it(page: Page, app, tmp_path):
    registry = Registry.open(home=HOME)
    run_id = run_task("describe", pl.read_csv(DATASETS / "adult_test.csv"), "adult-holdout", registry=registry).run_id
    page.goto(f"{app.url}?run={run_id}&audience=decision-maker")
    expect(page.locator("#report h2")).to_have_text(f"Run #{run_id}: describe", timeout=60_000)
    controller.InputText(page, "title").set("Hold-out data: fit to use?")
    controller.InputTextArea(page, "commentary").set("Yes, once **workclass** gaps are filled. <b>not bold</b>")
    controller.InputActionButton(page, "save").click()
    expect(page.locator("#report h2")).to_have_text("Hold-out data: fit to use?", timeout=30_000)
    executive = page.locator("#executive")
    expect(executive.locator("strong").first).to_have_text("workclass")  # the commentary first
    expect(executive).to_contain_text("<b>not bold</b>")  # shown as typed, never as HTML
    record = registry.runs.get(run_id)
    assert record.tags == {"report.title": "Hold-out data: fit to use?",
                           "report.commentary": "Yes, once **workclass** gaps are filled. <b>not bold</b>"}
    assert registry.audit.list(target=f"run #{run_id}")[0].action == "annotate"
    with page.expect_download() as download:
        controller.DownloadButton(page, "download").click()
    saved = tmp_path / "report.html"
    download.value.save_as(saved)
    text = saved.read_text()
    assert "<h1>Hold-out data: fit to use?</h1>" in text and "&lt;b&gt;not bold&lt;/b&gt;" in text
    assert text.index("Executive summary") < text.index("Chart:")


def test_a_task_first_run_after_the_app_started_joins_the_filter(page: Page, describe_run, app):
    page.goto(app.url)
    expect(page.locator("#report h2")).to_be_visible(timeout=60_000)
    expect(page.locator("#task option[value=uplift]")).to_have_count(0)
    run_task("uplift", pl.read_csv(DATASETS / "campaign_sample.csv"), "campaign", registry=Registry.open(home=HOME),
             params={"treatment": "treatment", "outcome": "outcome", "control": "control", "bootstrap": 50})
    expect(page.locator("#task option[value=uplift]")).to_have_count(1, timeout=30_000)
