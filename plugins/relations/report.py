"""Turning generations into the task's tables, metrics, charts and summary."""

from __future__ import annotations

from typing import Any

import polars as pl

from workbench.sdk import ModelArtifact, Result
from workbench_relations.generation import Generations
from workbench_relations.lora import LoraSettings
from workbench_relations.scoring import evaluate
from workbench_relations.triples import Parsed, Triple, parse_output, write_lines


def sentences_frame(data: pl.DataFrame, parsed: list[Parsed]) -> pl.DataFrame:
    """`data` with each sentence's triples (`head|relation|tail` lines) and how many lines did not parse."""
    return data.with_columns(pl.Series("extracted", [write_lines(p.triples) for p in parsed], dtype=pl.String),
                             pl.Series("unparsed_lines", [len(p.unparsed) for p in parsed], dtype=pl.Int64))


def extraction_result(texts: list[str], generations: Generations, gold: list[list[Triple]] | None,
                      labels: list[str] | None, reference: str, data: pl.DataFrame | None = None) -> Result:
    """One row per triple, the lines that did not parse, throughput, and scores when gold triples are given;
    with `data`, also one row per sentence (what batch scoring writes)."""
    parsed = [parse_output(answer, labels) for answer in generations.texts]
    triples = pl.DataFrame(
        [{"row": row, "head": t.head, "relation": t.relation, "tail": t.tail}
         for row, p in enumerate(parsed) for t in p.triples],
        schema={"row": pl.Int64, "head": pl.String, "relation": pl.String, "tail": pl.String})
    unparsed = pl.DataFrame([{"row": row, "line": line} for row, p in enumerate(parsed) for line in p.unparsed],
                            schema={"row": pl.Int64, "line": pl.String})
    seconds = max(generations.seconds, 1e-9)
    metrics = {"sentences": len(texts), "triples": triples.height, "unparsed_lines": unparsed.height,
               "unparsed_share": unparsed_share(parsed), "repaired_lines": sum(p.repaired for p in parsed),
               "duplicate_triples": sum(p.duplicates for p in parsed), "generated_tokens": generations.new_tokens,
               "generate_seconds": round(generations.seconds, 2), "batch_size": generations.batch_size,
               "sentences_per_second": round(len(texts) / seconds, 2),
               "tokens_per_second": round(generations.new_tokens / seconds, 1)}
    result = Result(tables={"triples": triples, "unparsed": unparsed}, metrics=metrics)
    if data is not None:
        result.tables["sentences"] = sentences_frame(data, parsed)
    text = (f"Extracted {triples.height:,} triples from {len(texts):,} sentences with `{reference}` "
            f"({metrics['sentences_per_second']} sentences/s, {metrics['tokens_per_second']} tokens/s). "
            f"{unparsed.height} generated lines did not parse ({metrics['unparsed_share']:.1%}; listed in "
            f"`unparsed`), {metrics['repaired_lines']} parsed after repair.")
    if gold is not None:
        scores, per_relation = evaluate([p.triples for p in parsed], gold)
        result.metrics.update({k: round(v, 4) for k, v in scores.items()})
        result.metrics["gold_triples"] = sum(len(g) for g in gold)
        result.tables["per_relation"] = per_relation
        if per_relation.height and "strict_f1" in per_relation.columns:
            result.charts["per_relation"] = f1_chart(per_relation)
        text += (f"\n\nAgainst {result.metrics['gold_triples']:,} gold triples: strict micro-F1 "
                 f"**{scores['strict_f1']:.1%}** (P {scores['strict_precision']:.1%}, "
                 f"R {scores['strict_recall']:.1%}); "
                 f"lenient (head/tail containment) {scores['lenient_f1']:.1%}.")
    result.summary = text
    return result


def unparsed_share(parsed: list[Parsed]) -> float:
    """The share of non-empty generated lines that did not parse (0 when nothing was generated)."""
    lines = sum(p.lines for p in parsed)
    return round(sum(len(p.unparsed) for p in parsed) / lines, 4) if lines else 0.0


def f1_chart(per_relation: pl.DataFrame) -> Any:
    """Strict and lenient F1 per relation, side by side."""
    import altair as alt

    from workbench.sdk import themed

    long = per_relation.select("relation", "strict_f1", "lenient_f1").unpivot(
        index="relation", variable_name="match", value_name="f1").with_columns(
        pl.col("match").str.replace("_f1", ""))
    return themed(alt.Chart(long).mark_bar().encode(
        y=alt.Y("relation:N", title=None), x=alt.X("f1:Q", title="F1", scale=alt.Scale(domain=[0, 1])),
        yOffset="match:N", color=alt.Color("match:N", title="Match", scale=alt.Scale(range=["#1f77b4", "#aec7e8"])),
        tooltip=["relation", "match", alt.Tooltip("f1:Q", format=".1%")],
    ).properties(title="F1 per relation", width=420))


def training_result(before: Result | None, after: Result | None, losses: list[float], train_examples: int,
                    settings: LoraSettings, folder: Any, quantized: bool) -> Result:
    """Loss curve, scores before and after on the held-out rows, and the adapter to register."""
    import altair as alt

    from workbench.sdk import themed

    loss = pl.DataFrame({"step": range(1, len(losses) + 1), "loss": losses})
    tail = losses[-10:]
    metrics = {"train_examples": train_examples, "epochs": settings.epochs, "steps": len(losses),
               "first_loss": round(losses[0], 4), "final_loss": round(sum(tail) / len(tail), 4),
               "method": "QLoRA" if quantized else "LoRA"}
    tables = {"loss": loss}
    for label, result in (("before", before), ("after", after)):
        if result is not None:
            for key in ("strict_f1", "lenient_f1", "unparsed_lines"):
                metrics[f"{key}_{label}"] = result.metrics.get(key)
            tables[f"per_relation_{label}"] = result.tables["per_relation"]
    chart = alt.Chart(loss).mark_line().encode(x=alt.X("step:Q", title="Step"), y=alt.Y("loss:Q", title="Loss"))
    smooth = chart.transform_window(mean="mean(loss)", frame=[-9, 0]).mark_line(color="#c0392b").encode(y="mean:Q")
    summary = (f"{metrics['method']} on {train_examples:,} conversations, {settings.epochs} epochs "
               f"({len(losses)} steps): loss {metrics['first_loss']} -> {metrics['final_loss']} (mean of the last 10).")
    if before is not None and after is not None:
        summary += (f"\n\nHeld-out strict micro-F1: **{metrics['strict_f1_before']:.1%} -> "
                    f"{metrics['strict_f1_after']:.1%}** (lenient {metrics['lenient_f1_before']:.1%} -> "
                    f"{metrics['lenient_f1_after']:.1%}).")
    model_metrics = {k: v for k, v in metrics.items() if k.startswith(("strict", "lenient", "final_loss"))}
    return Result(tables=tables, metrics=metrics, summary=summary,
                  charts={"loss": themed((chart + smooth).properties(title="Training loss", width=480))},
                  models=[ModelArtifact(folder, metrics=model_metrics)])
