"""The `onehot` task: fit and register an encoder, or apply a registered one and report drift."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from workbench.sdk import ModelArtifact, Result, RunContext, Task, TaskParams, advanced, column

if TYPE_CHECKING:
    from collections.abc import Callable

    import polars as pl

    from workbench.sdk import ModelRecord, RecordedRun, ReportSection

ENCODER_FILE = "encoder.json"
# Names that usually mark a column which should not be encoded as a feature: IDs, arms, outcomes, targets.
ROLE_LIKE = re.compile(r"(^|[_\s-])(id|uuid|key|treatment|treated|arm|variant|outcome|target|label)($|[_\s-])",
                       re.IGNORECASE)
ID_LIKE_SHARE = 0.5  # distinct levels above this share of the rows (and 50 rows or more) look like an ID


class OneHotParams(TaskParams):
    columns: list[str] | None = column(
        "categorical", "Columns to encode (default: every string, categorical and boolean column).", None)
    handle_unknown: Literal["ignore", "infrequent"] = Field(
        "ignore", description="Unseen levels at transform: all zeros, or the column's 'infrequent' indicator.")
    min_frequency: float | None = advanced(
        None, gt=0, description="Group levels rarer than this (a count, or a share of rows when below 1).")
    max_categories: int | None = advanced(
        None, ge=2, description="Keep at most this many columns per feature, the infrequent one included.")
    missing: Literal["level", "zeros"] = advanced(
        "level", description="Missing values as their own 'nan' indicator, or as all zeros.")
    max_levels: int = advanced(
        100_000, ge=1, description="Refuse a column with more distinct levels unless max_categories is set.")
    clean_names: bool = advanced(
        False, description="Output names of letters, digits and _ only (LightGBM and others refuse `$`, `)`, ...); "
        "the levels table and the model map each back to its column and level.")


class OneHot(Task[OneHotParams]):
    name = "onehot"
    title = "Robust one-hot encoding"
    summary = "Fit an encoder once; apply it to any later data with identical output columns and a drift report."
    applies_models = True
    headline = ("output_columns", "rows", "unseen_levels", "rows_with_unseen")
    batch_table = "encoded"

    def batch_scorer(self, params: OneHotParams, model: ModelRecord, device: str) -> Callable[[pl.DataFrame],
                                                                                               pl.DataFrame]:
        """The registered encoder's transform: a row's indicators depend on that row alone."""
        return load_encoder(model).transform

    def run_lazy(self, data: pl.LazyFrame, params: OneHotParams, ctx: RunContext) -> Result | None:
        """Fitting on data larger than memory (parts, s3://): the levels counted out of core; the encoded data is
        then made batch by batch by applying the registered encoder with --stream."""
        import polars as pl

        from workbench.sdk import RobustOneHotEncoder

        if ctx.model is not None:
            return None  # applying out of core is streaming: --model M --stream --out DIR
        with ctx.progress.bar("Counting levels out of core", total=1) as bar:
            encoder = RobustOneHotEncoder(**params.model_dump()).fit_lazy(data)
            bar.advance()
        folder = ctx.new_model_dir("encoder")
        (folder / ENCODER_FILE).write_text(json.dumps(encoder.to_dict(), indent=1))
        outputs = len(encoder.get_feature_names_out())
        sample = data.head(1000).collect()
        encoded, _ = encoder.transform_with_drift(sample)
        rows = int(data.select(pl.len()).collect(engine="streaming").item())
        summary = (f"Fitted an encoder out of core on {rows:,} rows: {len(encoder.encoded_)} columns "
                   f"({', '.join(f'`{c.name}`' for c in encoder.encoded_)}) -> {outputs} output columns. The "
                   "`encoded` table shows the first 1,000 rows; encode all of them with `--model NAME --stream "
                   "--out DIR`.")
        return Result(tables={"encoded": encoded, "levels": levels_table(encoder)},
                      metrics={"rows": rows, "encoded_columns": len(encoder.encoded_), "output_columns": outputs},
                      summary=summary, models=[ModelArtifact(folder, metrics={"output_columns": outputs})])

    def run(self, data: pl.DataFrame, params: OneHotParams, ctx: RunContext) -> Result:
        from workbench.sdk import RobustOneHotEncoder

        models = []
        if ctx.model is not None:
            encoder = load_encoder(ctx.model)
        else:
            encoder = RobustOneHotEncoder(**params.model_dump()).fit(data)
            folder = ctx.new_model_dir("encoder")
            (folder / ENCODER_FILE).write_text(json.dumps(encoder.to_dict(), indent=1))
            models.append(ModelArtifact(folder, metrics={"output_columns": len(encoder.get_feature_names_out())}))
        with ctx.progress.bar("Encoding", total=1) as bar:
            encoded, drift = encoder.transform_with_drift(data)
            bar.advance()
        unseen = drift.filter(drift["status"] == "unseen")
        checks = suspicious_columns(encoder, data.height) if ctx.model is None and params.columns is None else []
        metrics = {
            "rows": data.height,
            "encoded_columns": len(encoder.encoded_),
            "output_columns": encoded.width,
            "unseen_levels": unseen.height,
            "rows_with_unseen": int(unseen["count"].sum()),
            "absent_levels": drift.height - unseen.height,
            "suspicious_columns": len(checks),
        }
        summary = summary_text(encoder, drift, fitted=ctx.model is None)
        if checks:
            summary += "\n\n**Check these columns** (every string column is encoded by default; pass " \
                       "-p columns=[...] to choose): " + "; ".join(checks) + "."
        return Result(
            tables={"encoded": encoded, "drift": drift, "levels": levels_table(encoder)},
            metrics=metrics,
            charts={"drift": drift_chart(drift)} if unseen.height else {},
            summary=summary,
            models=models,
        )

    def report(self, run: RecordedRun) -> list[ReportSection]:
        """Drift: the levels the data brought that the encoder never saw."""
        from workbench.sdk import ReportSection

        drift = run.tables.get("drift")
        if drift is None:
            return []
        unseen = drift.filter(drift["status"] == "unseen").sort("count", descending=True)
        if not unseen.height:
            return [ReportSection("Drift", "Every level in this data was seen when the encoder was fitted.")]
        text = (f"{plural(unseen.height, 'unseen level')} in {unseen['column'].n_unique()} columns, carried by "
                f"{plural(int(unseen['count'].sum()), 'row')}; they are encoded as zeros (or as 'infrequent').")
        return [ReportSection("Drift", text, unseen)]


def load_encoder(model: ModelRecord) -> Any:
    """The encoder a registered model holds (plain JSON)."""
    from workbench.sdk import RobustOneHotEncoder

    return RobustOneHotEncoder.from_dict(json.loads((model.path / ENCODER_FILE).read_text()))


def suspicious_columns(encoder: Any, rows: int) -> list[str]:
    """Encoded columns that look like an ID (nearly one level per row) or like another role (treatment, outcome)."""
    found = []
    for encoded in encoder.encoded_:
        levels = len(encoded.levels) + len(encoded.infrequent)
        if rows >= 50 and levels > ID_LIKE_SHARE * rows:
            found.append(f"`{encoded.name}` has {levels:,} distinct values in {rows:,} rows (an ID?)")
        elif ROLE_LIKE.search(encoded.name):
            found.append(f"`{encoded.name}` is named like an ID, treatment or outcome, not a feature")
    return found


def levels_table(encoder: Any) -> pl.DataFrame:
    """One row per output indicator: input column, level and output column name (clean when asked)."""
    import polars as pl

    names = encoder.output_name_map()
    rows = []
    for encoded in encoder.encoded_:
        for position, (level, raw) in enumerate(encoded.indicators(encoder.separator)):
            name = names[raw]
            if encoded.has_infrequent_column and position == encoded.infrequent_code:
                level = "(infrequent: " + ", ".join(encoded.infrequent[:5]) + ")"
            rows.append({"column": encoded.name, "level": level, "output_column": name})
    return pl.DataFrame(rows)


def summary_text(encoder: Any, drift: pl.DataFrame, fitted: bool) -> str:
    verb = "Fitted an encoder on" if fitted else "Applied the registered encoder to"
    columns = ", ".join(f"`{c.name}`" for c in encoder.encoded_)
    outputs = len(encoder.get_feature_names_out())
    text = f"{verb} {len(encoder.encoded_)} columns ({columns}) -> {outputs} output columns."
    unseen = drift.filter(drift["status"] == "unseen")
    if unseen.height:
        listed = "; ".join(f"`{r['column']}` = {r['level']!r} ({plural(r['count'], 'row')}, {r['share']:.1%})"
                           for r in unseen.head(8).iter_rows(named=True))
        text += f"\n\n**Drift:** {plural(unseen.height, 'unseen level')}: {listed}."
    absent = drift.filter(drift["status"] == "absent")
    if absent.height and not fitted:
        text += f"\n\n{plural(absent.height, 'training level')} absent from this data."
    return text


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def drift_chart(drift: pl.DataFrame) -> Any:
    """Share of rows carrying each unseen level."""
    import altair as alt

    unseen = drift.filter(drift["status"] == "unseen").sort("share", descending=True).head(30)
    return alt.Chart(unseen).mark_bar().encode(
        x=alt.X("share:Q", title="Share of rows", axis=alt.Axis(format="%")),
        y=alt.Y("level:N", sort="-x", title=None),
        color=alt.Color("column:N", title="Column", legend=alt.Legend(orient="bottom")),
        tooltip=["column", "level", "count", alt.Tooltip("share:Q", format=".1%")],
    ).properties(title="Unseen levels at transform", width=360)
