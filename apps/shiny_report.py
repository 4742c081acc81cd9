# Report app (Shiny Express): any recorded run as a report for readers who did not run it.
# Started by `workbench app shiny`. The address carries the run and the audience (?run=3&audience=general),
# so a report can be shared as a link; new runs and tasks appear without a reload. A report opens with its
# executive summary (a title and commentary its author saves here, then the decision and its number); the
# audience changes the words and the detail. Everything a user typed is escaped.
# (Comments, not a docstring: Express shows every top-level string on the page.)

from typing import Any
from urllib.parse import parse_qs, urlencode

from shiny import reactive
from shiny import ui as core
from shiny.express import input, render, session, ui

from workbench.errors import WorkbenchError
from workbench.kit.charts import AUDIENCES
from workbench.presentation.audiences import (
    MAX_COMMENTARY,
    MAX_TITLE,
    audience,
    executive_summary,
    report_commentary,
    report_tags,
    report_title,
    rest_of_summary,
)
from workbench.presentation.numbers import label, number
from workbench.presentation.reports import (
    chart_caption,
    chart_svg,
    charts_for,
    headline_metrics,
    markdown_html,
    metric_units,
    metrics_frame,
    params_text,
    report_html,
    report_sections,
    table_html,
    zipped,
)
from workbench_apps.shiny_parts import (
    ALL_TASKS,
    fresh_run,
    reader,
    recorded_run,
    registry,
    run_choices,
    task_choices,
)

REFRESH_SECONDS = 3

ui.page_opts(title="workbench reports", fillable=False)

with ui.sidebar(width=340):
    ui.input_select("task", "Task", choices=task_choices())
    ui.input_select("run", "Run", choices=run_choices(ALL_TASKS))
    ui.input_radio_buttons("audience", "Written for", {a: audience(a).name.capitalize() for a in AUDIENCES},
                           selected="general")
    ui.input_text("title", "Title", placeholder="the report's title")
    ui.input_text_area("commentary", "Commentary", rows=4, placeholder="What the reader should take from it")
    ui.input_action_button("save", "Save title and commentary", class_="btn-sm")

    @render.text
    def saved_note() -> str:
        return saved_message()

    @render.download_button(label="Download report (HTML)", filename=lambda: f"workbench-run-{input.run()}.html")
    def download() -> Any:
        yield report_html(fresh_run(int(input.run())), input.audience())

    @render.download_button(label="Download all outputs (zip)", filename=lambda: f"workbench-run-{input.run()}.zip")
    def download_all() -> Any:
        yield zipped(recorded_run(int(input.run())).folder)


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


saves = reactive.value(0)  # bumped by each save, so the report is read again
saved_message = reactive.value("")


@reactive.calc
def current() -> Any:
    chosen = input.run()
    saves()
    return fresh_run(int(chosen)) if chosen else None


@reactive.effect
@reactive.event(input.run)
def _show_title() -> Any:
    """The title and commentary boxes show those saved with the run just chosen."""
    run = current()
    if run is not None:
        ui.update_text("title", value=report_title(run.record))
        ui.update_text_area("commentary", value=report_commentary(run.record))
        saved_message.set("")


@reactive.effect
@reactive.event(input.save)
def _save_title() -> Any:
    """Save the title and commentary with the run (as tags; the audit trail records who)."""
    run = current()
    if run is None:
        return
    try:
        connection = getattr(session.root_scope(), "http_conn", None)  # the browser's request (its headers)
        user = reader(connection.headers if connection is not None else {})
        registry().runs.annotate(run.record.id, tags=report_tags(input.title(), input.commentary(), run.record),
                                 user=user)
    except WorkbenchError as error:
        saved_message.set(f"Not saved: {error}")
        return
    saves.set(saves() + 1)
    saved_message.set(f"Saved (at most {MAX_TITLE} characters of title, {MAX_COMMENTARY:,} of commentary).")


@render.ui
def report() -> Any:
    run = current()
    if run is None:
        return core.p("No recorded runs yet: run a task (`workbench run TASK --data FILE` or the dashboard); "
                      "it appears here when it succeeds.")
    record, reader_detail = run.record, audience(input.audience())
    tiles, rest = headline_metrics(run)
    units = metric_units(run)
    boxes = [core.value_box(label(name), number(value, name, units.get(name, ""))) for name, value in tiles.items()]
    details = []
    if reader_detail.all_metrics and rest:
        details.append(core.accordion_panel(f"More metrics ({len(rest)})",
                                            core.HTML(table_html(metrics_frame(rest), 500))))
    if reader_detail.parameters:
        details.append(core.accordion_panel("Parameters", core.tags.table(
            *[core.tags.tr(core.tags.th(name), core.tags.td(value)) for name, value in params_text(record.params)],
            class_="table table-sm")))
    started = f"{record.started_at:%Y-%m-%d %H:%M} · " if record.started_at else ""
    return core.TagList(
        core.h2(report_title(record)),
        core.p(reader_detail.opening, class_="lead", id="opening"),
        core.div(core.h3("Executive summary"), core.HTML(markdown_html(report_commentary(record))),
                 core.HTML(markdown_html(executive_summary(run))), id="executive"),
        core.layout_column_wrap(*boxes, width="200px", id="metrics") if boxes else None,
        core.HTML(markdown_html(rest_of_summary(run))) if reader_detail.whole_summary else None,
        core.accordion(*details, open=False, id="details") if details else None,
        core.p(f"Run #{record.id} ({record.task}) · {started}inputs: {', '.join(record.inputs)} · "
               f"{record.duration_s or 0:.1f} s", class_="text-muted"),
    )


@render.ui
def sections() -> Any:
    run = current()
    reader_detail = audience(input.audience())
    if run is None or not reader_detail.sections:
        return None
    parts: list[Any] = []
    for section in report_sections(run):
        parts += [core.h3(section.title), core.HTML(markdown_html(section.text))]
        if section.table is not None and reader_detail.section_tables:
            parts.append(core.HTML(table_html(section.table, rows=20)))
        parts.append(core.hr())
    return core.div(*parts, id="task-sections")


@render.ui
def charts() -> Any:
    run = current()
    if run is None or not run.charts:
        return None
    name_of_audience = input.audience()
    shown = charts_for(run, name_of_audience)[:audience(name_of_audience).max_charts]
    return core.div(*[core.div(core.h3(f"Chart: {label(name)}"), core.p(chart_caption(name, name_of_audience),
                                                                         class_="text-muted"),
                               core.HTML(chart_svg(spec)), class_="chart", data_chart=name,
                               data_audience=name_of_audience)
                      for name, spec in shown], id="charts")


@render.ui
def tables() -> Any:
    run = current()
    if run is None or not audience(input.audience()).tables:
        return None
    return core.div(*[core.div(core.h3(f"Table: {name}"), core.HTML(table_html(table)), data_table=name)
                      for name, table in run.tables.items()], id="tables")
