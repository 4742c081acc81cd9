# Report app (Shiny Express): any recorded run as a report for readers who did not run it.
# Started by `workbench app shiny`. The address carries the run and the audience (?run=3&audience=general),
# so a report can be shared as a link; new runs appear without a reload. Everything a user typed is escaped.
# (Comments, not a docstring: Express shows every top-level string on the page.)

from typing import Any
from urllib.parse import parse_qs, urlencode

from shiny import reactive
from shiny import ui as core
from shiny.express import input, render, session, ui

from workbench.kit.charts import AUDIENCES
from workbench.presentation.numbers import label, number
from workbench.presentation.reports import (
    AUDIENCE_NAMES,
    chart_caption,
    chart_svg,
    charts_for,
    headline_metrics,
    markdown_html,
    metrics_frame,
    params_text,
    report_html,
    report_sections,
    table_html,
)
from workbench_apps.shiny_parts import ALL_TASKS, recorded_run, run_choices, task_choices

REFRESH_SECONDS = 3

ui.page_opts(title="workbench reports", fillable=False)

with ui.sidebar(width=340):
    ui.input_select("task", "Task", choices=task_choices())
    ui.input_select("run", "Run", choices=run_choices(ALL_TASKS))
    ui.input_radio_buttons("audience", "Charts for", {a: AUDIENCE_NAMES[a].capitalize() for a in AUDIENCES},
                           selected="general")

    @render.download_button(label="Download report (HTML)", filename=lambda: f"workbench-run-{input.run()}.html")
    def download() -> Any:
        yield report_html(recorded_run(int(input.run())), input.audience())


first_sync = reactive.value(True)
shown_choices: reactive.Value[dict[str, str] | None] = reactive.value(None)
shown_tasks = reactive.value(task_choices())


@reactive.effect
def _sync_runs() -> Any:
    """The session's run list (the page is built once for every visitor), refreshed every few seconds; on
    arrival, the run and audience the address names."""
    reactive.invalidate_later(REFRESH_SECONDS)
    with reactive.isolate():
        task, current = input.task(), input.run()
        if first_sync():
            first_sync.set(False)
            query = parse_qs(session.clientdata.url_search().lstrip("?"))
            wanted = (query.get("run") or [""])[0]
            if wanted in run_choices(ALL_TASKS):
                task, current = ALL_TASKS, wanted
            audience = (query.get("audience") or [""])[0]
            if audience in AUDIENCES:
                ui.update_radio_buttons("audience", selected=audience)
        tasks = task_choices()
        if tasks != shown_tasks():  # the page was built when the app started: offer the tasks run since
            shown_tasks.set(tasks)
            ui.update_select("task", choices=tasks, selected=task if task in tasks else ALL_TASKS)
        choices = run_choices(task)
        if choices != shown_choices():
            show_runs(choices, current)


@reactive.effect
@reactive.event(input.task, ignore_init=True)
def _runs_of_task() -> Any:
    with reactive.isolate():
        show_runs(run_choices(input.task()), input.run())


def show_runs(choices: dict[str, str], current: str) -> None:
    """Offer `choices`, keeping the run shown when it is among them."""
    shown_choices.set(choices)
    ui.update_select("run", choices=choices, selected=current if current in choices else next(iter(choices), None))


@reactive.effect
async def _to_address() -> Any:
    """Keep the address in step with the report shown, so it can be copied and shared."""
    if first_sync() or not input.run():
        return
    await session.bookmark.update_query_string("?" + urlencode({"run": input.run(), "audience": input.audience()}))


@reactive.calc
def current() -> Any:
    chosen = input.run()
    return recorded_run(int(chosen)) if chosen else None


@render.ui
def report() -> Any:
    run = current()
    if run is None:
        return core.p("No recorded runs yet: run a task (`workbench run TASK --data FILE` or the dashboard); "
                      "it appears here when it succeeds.")
    record = run.record
    tiles, rest = headline_metrics(run)
    boxes = [core.value_box(label(name), number(value, name)) for name, value in tiles.items()]
    parameters = core.tags.table(*[core.tags.tr(core.tags.th(name), core.tags.td(value))
                                   for name, value in params_text(record.params)], class_="table table-sm")
    started = f"{record.started_at:%Y-%m-%d %H:%M} · " if record.started_at else ""
    return core.TagList(
        core.h2(f"Run #{record.id}: {record.task}"),
        core.p(f"{started}inputs: {', '.join(record.inputs)} · {record.duration_s or 0:.1f} s", class_="text-muted"),
        core.HTML(markdown_html(run.summary)),
        core.layout_column_wrap(*boxes, width="200px", id="metrics") if boxes else None,
        core.accordion(
            *([core.accordion_panel(f"More metrics ({len(rest)})", core.HTML(table_html(metrics_frame(rest), 500)))]
              if rest else []),
            core.accordion_panel("Parameters", parameters), open=False, id="details"),
    )


@render.ui
def sections() -> Any:
    run = current()
    if run is None:
        return None
    parts: list[Any] = []
    for section in report_sections(run):
        parts += [core.h3(section.title), core.HTML(markdown_html(section.text))]
        if section.table is not None:
            parts.append(core.HTML(table_html(section.table, rows=20)))
        parts.append(core.hr())
    return core.div(*parts, id="task-sections")


@render.ui
def charts() -> Any:
    run = current()
    if run is None or not run.charts:
        return None
    audience = input.audience()
    return core.div(*[core.div(core.h3(f"Chart: {label(name)}"), core.p(chart_caption(name, audience),
                                                                         class_="text-muted"),
                               core.HTML(chart_svg(spec)), class_="chart", data_chart=name, data_audience=audience)
                      for name, spec in charts_for(run, audience)], id="charts")


@render.ui
def tables() -> Any:
    run = current()
    if run is None:
        return None
    return core.div(*[core.div(core.h3(f"Table: {name}"), core.HTML(table_html(table)), data_table=name)
                      for name, table in run.tables.items()], id="tables")
