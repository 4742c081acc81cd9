"""Training a classifier from a few labels, evaluated on texts it never saw: held-out rows or a separate file,
once per seed when asked (so the spread a few examples bring is measured, not guessed)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from workbench.sdk import ModelArtifact, Result, RunContext, WorkbenchError, read_table, text_values
from workbench_fewshot.methods import FewShotClassifier

METHOD_TITLES = {"setfit": "SetFit", "embeddings": "Embeddings + logistic regression", "zeroshot": "Zero-shot"}


@dataclass
class Trained:
    """One training: the classifier, the fine-tuned body to save (SetFit), and the rows it learnt from."""

    classifier: FewShotClassifier
    body: Any
    rows: np.ndarray
    short: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def code_like(classes: list[str], descriptions: dict[str, str] | None) -> list[str]:
    """Labels a zero-shot classifier would compare texts with although they read as codes (ABBR, HUM, 1)."""
    described = descriptions or {}
    return [label for label in classes if label not in described
            and (label.isdigit() or (label.isupper() and len(label) <= 6) or len(label) <= 2)]


def fit(texts: list[str], gold: list[str] | None, classes: list[str], params: Any, ctx: RunContext,
        seed: int) -> Trained:
    """Sample the training rows with `seed` and fit the chosen method."""
    from workbench_fewshot.backbone import Embedder, embedding_cache, load_sentence_model, model_key, resolve_backbone
    from workbench_fewshot.data import sample_per_class
    from workbench_fewshot.methods import fit_logistic_head, train_setfit

    short: dict[str, int] = {}
    if params.method == "zeroshot" or gold is None:
        rows = np.array([], dtype=int)
    elif params.shots:
        rows, short = sample_per_class(gold, params.shots, seed)
    else:
        rows = np.arange(len(texts))
    started = time.perf_counter()
    reference = resolve_backbone(params.backbone)
    train_texts = [texts[i] for i in rows]
    label_ids = np.array([classes.index(gold[i]) for i in rows], dtype=int) if gold else np.array([], dtype=int)
    settings = {**params.model_dump(include={"epochs", "iterations", "batch_size", "max_length"}), "seed": seed}
    if params.method == "setfit":
        model = train_setfit(reference, train_texts, label_ids, settings, ctx.scratch_dir, ctx.progress, ctx.device)
        classifier = FewShotClassifier("setfit", classes, Embedder(model.model_body, None, params.batch_size),
                                       model.model_head)
        return Trained(classifier, model.model_body, rows, short, time.perf_counter() - started)
    body = load_sentence_model(reference, params.max_length, ctx.device)
    embedder = Embedder(body, embedding_cache(ctx, model_key(reference, params.max_length), params.cache),
                        params.batch_size)
    if params.method == "embeddings":
        head = fit_logistic_head(embedder.encode(train_texts, ctx.progress, "Embedding training texts"), label_ids,
                                 seed)
        return Trained(FewShotClassifier("embeddings", classes, embedder, head), None, rows, short,
                       time.perf_counter() - started)
    descriptions = [(params.label_descriptions or {}).get(label, label) for label in classes]
    classifier = FewShotClassifier("zeroshot", classes, embedder, descriptions=descriptions)
    classifier.label_vectors = embedder.encode(descriptions, ctx.progress, "Embedding label descriptions")
    return Trained(classifier, None, rows, short, time.perf_counter() - started)


def evaluation_set(data: pl.DataFrame, texts: list[str], gold: list[str] | None, rows: np.ndarray, params: Any,
                   seed: int) -> tuple[pl.DataFrame, list[str], list[str]] | None:
    """What to evaluate on: the `eval_data` file whole, or up to `eval_rows` rows not trained on."""
    from workbench_fewshot.data import labels_of

    if params.eval_data:
        frame = read_table(params.eval_data)
        for column in (params.text, params.label):
            if column not in frame.columns:
                raise WorkbenchError(f"eval_data {params.eval_data} has no column {column!r}; it needs the training "
                                     f"data's text and label columns ({params.text}, {params.label})")
        return frame, text_values(frame, params.text), labels_of(frame, params.label)
    if gold is None:
        return None
    rest = np.setdiff1d(np.arange(len(texts)), rows)
    if len(rest) > params.eval_rows:
        rest = np.sort(np.random.default_rng(seed).choice(rest, size=params.eval_rows, replace=False))
    if not len(rest):
        return None
    frame = pl.DataFrame({"row": rest, params.text: [texts[i] for i in rest], params.label: [gold[i] for i in rest]})
    return frame, [texts[i] for i in rest], [gold[i] for i in rest]


def train(data: pl.DataFrame, texts: list[str], params: Any, ctx: RunContext) -> Result:
    """Fit once per seed, evaluate each, register the first seed's classifier."""
    from workbench_fewshot.data import check_classes, labels_of
    from workbench_fewshot.predict import predict, predictions_frame, speed
    from workbench_fewshot.report import confusion_chart, evaluate, seed_table
    from workbench_fewshot.store import save_classifier

    gold = labels_of(data, params.label) if params.label else None
    classes = check_classes(gold, params.label) if gold else sorted(params.label_descriptions)
    seeds = params.seeds or [ctx.seed]
    result = Result(metrics={"method": params.method, "classes": len(classes)})
    per_seed, kept = [], None
    for seed in ctx.progress.track(seeds, "Seeds") if len(seeds) > 1 else seeds:
        trained = fit(texts, gold, classes, params, ctx, seed)
        scores: dict[str, Any] = {"seed": seed, "train_examples": len(trained.rows),
                                  "train_seconds": round(trained.seconds, 2)}
        evaluated = evaluation_set(data, texts, gold, trained.rows, params, seed)
        if evaluated is not None:
            frame, eval_texts, eval_gold = evaluated
            probabilities, seconds = predict(trained.classifier, eval_texts, ctx.progress)
            metrics, per_label, confusion = evaluate(eval_gold, probabilities, classes)
            scores.update(metrics)
            if kept is None:
                result.metrics.update({**metrics, **speed(trained.classifier, len(eval_texts), seconds)})
                result.tables.update(predictions=predictions_frame(frame, trained.classifier, probabilities),
                                     per_label=per_label, confusion=confusion)
                title = (f"{METHOD_TITLES[params.method]}: accuracy {metrics['accuracy']:.1%} on "
                         f"{len(eval_gold):,} texts")
                result.charts["confusion"] = confusion_chart(confusion, title)
        per_seed.append(scores)
        kept = kept or trained
    assert kept is not None
    result.metrics.update(train_examples=len(kept.rows), train_seconds=round(kept.seconds, 2))
    if kept.short:
        result.metrics["classes_short_of_shots"] = kept.short
    if len(kept.rows):
        result.tables["train_rows"] = pl.DataFrame({"row": kept.rows, params.text: [texts[i] for i in kept.rows],
                                                    params.label: [gold[i] for i in kept.rows] if gold else None})
    if len(seeds) > 1:
        table, spread = seed_table(per_seed)
        result.tables["seeds"] = table
        result.metrics.update(spread)
    folder = ctx.new_model_dir("fewshot")
    settings = {**params.model_dump(include={"batch_size", "max_length"})}
    save_classifier(kept.classifier, kept.body, params.backbone, settings, folder)
    result.models.append(ModelArtifact(folder, metrics={k: v for k, v in result.metrics.items() if k in (
        "accuracy", "macro_f1", "log_loss", "roc_auc", "train_examples", "classes", "accuracy_mean", "accuracy_sd")}))
    result.summary = summary(kept, result.metrics, params, seeds, classes)
    return result


def summary(kept: Trained, metrics: dict, params: Any, seeds: list[int], classes: list[str]) -> str:
    action = (f"Trained on {len(kept.rows):,} examples" if len(kept.rows) else "Built a zero-shot classifier")
    text = (f"{action} with **{METHOD_TITLES[params.method]}** ({len(classes)} classes: "
            f"{', '.join(classes[:10])}).")
    codes = code_like(classes, params.label_descriptions) if params.method == "zeroshot" else []
    if codes:
        text += (f"\n\n**Warning:** zero-shot compares each text with the label names, and {', '.join(codes[:8])} "
                 "read as codes, not meanings; pass label_descriptions (e.g. "
                 f'{{"{codes[0]}": "what it means"}}) or the scores will be close to chance.')
    if kept.short:
        listed = ", ".join(f"{label!r} has {count}" for label, count in kept.short.items())
        text += f"\n\nFewer than {params.shots} examples for some classes, so all of theirs were used: {listed}."
    if "accuracy" in metrics:
        where = f"the {metrics['eval_rows']:,} texts of {params.eval_data}" if params.eval_data else \
            f"{metrics['eval_rows']:,} labelled texts not trained on"
        text += f"\n\nOn {where}: accuracy **{metrics['accuracy']:.1%}**, macro F1 {metrics['macro_f1']:.3f}."
        if "log_loss" in metrics:
            text += f" Log-loss {metrics['log_loss']:.3f}, ROC AUC {metrics['roc_auc']:.3f}."
    if len(seeds) > 1 and "accuracy_mean" in metrics:
        text += (f"\n\nOver {len(seeds)} seeds ({', '.join(map(str, seeds))}): accuracy {metrics['accuracy_mean']:.1%} "
                 f"± {metrics['accuracy_sd']:.1%} (sd); each seed in the `seeds` table. The registered model is "
                 f"the one trained with seed {seeds[0]}.")
    return text
