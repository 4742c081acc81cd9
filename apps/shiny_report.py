# Report app (Shiny Express): any recorded run as a report for readers who did not run it.
# Started by `workbench app shiny`. Loading lives in `shiny_parts` so each visitor does not repeat it.
# (Comments, not a docstring: Express shows every top-level string on the page.)

import json

from shiny import reactive
from shiny import ui as core
from shiny.express import input, render, ui

from workbench.charts import AUDIENCES
from workbench.reports import chart_svg, markdown_html, metric_items, report_html, report_sections, table_html
from workbench_apps.shiny_parts import ALL_TASKS, recorded_run, run_choices, task_choices

ui.page_opts(title="workbench reports", fillable=False)

with ui.sidebar(width=340):
    ui.input_select("task", "Task", choices=task_choices())
    ui.input_select("run", "Run", choices=run_choices(ALL_TASKS))
    ui.input_radio_buttons("audience", "Charts for", {a: a.replace("-", " ").capitalize() for a in AUDIENCES},
                           selected="general")

    @render.download_button(label="Download report (HTML)", filename=lambda: f"workbench-run-{input.run()}.html")
    def download():
        yield report_html(recorded_run(int(input.run())), input.audience())


@reactive.effect
def _runs_of_task():
    ui.update_select("run", choices=run_choices(input.task()))


@reactive.calc
def current():
    chosen = input.run()
    return recorded_run(int(chosen)) if chosen else None


@render.ui
def report():
    run = current()
    if run is None:
        return core.p("No recorded runs yet: run a task (`workbench run TASK --data FILE`) and reload.")
    record = run.record
    boxes = [core.value_box(name, value) for name, value in metric_items(run.metrics)]
    params = "".join(f"<li><code>{name}</code> = <code>{json.dumps(value)}</code></li>"
                     for name, value in record.params.items())
    return core.TagList(
        core.h2(f"Run #{record.id}: {record.task}"),
        core.p(f"{record.started_at:%Y-%m-%d %H:%M} · inputs: {', '.join(record.inputs)} · "
               f"{record.duration_s or 0:.1f} s", class_="text-muted"),
        core.HTML(markdown_html(run.summary)),
        core.layout_column_wrap(*boxes, width="180px", id="metrics") if boxes else None,
        core.accordion(core.accordion_panel("Parameters", core.HTML(f"<ul>{params}</ul>")), open=False),
    )


@render.ui
def sections():
    run = current()
    if run is None:
        return None
    parts = []
    for section in report_sections(run):
        parts += [core.h3(section.title), core.HTML(markdown_html(section.text))]
        if section.table is not None:
            parts.append(core.HTML(table_html(section.table, rows=20)))
        parts.append(core.hr())
    return core.div(*parts, id="task-sections")


@render.ui
def charts():
    run = current()
    if run is None or not run.charts:
        return None
    audience = input.audience()
    return core.div(*[core.div(core.h3(f"Chart: {name}"), core.HTML(chart_svg(spec, audience)), class_="chart",
                               data_chart=name, data_audience=audience) for name, spec in run.charts.items()],
                    id="charts")


@render.ui
def tables():
    run = current()
    if run is None:
        return None
    return core.div(*[core.div(core.h3(f"Table: {name}"), core.HTML(table_html(table)), data_table=name)
                      for name, table in run.tables.items()], id="tables")
