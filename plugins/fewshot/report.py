"""Evaluation against gold labels: accuracy, macro F1, log-loss and ROC AUC, per-label precision and recall,
a confusion matrix, and the spread over seeds."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import polars as pl


def evaluate(gold: list[str], probabilities: np.ndarray, labels: list[str]) -> tuple[dict[str, Any], pl.DataFrame,
                                                                                    pl.DataFrame]:
    """Metrics, a per-label table and the confusion counts (one row per gold/predicted pair).

    Log-loss and ROC AUC (macro one-vs-rest for more than two classes) need every gold label to be a class the
    classifier knows, and every class to occur; otherwise they are left out.
    """
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        log_loss,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    predicted = [labels[i] for i in probabilities.argmax(axis=1)]
    known = labels + sorted(set(gold) - set(labels))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=known, zero_division=0)
    per_label = pl.DataFrame({"label": known, "precision": precision, "recall": recall, "f1": f1,
                              "support": support.astype(np.int64)})
    counts = confusion_matrix(gold, predicted, labels=known)
    confusion = pl.DataFrame([
        {"gold": g, "predicted": p, "count": int(counts[i, j]),
         "share_of_gold": float(counts[i, j] / max(counts[i].sum(), 1))}
        for i, g in enumerate(known) for j, p in enumerate(known)
    ])
    metrics = {"accuracy": float(accuracy_score(gold, predicted)),
               "macro_f1": float(f1_score(gold, predicted, labels=known, average="macro", zero_division=0)),
               "eval_rows": len(gold)}
    if set(gold) == set(labels):
        metrics["log_loss"] = float(log_loss(gold, probabilities, labels=labels))
        metrics["roc_auc"] = float(roc_auc_score([label == labels[1] for label in gold], probabilities[:, 1])
                                   if len(labels) == 2 else
                                   roc_auc_score(gold, probabilities, multi_class="ovr", labels=labels))
    return metrics, per_label, confusion


def seed_table(per_seed: list[dict[str, Any]]) -> tuple[pl.DataFrame, dict[str, float]]:
    """Each seed's scores, and their mean and standard deviation."""
    table = pl.DataFrame(per_seed)
    summary: dict[str, float] = {}
    for name in ("accuracy", "macro_f1", "log_loss", "roc_auc"):
        if name in table.columns:
            summary[f"{name}_mean"] = cast(float, table[name].mean())
            summary[f"{name}_sd"] = cast(float, table[name].std()) if table.height > 1 else 0.0
    return table, summary


def confusion_chart(confusion: pl.DataFrame, title: str) -> Any:
    """Heatmap of the share of each gold label predicted as each label, with the counts written in."""
    import altair as alt

    from workbench.sdk import themed

    base = alt.Chart(confusion).encode(
        x=alt.X("predicted:N", title="Predicted"), y=alt.Y("gold:N", title="Gold"))
    cells = base.mark_rect().encode(
        color=alt.Color("share_of_gold:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="Share of gold"),
        tooltip=["gold", "predicted", "count", alt.Tooltip("share_of_gold:Q", format=".1%")])
    text = base.mark_text(fontSize=13).encode(
        text="count:Q",
        color=alt.condition(alt.datum.share_of_gold > 0.5, alt.value("white"), alt.value("black")))
    size = max(160, 60 * confusion["gold"].n_unique())
    return themed((cells + text).properties(title=title, width=size, height=size))
