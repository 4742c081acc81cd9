"""The dashboard for a team, in real Chromium: who did what, runs side by side, forms from the data, the report app
found wherever it runs, charts that read in the dark. Screenshots go to WORKBENCH_SCREENSHOTS when it is set."""

import os
import re

import polars as pl
import pytest
from conftest import DATASETS, WORKBENCH
from playwright.sync_api import Browser, Page, expect
from test_streamlit_app import choose, fill, idle, shot, start_server, stop_workers, submit

from workbench.registry import Registry
from workbench.testing import run_task

HEADER = "X-Forwarded-User"


def dashboard(home, **settings: str):
    env = {**os.environ, "WORKBENCH_HOME": str(home), **settings}
    return start_server([str(WORKBENCH), "app", "streamlit"], env, "http://127.0.0.1:{port}/_stcore/health")


@pytest.fixture
def team(home):
    """The dashboard behind a signing-in proxy (the user in a header), with two workers."""
    Registry.open().datasets.add("mobile", pl.read_csv(DATASETS / "mobile_price_sample.csv"))
    server, url = dashboard(home, WORKBENCH_USER_HEADER=HEADER, WORKBENCH_WORKERS="2")
    yield url
    server.terminate()
    server.wait(timeout=30)
    stop_workers(home)


def signed_in(browser: Browser, user: str) -> Page:
    page = browser.new_context(extra_http_headers={HEADER: user}, viewport={"width": 1280, "height": 900}).new_page()
    return page


def start_from_form(page: Page, url: str, task: str, **columns: str) -> None:
    page.goto(url)
    page.get_by_text("A registered dataset").click()
    idle(page)
    choose(page, "Task", task)
    for name, value in columns.items():
        choose(page, name, value)


def test_two_users_own_their_runs_a_short_run_passes_a_long_one_and_the_audit_says_who(team, browser, tmp_path):
    url = team
    anonymous = browser.new_page()
    anonymous.goto(url)
    expect(anonymous.get_by_text(f"Sign in first: this dashboard takes who you are from the {HEADER}"))\
        .to_be_visible(timeout=60_000)

    alice = signed_in(browser, "alice")
    start_from_form(alice, url, "feature-selection", target="price_range")
    fill(alice, "trials", "100000")
    submit(alice, f"{url}/runs?run=1")
    expect(alice.get_by_text("Optuna trials:")).to_be_visible(timeout=120_000)
    expect(alice.get_by_text("by alice")).to_be_visible()

    bob = signed_in(browser, "bob")
    bob.goto(f"{url}/runs?run=1")
    expect(bob.get_by_text("Optuna trials:")).to_be_visible(timeout=60_000)
    bob.get_by_role("button", name="Cancel").click()
    expect(bob.get_by_text("run #1 belongs to alice, not bob")).to_be_visible(timeout=30_000)
    assert Registry.open().runs.get(1).status == "running"

    start_from_form(bob, url, "describe")  # a short run, while the long one holds the first worker
    submit(bob, f"{url}/runs?run=2")
    expect(bob.get_by_text("600 rows x 21 columns")).to_be_visible(timeout=120_000)
    assert Registry.open().runs.get(1).status == "running"
    bob.goto(f"{url}/runs?user=bob")
    expect(bob.get_by_text("1 runs.")).to_be_visible(timeout=60_000)
    shot(bob, "dashboard-runs.png", tmp_path)

    alice.get_by_role("button", name="Cancel").click()
    expect(alice.get_by_text("Cancelled on request; nothing was registered")).to_be_visible(timeout=120_000)
    (entry,) = Registry.open().audit.list()
    assert (entry.user, entry.action, entry.target) == ("alice", "cancel", "run #1")
    assert [Registry.open().runs.get(run).user for run in (1, 2)] == ["alice", "bob"]
    bob.goto(f"{url}/audit")
    audit = bob.locator('[data-testid="stDataFrame"]')
    expect(audit).to_contain_text("alice", timeout=60_000)
    expect(audit).to_contain_text("run #1")
    shot(bob, "dashboard-audit.png", tmp_path)


def test_the_uplift_form_is_filled_from_the_data_without_json(home, page: Page, tmp_path):
    Registry.open().datasets.add("campaign", pl.read_csv(DATASETS / "campaign_sample.csv"))
    server, url = dashboard(home)
    try:
        page.set_viewport_size({"width": 1280, "height": 2400})
        start_from_form(page, url, "uplift", treatment="treatment", outcome="outcome")
        control = page.locator('[data-testid="stSelectbox"]').filter(has_text="control")
        expect(control.locator("input")).to_have_attribute("aria-label", re.compile("control"))
        choose(page, "control", "control")  # one of the treatment column's values
        costs = page.locator('[data-testid="stDataFrame"]').filter(has_text="discount").last
        expect(costs).to_contain_text("offer")  # one row per arm, the control left out
        assert "control" not in costs.inner_text()
        box = costs.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + 52)  # focus the table
        page.wait_for_timeout(500)
        for row, (arm, cost) in enumerate([("discount", "1"), ("email", "0.2"), ("offer", "0.5")], start=1):
            for attempt in range(3):  # a keystroke a busy machine's grid had not focused for is typed again
                page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + 35 * row + 17)
                page.wait_for_timeout(800)
                page.keyboard.type(cost, delay=80)
                page.keyboard.press("Enter")
                idle(page)
                try:
                    expect(costs.locator("tr").filter(has_text=arm)).to_contain_text(cost, timeout=5_000)
                    break
                except AssertionError:
                    if attempt == 2:
                        raise
        fill(page, "budget", "200")
        fill(page, "units", "$", "stTextInput")
        page.get_by_text("Advanced").click()
        fill(page, "bootstrap", "50")
        shot(page, "dashboard-uplift-form.png", tmp_path)
        submit(page, f"{url}/runs?run=1")
        expect(page.get_by_text(re.compile(r"Decision: treat [\d,]+ of 1,600 customers"))).to_be_visible(
            timeout=180_000)
        run = Registry.open().runs.list()[0]
        assert run.params["control"] == "control"
        assert run.params["costs"] == {"discount": 1.0, "email": 0.2, "offer": 0.5}
        assert run.params["budget"] == 200.0 and run.params["units"] == "$"
        shot(page, "dashboard-uplift.png", tmp_path)
    finally:
        server.terminate()
        stop_workers(home)
        server.wait(timeout=30)


def test_the_report_link_follows_the_report_app_to_its_port(home, page: Page):
    registry = Registry.open()
    run_id = run_task("describe", pl.read_csv(DATASETS / "adult_train.csv"), "adult", registry=registry).run_id
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    env.pop("WORKBENCH_REPORTS_URL", None)
    shiny, reports = start_server([str(WORKBENCH), "app", "shiny"], env, "http://127.0.0.1:{port}/")
    server, url = dashboard(home)
    try:
        assert not reports.endswith(":8000")
        page.goto(f"{url}/runs?run={run_id}")
        link = page.get_by_role("link", name=f"Open the report of run #{run_id}")
        expect(link).to_have_attribute("href", f"{reports}/?run={run_id}&audience=general", timeout=60_000)
        with page.context.expect_page() as opened:
            link.click()
        expect(opened.value.locator("#report h2")).to_have_text(f"Run #{run_id}: describe", timeout=60_000)
    finally:
        for process in (server, shiny):
            process.terminate()
            process.wait(timeout=30)


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two CSS colours (rgb(...) or #rrggbb)."""
    def luminance(colour: str) -> float:
        if colour.startswith("#"):
            channels = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
        else:
            channels = [int(float(part)) for part in re.findall(r"[\d.]+", colour)[:3]]
        linear = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_charts_follow_the_dark_theme_with_readable_titles_and_axes(home, page: Page, tmp_path):
    registry = Registry.open()
    run_id = run_task("describe", pl.read_csv(DATASETS / "adult_train.csv"), "adult", registry=registry).run_id
    server, url = dashboard(home, STREAMLIT_THEME_BASE="dark")
    try:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{url}/runs?run={run_id}")
        chart = page.locator(".vega-embed svg").first
        expect(chart).to_be_visible(timeout=60_000)
        background = page.evaluate("getComputedStyle(document.querySelector('.stApp')).backgroundColor")
        texts = page.evaluate("""[...document.querySelectorAll('.vega-embed svg')].flatMap(svg =>
            [...svg.querySelectorAll('.role-title text, .role-axis-label text, .role-axis-title text')]
            .map(t => t.getAttribute('fill') || getComputedStyle(t).fill))""")
        assert contrast(background, "#000000") < 1.5, background  # the page is dark
        assert texts, "no chart text found"
        worst = min(contrast(colour, background) for colour in texts)
        assert worst >= 4.5, (worst, set(texts), background)
        shot(page, "dashboard-dark.png", tmp_path)
    finally:
        server.terminate()
        stop_workers(home)
        server.wait(timeout=30)
