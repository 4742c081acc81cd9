"""The `fewshot` task: train a text classifier from a few labels, apply it, or evaluate it on labelled rows."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from workbench.sdk import ModelArtifact, Result, RunContext, Task, TaskParams, WorkbenchError, advanced, column

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from workbench.sdk import ModelRecord, RecordedRun, ReportSection
    from workbench_fewshot.methods import FewShotClassifier

METHOD_TITLES = {"setfit": "SetFit", "embeddings": "Embeddings + logistic regression", "zeroshot": "Zero-shot"}


class FewShotParams(TaskParams):
    text: str = column("text", "Column with the texts to classify.", kind="text")
    label: str | None = column("label", "Column with the labels, for training and evaluation.", None, fit_only=True)
    method: Literal["setfit", "embeddings", "zeroshot"] = Field(
        "setfit", description="SetFit fine-tuning, frozen embeddings + logistic regression, or zero-shot cosine.")
    shots: int | None = Field(
        None, ge=1, description="Examples sampled per class to train on (default: every row); the rest are held out.")
    backbone: str | None = advanced(
        None, description="Sentence-transformer folder or hub id (default: the offline all-MiniLM-L6-v2).")
    epochs: int = advanced(1, ge=1, le=100, description="SetFit contrastive epochs.")
    iterations: int = advanced(20, ge=1, le=1000, description="SetFit pair iterations: 2 x iterations x examples.")
    batch_size: int = advanced(16, ge=1, le=1024, description="Batch size for training and for embedding.")
    max_length: int | None = advanced(128, ge=8, le=8192, description="Tokens kept per text (longer texts are cut).")
    label_descriptions: dict[str, str] | None = Field(
        None, description='Zero-shot: what each label means, e.g. {"1": "a sensational headline"} (default: names).')
    eval_rows: int = advanced(1000, ge=0, description="Held-out rows evaluated after training (0: none).")
    cache: bool = advanced(True, description="Reuse embeddings cached by (model, text) in the workbench home.")


class FewShot(Task[FewShotParams]):
    name = "fewshot"
    title = "Few-shot text classification"
    summary = "Classify texts from a few labelled examples: SetFit, embeddings + logistic regression, or zero-shot."
    applies_models = True
    headline = ("accuracy", "macro_f1", "train_examples", "eval_rows")

    def check(self, data: pl.DataFrame, params: FewShotParams, model: ModelRecord | None) -> None:
        from workbench.sdk import text_values
        from workbench_fewshot.backbone import resolve_backbone
        from workbench_fewshot.data import check_classes, labels_of

        text_values(data, params.text)
        if model is not None:
            return
        if params.label is None and not (params.method == "zeroshot" and params.label_descriptions):
            raise WorkbenchError("training needs the label column: pass -p label=COLUMN "
                                 "(zero-shot may pass -p label_descriptions=... instead)")
        if params.label is not None:
            check_classes(labels_of(data, params.label), params.label)
        resolve_backbone(params.backbone)

    def run(self, data: pl.DataFrame, params: FewShotParams, ctx: RunContext) -> Result:
        from workbench.sdk import text_values

        texts = text_values(data, params.text)
        if ctx.model is not None:
            return self._apply(data, texts, params, ctx)
        return self._train(data, texts, params, ctx)

    def _apply(self, data, texts, params: FewShotParams, ctx: RunContext) -> Result:
        import polars as pl

        from workbench_fewshot.backbone import embedding_cache
        from workbench_fewshot.store import load_classifier

        classifier = load_classifier(ctx.model.path, ctx.model.sha256, ctx.device,
                                     lambda key: embedding_cache(ctx, key, params.cache))
        predicted, probability, seconds = _predict(classifier, texts, ctx)
        table = data.with_columns(pl.Series("predicted_label", predicted), pl.Series("probability", probability))
        metrics = {"method": classifier.method, "rows": len(texts), **_speed(classifier, len(texts), seconds)}
        result = Result(tables={"predictions": table}, metrics=metrics)
        labelled = params.label is not None and params.label in data.columns
        if labelled:
            from workbench_fewshot.data import labels_of

            _add_evaluation(result, labels_of(data, params.label), predicted, classifier)
        result.summary = _summary(classifier, result.metrics, f"Applied model {ctx.model.ref} to {len(texts):,} texts",
                                  "labelled texts given" if labelled else "")
        return result

    def _train(self, data, texts, params: FewShotParams, ctx: RunContext) -> Result:
        import numpy as np
        import polars as pl

        from workbench_fewshot.data import check_classes, labels_of, sample_per_class

        gold = labels_of(data, params.label) if params.label else None
        classes = check_classes(gold, params.label) if gold else sorted(params.label_descriptions)
        short: dict[str, int] = {}
        if params.method == "zeroshot":
            train_rows = np.array([], dtype=int)
        elif params.shots:
            train_rows, short = sample_per_class(gold, params.shots, ctx.seed)
        else:
            train_rows = np.arange(len(texts))
        started = time.perf_counter()
        classifier, body = self._fit(texts, gold, classes, train_rows, params, ctx)
        train_seconds = time.perf_counter() - started
        folder = ctx.new_model_dir("fewshot")
        from workbench_fewshot.store import save_classifier

        save_classifier(classifier, body, params.backbone, _settings(params, ctx.seed), folder)
        result = Result(metrics={"method": params.method, "classes": len(classes), "train_examples": len(train_rows),
                                 "train_seconds": round(train_seconds, 2)})
        if short:
            result.metrics["classes_short_of_shots"] = short
        held_out = _held_out(len(texts), train_rows, params.eval_rows, ctx.seed) if gold else []
        if len(held_out):
            eval_texts = [texts[i] for i in held_out]
            predicted, probability, seconds = _predict(classifier, eval_texts, ctx)
            result.metrics.update(_speed(classifier, len(eval_texts), seconds))
            eval_gold = [gold[i] for i in held_out]
            result.tables["predictions"] = pl.DataFrame({
                "row": held_out, params.text: eval_texts, params.label: eval_gold,
                "predicted_label": predicted, "probability": probability})
            _add_evaluation(result, eval_gold, predicted, classifier)
        result.models.append(ModelArtifact(folder, metrics={
            k: v for k, v in result.metrics.items() if k in ("accuracy", "macro_f1", "train_examples", "classes")}))
        action = f"Trained on {len(train_rows):,} examples" if len(train_rows) else "Built a zero-shot classifier"
        evaluated = "labelled texts not trained on" if len(held_out) else ""
        result.summary = _summary(classifier, result.metrics, action, evaluated, short=short,
                                  shots=params.shots)
        return result

    def _fit(self, texts, gold, classes, train_rows, params: FewShotParams, ctx: RunContext):
        """The classifier, and the fine-tuned body to save (SetFit only)."""
        import numpy as np

        from workbench_fewshot.backbone import (
            Embedder,
            embedding_cache,
            load_sentence_model,
            model_key,
            resolve_backbone,
        )
        from workbench_fewshot.methods import FewShotClassifier, fit_logistic_head, train_setfit

        reference = resolve_backbone(params.backbone)
        train_texts = [texts[i] for i in train_rows]
        label_ids = np.array([classes.index(gold[i]) for i in train_rows], dtype=int)
        if params.method == "setfit":
            model = train_setfit(reference, train_texts, label_ids, _settings(params, ctx.seed), ctx.scratch_dir,
                                 ctx.progress, ctx.device)
            embedder = Embedder(model.model_body, None, params.batch_size)
            return FewShotClassifier("setfit", classes, embedder, model.model_head), model.model_body
        body = load_sentence_model(reference, params.max_length, ctx.device)
        cache = embedding_cache(ctx, model_key(reference, params.max_length), params.cache)
        embedder = Embedder(body, cache, params.batch_size)
        if params.method == "embeddings":
            vectors = embedder.encode(train_texts, ctx.progress, "Embedding training texts")
            head = fit_logistic_head(vectors, label_ids, ctx.seed)
            return FewShotClassifier("embeddings", classes, embedder, head), None
        descriptions = [(params.label_descriptions or {}).get(label, label) for label in classes]
        classifier = FewShotClassifier("zeroshot", classes, embedder, descriptions=descriptions)
        classifier.label_vectors = embedder.encode(descriptions, ctx.progress, "Embedding label descriptions")
        return classifier, None

    def report(self, run: RecordedRun) -> list[ReportSection]:
        """Per-label quality, weakest recall first, beside the confusion matrix."""
        from workbench.sdk import ReportSection

        per_label = run.tables.get("per_label")
        if per_label is None:
            return []
        per_label = per_label.sort("recall")
        weakest = per_label.row(0, named=True)
        text = (f"Accuracy {run.metrics['accuracy']:.1%} on {run.metrics['eval_rows']:,} labelled texts. The label "
                f"found least often is `{weakest['label']}`: recall {weakest['recall']:.1%}, precision "
                f"{weakest['precision']:.1%}.")
        return [ReportSection("Per-label quality", text, per_label)]


def _settings(params: FewShotParams, seed: int) -> dict:
    return {**params.model_dump(include={"epochs", "iterations", "batch_size", "max_length"}), "seed": seed}


def _held_out(rows: int, train_rows: np.ndarray, limit: int, seed: int) -> list[int]:
    """Up to `limit` rows not trained on, drawn at random with `seed`, in row order."""
    import numpy as np

    rest = np.setdiff1d(np.arange(rows), train_rows)
    if len(rest) > limit:
        rest = np.sort(np.random.default_rng(seed).choice(rest, size=limit, replace=False))
    return rest.tolist()


def _predict(classifier: FewShotClassifier, texts: list[str], ctx: RunContext):
    started = time.perf_counter()
    probabilities = classifier.predict_proba(texts, ctx.progress)
    best = probabilities.argmax(axis=1)
    predicted = [classifier.labels[i] for i in best]
    return predicted, probabilities.max(axis=1).astype(float), time.perf_counter() - started


def _speed(classifier: FewShotClassifier, rows: int, seconds: float) -> dict:
    """Prediction speed, with how many texts were encoded and how many came from the cache."""
    embedder = classifier.embedder
    return {"predict_seconds": round(seconds, 3), "sentences_per_second": round(rows / max(seconds, 1e-9), 1),
            "embeddings_encoded": embedder.encoded, "embeddings_cached": embedder.cached}


def _add_evaluation(result: Result, gold: list[str], predicted: list[str], classifier: FewShotClassifier) -> None:
    from workbench_fewshot.report import confusion_chart, evaluate

    metrics, per_label, confusion = evaluate(gold, predicted, classifier.labels)
    result.metrics.update(metrics)
    result.tables.update({"per_label": per_label, "confusion": confusion})
    title = f"{METHOD_TITLES[classifier.method]}: accuracy {metrics['accuracy']:.1%} on {len(gold):,} texts"
    result.charts["confusion"] = confusion_chart(confusion, title)


def _summary(classifier: FewShotClassifier, metrics: dict, action: str, evaluated: str,
             short: dict[str, int] | None = None, shots: int | None = None) -> str:
    text = f"{action} with **{METHOD_TITLES[classifier.method]}** ({len(classifier.labels)} classes: " \
           f"{', '.join(classifier.labels[:10])})."
    if short:
        listed = ", ".join(f"{label!r} has {count}" for label, count in short.items())
        text += f"\n\nFewer than {shots} examples for some classes, so all of theirs were used: {listed}."
    if evaluated:
        text += (f"\n\nOn {metrics['eval_rows']:,} {evaluated}: accuracy "
                 f"**{metrics['accuracy']:.1%}**, macro F1 {metrics['macro_f1']:.3f}.")
    return text
